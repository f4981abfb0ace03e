package compare

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
)

func oipBody(probs, scores string) string {
	return `{"model_name":"fraud","model_version":"v1","id":"r1","outputs":[` +
		`{"name":"probability","datatype":"FP64","shape":[2,1],"data":` + probs + `},` +
		`{"name":"scores","datatype":"FP64","shape":[2,2],"data":` + scores + `}]}`
}

func TestCompare(t *testing.T) {
	ignore := []string{"id", "model_version", "model_name"}
	tests := []struct {
		desc         string
		primary      string
		shadow       string
		opts         Options
		wantMatch    bool
		wantFormat   Format
		wantMaxDiff  float64
		wantTop1Rows int
		wantTop1     int // Top1AgreeRows
		wantPaths    []string
	}{
		{
			desc:    "oip identical but for ignored fields",
			primary: oipBody(`[0.7,0.2]`, `[0.3,0.7,0.8,0.2]`),
			shadow: `{"model_name":"fraud","model_version":"v2","id":"r2","outputs":[` +
				`{"name":"scores","datatype":"FP64","shape":[2,2],"data":[0.3,0.7,0.8,0.2]},` +
				`{"name":"probability","datatype":"FP64","shape":[2,1],"data":[0.7,0.2]}]}`,
			opts:      Options{IgnoreFields: ignore},
			wantMatch: true, wantFormat: FormatOIP, wantTop1Rows: 2, wantTop1: 2,
		},
		{
			desc:      "oip drift inside absolute tolerance",
			primary:   oipBody(`[0.7,0.2]`, `[0.3,0.7,0.8,0.2]`),
			shadow:    oipBody(`[0.7005,0.2]`, `[0.2995,0.7005,0.8,0.2]`),
			opts:      Options{Tolerance: 0.001},
			wantMatch: true, wantFormat: FormatOIP, wantMaxDiff: 0.0005, wantTop1Rows: 2, wantTop1: 2,
		},
		{
			desc:      "oip drift outside absolute tolerance",
			primary:   oipBody(`[0.7,0.2]`, `[0.3,0.7,0.8,0.2]`),
			shadow:    oipBody(`[0.71,0.2]`, `[0.29,0.71,0.8,0.2]`),
			opts:      Options{Tolerance: 0.001},
			wantMatch: false, wantFormat: FormatOIP, wantMaxDiff: 0.01, wantTop1Rows: 2, wantTop1: 2,
			wantPaths: []string{`outputs["probability"].data[0]`, `outputs["scores"].data[0]`, `outputs["scores"].data[1]`},
		},
		{
			desc:      "relative tolerance accepts what absolute does not",
			primary:   oipBody(`[100,200]`, `[0.3,0.7,0.8,0.2]`),
			shadow:    oipBody(`[100.5,200]`, `[0.3,0.7,0.8,0.2]`),
			opts:      Options{Tolerance: 0.001, RelativeTolerance: 0.01},
			wantMatch: true, wantFormat: FormatOIP, wantMaxDiff: 0.5, wantTop1Rows: 2, wantTop1: 2,
		},
		{
			desc:      "top-1 flip inside tolerance is still a mismatch",
			primary:   oipBody(`[0.5001,0.2]`, `[0.4999,0.5001,0.8,0.2]`),
			shadow:    oipBody(`[0.4999,0.2]`, `[0.5001,0.4999,0.8,0.2]`),
			opts:      Options{Tolerance: 0.001},
			wantMatch: false, wantFormat: FormatOIP, wantMaxDiff: 0.0002, wantTop1Rows: 2, wantTop1: 1,
			wantPaths: []string{`outputs["scores"].data.argmax[0]`},
		},
		{
			desc:    "shape change",
			primary: oipBody(`[0.7,0.2]`, `[0.3,0.7,0.8,0.2]`),
			shadow: `{"outputs":[{"name":"probability","datatype":"FP64","shape":[2,1],"data":[0.7,0.2]},` +
				`{"name":"scores","datatype":"FP64","shape":[4],"data":[0.3,0.7,0.8,0.2]}]}`,
			opts:      Options{IgnoreFields: ignore},
			wantMatch: false, wantFormat: FormatOIP, wantMaxDiff: 0,
			wantPaths: []string{`outputs["scores"].shape`},
		},
		{
			desc:    "datatype change and missing output",
			primary: oipBody(`[0.7,0.2]`, `[0.3,0.7,0.8,0.2]`),
			shadow:  `{"outputs":[{"name":"scores","datatype":"FP32","shape":[2,2],"data":[0.3,0.7,0.8,0.2]}]}`,
			opts:    Options{IgnoreFields: ignore},
			// FP32 is still class scores: the argmax is compared.
			wantFormat: FormatOIP, wantTop1Rows: 2, wantTop1: 2,
			wantPaths: []string{`outputs["probability"]`, `outputs["scores"].datatype`},
		},
		{
			desc:    "shape numbers have no tolerance",
			primary: `{"outputs":[{"name":"o","datatype":"INT64","shape":[3],"data":[1,2,3]}]}`,
			shadow:  `{"outputs":[{"name":"o","datatype":"INT64","shape":[3.0000001],"data":[1,2,3]}]}`,
			opts:    Options{Tolerance: 1},
			// INT64 data are labels: three top-1 rows, all agreeing.
			wantFormat: FormatOIP, wantMaxDiff: 1e-7, wantTop1Rows: 3, wantTop1: 3,
			wantPaths: []string{`outputs["o"].shape[0]`},
		},
		{
			desc:      "oip INT64 labels agree (KServe sklearn answer)",
			primary:   sklearnBody("r1", `[1,2,0]`),
			shadow:    sklearnBody("r2", `[1,2,0]`),
			opts:      Options{Tolerance: 0.001, IgnoreFields: ignore},
			wantMatch: true, wantFormat: FormatOIP, wantTop1Rows: 3, wantTop1: 3,
		},
		{
			desc:       "oip INT64 label flipped: a top-1 difference, not a numeric distance",
			primary:    sklearnBody("r1", `[1,2,0]`),
			shadow:     sklearnBody("r2", `[1,0,0]`),
			opts:       Options{Tolerance: 0.001, IgnoreFields: ignore},
			wantFormat: FormatOIP, wantMaxDiff: 0, wantTop1Rows: 3, wantTop1: 2,
			wantPaths: []string{`outputs["output-0"].data[1]`},
		},
		{
			desc:       "oip label within tolerance numerically is still a flip",
			primary:    sklearnBody("r1", `[1,2,0]`),
			shadow:     sklearnBody("r2", `[2,2,0]`),
			opts:       Options{Tolerance: 5, RelativeTolerance: 1, IgnoreFields: ignore},
			wantFormat: FormatOIP, wantTop1Rows: 3, wantTop1: 2,
			wantPaths: []string{`outputs["output-0"].data[0]`},
		},
		{
			desc:       "oip BYTES labels, one flipped",
			primary:    `{"outputs":[{"name":"species","datatype":"BYTES","shape":[2],"data":["setosa","virginica"]}]}`,
			shadow:     `{"outputs":[{"name":"species","datatype":"BYTES","shape":[2],"data":["setosa","versicolor"]}]}`,
			wantFormat: FormatOIP, wantTop1Rows: 2, wantTop1: 1,
			wantPaths: []string{`outputs["species"].data[1]`},
		},
		{
			desc:       "oip BOOL labels, nested data: every element is a row",
			primary:    `{"outputs":[{"name":"fraud","datatype":"BOOL","shape":[2,2],"data":[[true,false],[false,false]]}]}`,
			shadow:     `{"outputs":[{"name":"fraud","datatype":"BOOL","shape":[2,2],"data":[[true,false],[true,false]]}]}`,
			wantFormat: FormatOIP, wantTop1Rows: 4, wantTop1: 3,
			wantPaths: []string{`outputs["fraud"].data[1][0]`},
		},
		{
			desc: "oip mixed: float scores and INT64 labels in one answer",
			// Row 1's scores flip (argmax 0 -> 1) and so does its label.
			primary:    mixedBody(`[0.1,0.7,0.2,0.6,0.3,0.1]`, `[1,0]`),
			shadow:     mixedBody(`[0.1,0.7,0.2,0.3,0.6,0.1]`, `[1,1]`),
			opts:       Options{Tolerance: 0.001},
			wantFormat: FormatOIP, wantMaxDiff: 0.3, wantTop1Rows: 4, wantTop1: 2,
			wantPaths: []string{`outputs["scores"].data[3]`, `outputs["scores"].data[4]`,
				`outputs["scores"].data.argmax[1]`, `outputs["label"].data[1]`},
		},
		{
			desc:       "oip INT64 labels beyond float64 precision are compared exactly",
			primary:    `{"outputs":[{"name":"item","datatype":"INT64","shape":[3],"data":[9007199254740993,0,1]}]}`,
			shadow:     `{"outputs":[{"name":"item","datatype":"INT64","shape":[3],"data":[9007199254740992,-0,1.0]}]}`,
			opts:       Options{Tolerance: 10},
			wantFormat: FormatOIP, wantTop1Rows: 3, wantTop1: 2,
			wantPaths: []string{`outputs["item"].data[0]`},
		},
		{
			desc:       "oip INT32 and INT64 labels: datatype differs, labels still compared",
			primary:    `{"outputs":[{"name":"l","datatype":"INT32","shape":[2],"data":[1,2]}]}`,
			shadow:     `{"outputs":[{"name":"l","datatype":"INT64","shape":[2],"data":[1,2]}]}`,
			wantFormat: FormatOIP, wantTop1Rows: 2, wantTop1: 2,
			wantPaths: []string{`outputs["l"].datatype`},
		},
		{
			desc:       "oip label data that do not line up: exact, no rows, no max abs diff",
			primary:    `{"outputs":[{"name":"l","datatype":"INT64","shape":[3],"data":[1,null,5]},{"name":"m","datatype":"INT8","shape":[2],"data":[1,2]}]}`,
			shadow:     `{"outputs":[{"name":"l","datatype":"INT64","shape":[3],"data":[2,null,5]},{"name":"m","datatype":"INT8","shape":[2],"data":[1]}]}`,
			opts:       Options{Tolerance: 10},
			wantFormat: FormatOIP,
			wantPaths:  []string{`outputs["l"].data[0]`, `outputs["m"].data`},
		},
		{
			desc:        "oip INT64 against FP32: not labels, data with the tolerances",
			primary:     `{"outputs":[{"name":"y","datatype":"INT64","shape":[2],"data":[1,2]}]}`,
			shadow:      `{"outputs":[{"name":"y","datatype":"FP32","shape":[2],"data":[1.0005,2]}]}`,
			opts:        Options{Tolerance: 0.001},
			wantFormat:  FormatOIP,
			wantMaxDiff: 0.0005,
			wantPaths:   []string{`outputs["y"].datatype`},
		},
		{
			desc:       "oip label data ignored: not compared, no rows",
			primary:    sklearnBody("r1", `[1,2,0]`),
			shadow:     sklearnBody("r1", `[0,0,0]`),
			opts:       Options{IgnoreFields: []string{"data"}},
			wantMatch:  true,
			wantFormat: FormatOIP,
		},
		{
			desc:       "v1 integer labels, one flipped, within tolerance numerically",
			primary:    `{"predictions":[1,2,0]}`,
			shadow:     `{"predictions":[1,1,0]}`,
			opts:       Options{Tolerance: 1},
			wantFormat: FormatV1, wantTop1Rows: 3, wantTop1: 2,
			wantPaths: []string{`predictions[1]`},
		},
		{
			desc:      "v1 string labels agree",
			primary:   `{"predictions":["setosa","versicolor","virginica"]}`,
			shadow:    `{"predictions":["setosa","versicolor","virginica"]}`,
			wantMatch: true, wantFormat: FormatV1, wantTop1Rows: 3, wantTop1: 3,
		},
		{
			desc:       "v1 string label flipped",
			primary:    `{"predictions":["setosa","versicolor","virginica"]}`,
			shadow:     `{"predictions":["setosa","versicolor","versicolor"]}`,
			wantFormat: FormatV1, wantTop1Rows: 3, wantTop1: 2,
			wantPaths: []string{`predictions[2]`},
		},
		{
			desc:       "v1 labels of different lengths: no rows",
			primary:    `{"predictions":[1,2]}`,
			shadow:     `{"predictions":[1,2,0]}`,
			wantFormat: FormatV1,
			wantPaths:  []string{`predictions`},
		},
		{
			desc:        "v1 integers against fractions: not labels",
			primary:     `{"predictions":[1,2]}`,
			shadow:      `{"predictions":[1.0004,2]}`,
			opts:        Options{Tolerance: 0.001},
			wantMatch:   true,
			wantFormat:  FormatV1,
			wantMaxDiff: 0.0004,
		},
		{
			desc:       "v1 integers and strings mixed in one answer: not labels",
			primary:    `{"predictions":[1,"a"]}`,
			shadow:     `{"predictions":[2,"a"]}`,
			opts:       Options{Tolerance: 1},
			wantMatch:  true,
			wantFormat: FormatV1, wantMaxDiff: 1,
		},
		{
			desc:      "v1 predictions within tolerance, top-1 per row",
			primary:   `{"predictions":[[0.3,0.7],[0.9,0.1]]}`,
			shadow:    `{"predictions":[[0.3004,0.6996],[0.9,0.1]]}`,
			opts:      Options{Tolerance: 0.001},
			wantMatch: true, wantFormat: FormatV1, wantMaxDiff: 0.0004, wantTop1Rows: 2, wantTop1: 2,
		},
		{
			desc:       "v1 top-1 flip",
			primary:    `{"predictions":[[0.3,0.7],[0.9,0.1]]}`,
			shadow:     `{"predictions":[[0.3,0.7],[0.4,0.6]]}`,
			opts:       Options{Tolerance: 0.001},
			wantFormat: FormatV1, wantMaxDiff: 0.5, wantTop1Rows: 2, wantTop1: 1,
			wantPaths: []string{`predictions[1][0]`, `predictions[1][1]`, `predictions[1].argmax[0]`},
		},
		{
			desc:       "v1 regression values, no top-1",
			primary:    `{"predictions":[1.5,2.5]}`,
			shadow:     `{"predictions":[1.5,2.5,3.5]}`,
			wantFormat: FormatV1,
			wantPaths:  []string{`predictions`},
		},
		{
			desc:      "generic json with ignored field at depth",
			primary:   `{"result":{"label":"fraud","score":0.91,"id":"a"},"took_ms":3}`,
			shadow:    `{"result":{"label":"fraud","score":0.9105,"id":"b"},"took_ms":3}`,
			opts:      Options{Tolerance: 0.001, IgnoreFields: []string{"id"}},
			wantMatch: true, wantFormat: FormatJSON, wantMaxDiff: 0.0005,
		},
		{
			desc:       "generic json type and key changes",
			primary:    `{"a":1,"b":"x","c":[1,2]}`,
			shadow:     `{"a":"1","c":{"k":1},"d":null}`,
			wantFormat: FormatJSON,
			wantPaths:  []string{`a`, `b`, `c`, `d`},
		},
		{
			desc:        "overflow on one side is infinitely far",
			primary:     `[1e400]`,
			shadow:      `[5]`,
			opts:        Options{RelativeTolerance: 1},
			wantFormat:  FormatJSON,
			wantMaxDiff: math.Inf(1),
			wantPaths:   []string{`[0]`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := Compare([]byte(tc.primary), []byte(tc.shadow), tc.opts)
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if tc.wantMatch != got.Match {
				t.Errorf("got match %v, want %v (diffs %+v)", got.Match, tc.wantMatch, got.Diffs)
			}
			if want := tc.wantFormat; want != "" && got.Format != want {
				t.Errorf("got format %s, want %s", got.Format, want)
			}
			if d := got.MaxAbsDiff - tc.wantMaxDiff; !(math.Abs(d) < 1e-12 || got.MaxAbsDiff == tc.wantMaxDiff) {
				t.Errorf("got max abs diff %g, want %g", got.MaxAbsDiff, tc.wantMaxDiff)
			}
			if got.Top1Rows != tc.wantTop1Rows {
				t.Errorf("got %d top-1 rows, want %d", got.Top1Rows, tc.wantTop1Rows)
			}
			if got.Top1AgreeRows != tc.wantTop1 {
				t.Errorf("got %d top-1 rows agreeing, want %d", got.Top1AgreeRows, tc.wantTop1)
			}
			var paths []string
			for _, d := range got.Diffs {
				paths = append(paths, d.Path)
			}
			if !slices.Equal(paths, tc.wantPaths) {
				t.Errorf("got diff paths %q, want %q", paths, tc.wantPaths)
			}
			if got.DiffCount != len(got.Diffs) {
				t.Errorf("got DiffCount %d with %d diffs kept, want equal (under MaxDiffs)", got.DiffCount, len(got.Diffs))
			}
		})
	}
}

func TestDiffValues(t *testing.T) {
	long := `"` + string(make([]byte, 0)) + "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz" + `"`
	got, err := Compare([]byte(`{"x":0.5,"s":`+long+`,"arr":[1,2,3]}`), []byte(`{"x":0.75,"s":"short","arr":[1]}`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Diff{
		{Path: "arr", Primary: "array(len=3)", Shadow: "array(len=1)"},
		{Path: "s", Primary: long[:maxValueLen] + "…", Shadow: `"short"`},
		{Path: "x", Primary: "0.5", Shadow: "0.75"},
	}
	if !slices.Equal(got.Diffs, want) {
		t.Errorf("got diffs %+v, want %+v", got.Diffs, want)
	}
}

// TestLabelDiffValues pins what a label flip records: the element's path
// and both labels as they are written.
func TestLabelDiffValues(t *testing.T) {
	tests := []struct {
		desc            string
		primary, shadow string
		want            Diff
	}{
		{"oip INT64", sklearnBody("a", `[1,2,0]`), sklearnBody("a", `[1,0,0]`), Diff{`outputs["output-0"].data[1]`, "2", "0"}},
		{"oip BYTES", `{"outputs":[{"name":"s","datatype":"BYTES","shape":[1],"data":["setosa"]}]}`,
			`{"outputs":[{"name":"s","datatype":"BYTES","shape":[1],"data":["virginica"]}]}`, Diff{`outputs["s"].data[0]`, `"setosa"`, `"virginica"`}},
		{"v1 string", `{"predictions":["a","b"]}`, `{"predictions":["a","c"]}`, Diff{`predictions[1]`, `"b"`, `"c"`}},
		{"v1 integer against string", `{"predictions":[1]}`, `{"predictions":["1"]}`, Diff{`predictions[0]`, "1", `"1"`}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := Compare([]byte(tc.primary), []byte(tc.shadow), Options{Tolerance: 100})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Diffs, []Diff{tc.want}) || got.MaxAbsDiff != 0 || got.Top1Agree() || got.Top1Rows == 0 {
				t.Errorf("got %+v, want the one diff %+v, max abs diff 0 and a top-1 flip", got, tc.want)
			}
		})
	}
}

func TestMaxDiffs(t *testing.T) {
	got, err := Compare([]byte(`[1,2,3,4,5]`), []byte(`[2,3,4,5,6]`), Options{MaxDiffs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Diffs) != 2 || got.DiffCount != 5 || got.Match {
		t.Errorf("got %d diffs kept, %d counted, match %v; want 2, 5, false", len(got.Diffs), got.DiffCount, got.Match)
	}
}

func TestInvalidJSON(t *testing.T) {
	tests := []struct {
		desc            string
		primary, shadow string
		want            error
	}{
		{"primary empty", ``, `{}`, ErrPrimaryInvalid},
		{"primary truncated", `{"a":`, `{}`, ErrPrimaryInvalid},
		{"shadow html", `{}`, `<html>`, ErrShadowInvalid},
		{"shadow trailing data", `{}`, `{} {}`, ErrShadowInvalid},
		{"both bad: primary first", `x`, `y`, ErrPrimaryInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			if _, err := Compare([]byte(tc.primary), []byte(tc.shadow), Options{}); !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// FuzzCompare checks, on arbitrary bytes, that Compare never panics, that a
// valid document always matches itself exactly, that the match verdict is
// symmetric, and that the diff bounds hold. Seeds are in
// testdata/fuzz/FuzzCompare; run `go test -fuzz FuzzCompare ./internal/compare`.
func FuzzCompare(f *testing.F) {
	f.Add([]byte(oipBody(`[0.7,0.2]`, `[0.3,0.7,0.8,0.2]`)), []byte(oipBody(`[0.71,0.2]`, `[0.29,0.71,0.8,0.2]`)), 0.001, 0.0)
	f.Add([]byte(`{"predictions":[[0.3,0.7]]}`), []byte(`{"predictions":[[0.7,0.3]]}`), 0.0, 0.01)
	f.Add([]byte(`{"a":[1,{"b":null}]}`), []byte(`{"a":[1,{"b":true}],"id":1}`), 0.5, 0.5)
	f.Add([]byte(sklearnBody("a", `[1,2,0]`)), []byte(sklearnBody("b", `[1,0,0]`)), 1.0, 0.0)
	f.Add([]byte(`{"predictions":["x","y"]}`), []byte(`{"predictions":["x",1]}`), 0.0, 0.0)
	f.Fuzz(func(t *testing.T, a, b []byte, tol, rel float64) {
		o := Options{Tolerance: math.Abs(tol), RelativeTolerance: math.Abs(rel), IgnoreFields: []string{"id"}, MaxDiffs: 4}
		ab, errAB := Compare(a, b, o)
		ba, errBA := Compare(b, a, o)
		if errAB == nil && (len(ab.Diffs) > o.MaxDiffs || ab.DiffCount < len(ab.Diffs) || ab.Match != (ab.DiffCount == 0)) {
			t.Fatalf("bounds broken: %d diffs kept, %d counted, match %v", len(ab.Diffs), ab.DiffCount, ab.Match)
		}
		if errAB == nil && errBA == nil && ab.Match != ba.Match {
			t.Fatalf("not symmetric: Compare(a,b).Match=%v, Compare(b,a).Match=%v", ab.Match, ba.Match)
		}
		if _, err := parse(a); err == nil {
			aa, err := Compare(a, a, o)
			if err != nil || !aa.Match || aa.MaxAbsDiff != 0 || !aa.Top1Agree() {
				t.Fatalf("a document must match itself: err %v, result %+v", err, aa)
			}
		}
	})
}

// TestNestingLimit pins the one documented difference from encoding/json:
// fastjson refuses answers nested deeper than 300 levels.
func TestNestingLimit(t *testing.T) {
	for _, tc := range []struct {
		depth   int
		wantErr error
	}{{300, nil}, {301, ErrPrimaryInvalid}} {
		body := []byte(strings.Repeat("[", tc.depth) + strings.Repeat("]", tc.depth))
		if _, err := Compare(body, body, Options{}); !errors.Is(err, tc.wantErr) {
			t.Errorf("depth %d: got error %v, want %v", tc.depth, err, tc.wantErr)
		}
	}
}
