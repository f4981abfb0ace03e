package compare

import (
	"testing"
)

// sklearnBody is KServe's sklearn server's default OIP v2 answer: one INT64
// class label per input row.
func sklearnBody(id, labels string) string {
	return `{"model_name":"iris","model_version":null,"id":"` + id + `","parameters":null,` +
		`"outputs":[{"name":"output-0","shape":[3],"datatype":"INT64","parameters":null,"data":` + labels + `}]}`
}

// mixedBody is an OIP v2 answer with class scores and the labels they pick.
func mixedBody(scores, labels string) string {
	return `{"outputs":[{"name":"scores","datatype":"FP32","shape":[2,3],"data":` + scores + `},` +
		`{"name":"label","datatype":"INT64","shape":[2],"data":` + labels + `}]}`
}

// benchBodies are answers shaped like the demo model's (an OIP v2 answer
// with a probability and a class-score output, and a V1 answer) and like
// class-label answers (KServe's sklearn server, V1 string labels).
var benchBodies = []struct {
	name            string
	primary, shadow string
	opts            Options
}{
	{
		name:    "oip_match",
		primary: oipBody(`[0.7,0.2]`, `[0.3,0.7,0.8,0.2]`),
		shadow:  oipBody(`[0.7,0.2]`, `[0.3,0.7,0.8,0.2]`),
		opts:    Options{Tolerance: 1e-6, IgnoreFields: []string{"id", "model_version"}},
	},
	{
		name:    "oip_drift_mismatch",
		primary: oipBody(`[0.7,0.2]`, `[0.3,0.7,0.8,0.2]`),
		shadow:  oipBody(`[0.7012,0.2]`, `[0.2988,0.7012,0.8,0.2]`),
		opts:    Options{Tolerance: 1e-6, IgnoreFields: []string{"id", "model_version"}},
	},
	{
		name:    "v1_match",
		primary: `{"predictions":[[0.3,0.7],[0.9,0.1],[0.25,0.75]]}`,
		shadow:  `{"predictions":[[0.3000001,0.6999999],[0.9,0.1],[0.25,0.75]]}`,
		opts:    Options{Tolerance: 1e-6},
	},
	{
		name:    "oip_labels_match",
		primary: sklearnBody("r1", `[1,2,0]`),
		shadow:  sklearnBody("r2", `[1,2,0]`),
		opts:    Options{Tolerance: 1e-6, IgnoreFields: []string{"id"}},
	},
	{
		name:    "oip_labels_flip",
		primary: sklearnBody("r1", `[1,2,0]`),
		shadow:  sklearnBody("r2", `[1,1,0]`),
		opts:    Options{Tolerance: 1e-6, IgnoreFields: []string{"id"}},
	},
	{
		name:    "oip_mixed_match",
		primary: mixedBody(`[0.1,0.7,0.2,0.6,0.3,0.1]`, `[1,0]`),
		shadow:  mixedBody(`[0.1000001,0.7,0.2,0.6,0.3,0.1]`, `[1,0]`),
		opts:    Options{Tolerance: 1e-6},
	},
	{
		name:    "v1_labels_match",
		primary: `{"predictions":["setosa","versicolor","virginica"]}`,
		shadow:  `{"predictions":["setosa","versicolor","virginica"]}`,
		opts:    Options{Tolerance: 1e-6},
	},
}

// BenchmarkCompare measures one comparison of two answers, with -benchmem
// the allocations per comparison.
func BenchmarkCompare(b *testing.B) {
	for _, bb := range benchBodies {
		p, s := []byte(bb.primary), []byte(bb.shadow)
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Compare(p, s, bb.opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
