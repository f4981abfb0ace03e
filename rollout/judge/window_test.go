package judge

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestFromCumulative(t *testing.T) {
	inf := math.Inf(1)
	b := []float64{0.1, 0.5, 1, inf}
	tests := []struct {
		desc       string
		bounds     []float64
		end, start []uint64
		want       []uint64
		err        string
	}{
		{desc: "from zero", bounds: b, end: []uint64{3, 5, 9, 10}, want: []uint64{3, 2, 4, 1}},
		{desc: "window delta", bounds: b, end: []uint64{13, 25, 39, 50}, start: []uint64{10, 20, 30, 40}, want: []uint64{3, 2, 4, 1}},
		{desc: "empty window", bounds: b, end: []uint64{7, 7, 7, 7}, start: []uint64{7, 7, 7, 7}, want: []uint64{0, 0, 0, 0}},
		{desc: "counter reset", bounds: b, end: []uint64{1, 2, 3, 4}, start: []uint64{10, 20, 30, 40}, err: "counter reset"},
		{desc: "not cumulative", bounds: b, end: []uint64{3, 2, 9, 10}, err: "cumulative counts decrease"},
		{desc: "inconsistent snapshots", bounds: b, end: []uint64{10, 10, 10, 10}, start: []uint64{0, 5, 5, 5}, err: "window counts decrease"},
		{desc: "lengths", bounds: b, end: []uint64{1, 2, 3}, err: "4 bounds but 3 end"},
		{desc: "start length", bounds: b, end: []uint64{1, 2, 3, 4}, start: []uint64{1}, err: "1 start"},
		{desc: "bad bounds", bounds: []float64{1, 0.5}, end: []uint64{1, 2}, err: "not ascending"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			h, err := FromCumulative(tt.bounds, tt.end, tt.start)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(h.Counts, tt.want) || !reflect.DeepEqual(h.UpperBounds, tt.bounds) {
				t.Fatalf("got %v, %v; want counts %v", h, err, tt.want)
			}
			if h.Validate() != nil {
				t.Errorf("Validate: %v", h.Validate())
			}
		})
	}
	// The bounds are copied, not aliased.
	h, _ := FromCumulative(b, []uint64{1, 1, 1, 1}, nil)
	h.UpperBounds[0] = 42
	if b[0] != 0.1 {
		t.Error("FromCumulative aliased its bounds")
	}
}

func TestInterpolated(t *testing.T) {
	inf := math.Inf(1)
	tests := []struct {
		desc string
		h    Histogram
		q    float64
		want float64
	}{
		{"linear in the bucket", hist([]float64{1, 2, inf}, 50, 50, 0), 0.75, 1.5},
		{"first bucket from 0", hist([]float64{1, 2, inf}, 100, 0, 0), 0.5, 0.5},
		{"+Inf bucket gives the last finite bound", hist([]float64{1, 2, inf}, 10, 10, 80), 0.99, 2},
		{"skips empty buckets", hist([]float64{1, 2, 3, inf}, 50, 0, 50, 0), 0.5, 1},
		{"empty", hist([]float64{1, inf}, 0, 0), 0.5, math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got := tt.h.interpolated(tt.q)
			if !(got == tt.want || math.IsNaN(got) && math.IsNaN(tt.want)) {
				t.Errorf("interpolated(%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
}

func TestResultText(t *testing.T) {
	for _, r := range []Result{Pass, Fail, Inconclusive} {
		b, err := r.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back Result
		if err := back.UnmarshalText(b); err != nil || back != r || string(b) != r.String() {
			t.Errorf("%v → %q → %v, %v", r, b, back, err)
		}
	}
	if Result(0) != Inconclusive {
		t.Error("the zero Result is not Inconclusive")
	}
	if _, err := Result(9).MarshalText(); err == nil {
		t.Error("Result(9) marshalled")
	}
	if Result(9).String() != "Result(9)" {
		t.Errorf("String = %q", Result(9).String())
	}
	var r Result
	if err := r.UnmarshalText([]byte("passed")); err == nil {
		t.Error(`"passed" unmarshalled`)
	}
}

// TestVerdictJSON pins the field names explain and the state store will
// read, and checks that infinities and NaN survive a round trip.
func TestVerdictJSON(t *testing.T) {
	inf := math.Inf(1)
	b := []float64{0.1, 0.2, inf}
	v := P99Ratio(hist(b, 0, 0, 500), hist(b, 500, 0, 0), 1.5, 0.95)
	got, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"gate":"max_p99_ratio","result":"fail","inputs":{"method":"distribution-free quantile CI from histogram buckets",` +
		`"confidence":0.95,"threshold":1.5,"min_samples":100,"quantile":0.99,` +
		`"canary":{"n":500,"value":0.2,"lower":0.2,"upper":"+Inf","ranks":{"lower":490,"upper":500}},` +
		`"baseline":{"n":500,"value":0.099,"lower":0,"upper":0.1,"ranks":{"lower":490,"upper":500}},` +
		`"estimate":2.0202020202020203,"lower":2,"upper":"+Inf"},` +
		`"reason":"p99 ratio is at least 2 (95% bound; canary p99 in [0.2s, +Inf], baseline p99 in [0s, 0.1s]), above max 1.5"}`
	if string(got) != want {
		t.Errorf("JSON\n got %s\nwant %s", got, want)
	}
	var back Verdict
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(back)
	if !bytes.Equal(again, got) {
		t.Errorf("round trip\n got %s\nwant %s", again, got)
	}

	e := ErrorRateIncrease(Window{}, Window{}, 0.01, 0.95)
	got, _ = json.Marshal(e)
	for _, frag := range []string{`"events":0`, `"value":"NaN"`, `"estimate":"NaN"`, `"lower":-1`, `"z":1.64485362695147`} {
		if !bytes.Contains(got, []byte(frag)) {
			t.Errorf("%s lacks %s", got, frag)
		}
	}
	if err := json.Unmarshal(got, &back); err != nil || !math.IsNaN(float64(back.Inputs.Estimate)) {
		t.Errorf("NaN round trip: %v, %v", back.Inputs.Estimate, err)
	}
}

func TestFloatJSON(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want float64
	}{{`1.5`, 1.5}, {`"+Inf"`, math.Inf(1)}, {`"Inf"`, math.Inf(1)}, {`"-Inf"`, math.Inf(-1)}, {`1e-300`, 1e-300}} {
		var f Float
		if err := json.Unmarshal([]byte(tt.in), &f); err != nil || float64(f) != tt.want {
			t.Errorf("%s → %v, %v; want %v", tt.in, f, err, tt.want)
		}
	}
	for _, in := range []string{`null`, `"NaN"`} {
		var f Float
		if err := json.Unmarshal([]byte(in), &f); err != nil || !math.IsNaN(float64(f)) {
			t.Errorf("%s → %v, %v; want NaN", in, f, err)
		}
	}
	var f Float
	if err := json.Unmarshal([]byte(`"fast"`), &f); err == nil {
		t.Error(`"fast" decoded`)
	}
}
