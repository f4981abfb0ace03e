package compare

import (
	"testing"
)

// benchBodies are answers shaped like the demo model's: an OIP v2 answer
// with a probability and a class-score output, and a V1 answer.
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
