package judge

import (
	"math"
	"strings"
	"testing"
)

func TestErrorRateIncrease(t *testing.T) {
	w := func(req, errs uint64) Window { return Window{Requests: req, Errors: errs} }
	tests := []struct {
		desc             string
		canary, baseline Window
		max, confidence  float64
		want             Result
		reason           string // substring
	}{
		{"no traffic", w(0, 0), w(0, 0), 0.01, 0.95, Inconclusive, "at least 100 each"},
		{"20 requests, none failed", w(20, 0), w(20, 0), 0.01, 0.95, Inconclusive, "canary has 20 requests"},
		{"20 requests, all failed", w(20, 20), w(20, 0), 0.01, 0.95, Inconclusive, "at least 100"},
		{"baseline has none", w(5000, 0), w(0, 0), 0.01, 0.95, Inconclusive, "baseline 0"},
		{"both clean, 10k each", w(10000, 0), w(10000, 0), 0.01, 0.95, Pass, "at most"},
		{"equal 1%, 10k each", w(10000, 100), w(10000, 100), 0.01, 0.95, Pass, "upper bound"},
		{"canary +5 points", w(10000, 600), w(10000, 100), 0.01, 0.95, Fail, "lower bound"},
		{"canary +1 point on 500 requests", w(500, 10), w(10000, 100), 0.01, 0.95, Inconclusive, "straddles"},
		{"canary all errors, 100 each", w(100, 100), w(100, 0), 0.01, 0.95, Fail, "above max"},
		{"clean, max 0 never provable", w(100000, 0), w(100000, 0), 0, 0.95, Inconclusive, "straddles"},
		{"errors exceed requests", w(10, 11), w(100, 0), 0.01, 0.95, Inconclusive, "invalid input: canary errors 11"},
		{"baseline errors exceed requests", w(100, 0), w(1, 2), 0.01, 0.95, Inconclusive, "invalid input: baseline"},
		{"confidence 1", w(1000, 0), w(1000, 0), 0.01, 1, Inconclusive, "invalid input: confidence"},
		{"confidence 0.5", w(1000, 0), w(1000, 0), 0.01, 0.5, Inconclusive, "invalid input: confidence"},
		{"confidence NaN", w(1000, 0), w(1000, 0), 0.01, math.NaN(), Inconclusive, "invalid input: confidence"},
		{"max NaN", w(1000, 0), w(1000, 0), math.NaN(), 0.95, Inconclusive, "invalid input: max_error_rate_increase"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			v := ErrorRateIncrease(tt.canary, tt.baseline, tt.max, tt.confidence)
			if v.Result != tt.want || !strings.Contains(v.Reason, tt.reason) {
				t.Errorf("got %v %q, want %v containing %q", v.Result, v.Reason, tt.want, tt.reason)
			}
			if v.Gate != GateErrorRate || v.Inputs.Method != MethodNewcombe {
				t.Errorf("gate %q method %q", v.Gate, v.Inputs.Method)
			}
		})
	}
}

// TestErrorRateIncreaseInputs checks what a verdict records, against
// Newcombe's interval computed independently at z = Φ⁻¹(0.95).
func TestErrorRateIncreaseInputs(t *testing.T) {
	v := ErrorRateIncrease(Window{Requests: 4000, Errors: 60}, Window{Requests: 20000, Errors: 200}, 0.01, 0.95)
	in := v.Inputs
	const z = 1.6448536269514722
	d, lo, hi, wc, wb := newcombe(60, 4000, 200, 20000, z)
	checks := []struct {
		name      string
		got, want float64
	}{
		{"z", in.Z, z},
		{"confidence", in.Confidence, 0.95},
		{"threshold", in.Threshold, 0.01},
		{"canary value", float64(in.Canary.Value), 0.015},
		{"baseline value", float64(in.Baseline.Value), 0.01},
		{"estimate", float64(in.Estimate), d},
		{"lower", float64(in.Lower), lo},
		{"upper", float64(in.Upper), hi},
		{"canary lower", float64(in.Canary.Lower), wc[0]},
		{"canary upper", float64(in.Canary.Upper), wc[1]},
		{"baseline lower", float64(in.Baseline.Lower), wb[0]},
		{"baseline upper", float64(in.Baseline.Upper), wb[1]},
	}
	for _, c := range checks {
		if math.Abs(c.got-c.want) > 1e-15 {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if in.Canary.N != 4000 || *in.Canary.Events != 60 || in.Baseline.N != 20000 || *in.Baseline.Events != 200 {
		t.Errorf("samples %+v %+v", in.Canary, *in.Baseline)
	}
	if in.MinSamples != MinSamples || in.Canary.Ranks != nil {
		t.Errorf("min samples %d, ranks %v", in.MinSamples, in.Canary.Ranks)
	}
	// 1.5% vs 1% is 0.5 points up, and the upper bound is below 1 point.
	if v.Result != Pass || hi >= 0.01 || lo >= 0.005 {
		t.Errorf("got %v with bounds (%v, %v)", v.Result, lo, hi)
	}
}

func TestAgreementAtLeast(t *testing.T) {
	tests := []struct {
		desc             string
		agreed, compared uint64
		min, confidence  float64
		want             Result
		reason           string
	}{
		{"nothing compared", 0, 0, 0.99, 0.95, Inconclusive, "fewer than the 100"},
		{"50 of 50", 50, 50, 0.9, 0.95, Inconclusive, "50 compared answers"},
		{"1000 of 1000, min 0.99", 1000, 1000, 0.99, 0.95, Pass, "at least"},
		// n/(n+z²) ≥ min from n ≥ z²·min/(1−min): 267.8 for 0.99.
		{"268 of 268, min 0.99", 268, 268, 0.99, 0.95, Pass, "meeting min"},
		{"267 of 267, min 0.99", 267, 267, 0.99, 0.95, Inconclusive, "straddles"},
		{"539 of 539, min 0.995", 539, 539, 0.995, 0.95, Pass, "meeting min"},
		{"538 of 538, min 0.995", 538, 538, 0.995, 0.95, Inconclusive, "straddles"},
		{"950 of 1000, min 0.99", 950, 1000, 0.99, 0.95, Fail, "below min"},
		{"none agree", 0, 1000, 0.99, 0.95, Fail, "below min"},
		{"min 0 always met", 0, 1000, 0, 0.95, Pass, "meeting min"},
		{"agreed exceed compared", 11, 10, 0.99, 0.95, Inconclusive, "invalid input: agreed answers 11"},
		{"min above 1", 10, 10, 1.5, 0.95, Inconclusive, "invalid input: min_shadow_agreement 1.5"},
		{"confidence 0.4", 10, 10, 0.9, 0.4, Inconclusive, "invalid input: confidence"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			v := AgreementAtLeast(GateShadowAgreement, tt.agreed, tt.compared, tt.min, tt.confidence)
			if v.Result != tt.want || !strings.Contains(v.Reason, tt.reason) {
				t.Errorf("got %v %q, want %v containing %q", v.Result, v.Reason, tt.want, tt.reason)
			}
			if v.Inputs.Baseline != nil || v.Inputs.Method != MethodWilson {
				t.Errorf("baseline %v, method %q", v.Inputs.Baseline, v.Inputs.Method)
			}
		})
	}
	w := Window{ShadowCompared: 1000, ShadowMatched: 1000, Top1Compared: 1000, Top1Agreed: 900}
	if v := ShadowAgreement(w, 0.99, 0.95); v.Gate != GateShadowAgreement || v.Result != Pass {
		t.Errorf("ShadowAgreement: %s %v", v.Gate, v.Result)
	}
	if v := Top1Agreement(w, 0.995, 0.95); v.Gate != GateTop1Agreement || v.Result != Fail {
		t.Errorf("Top1Agreement: %s %v", v.Gate, v.Result)
	}
}

// hist builds a Histogram from bounds and per-bucket counts.
func hist(bounds []float64, counts ...uint64) Histogram {
	return Histogram{UpperBounds: bounds, Counts: counts}
}

func TestP99Ratio(t *testing.T) {
	inf := math.Inf(1)
	fine := []float64{0.1, 0.11, 0.12, 0.13, 0.14, 0.15, 0.2, 0.3, 0.4, inf}
	coarse := []float64{0.1, 0.25, 1, inf}
	tests := []struct {
		desc             string
		canary, baseline Histogram
		max              float64
		want             Result
		reason           string
	}{
		{"no traffic", hist(fine, make([]uint64, 10)...), hist(fine, make([]uint64, 10)...), 1.5, Inconclusive, "at least 100"},
		{"nil histograms", Histogram{}, Histogram{}, 1.5, Inconclusive, "at least 100"},
		// Both p99s lie in the first bucket, whose lower edge is 0: the
		// ratio is unbounded above, so it cannot pass.
		{"p99 in the first bucket", hist(fine, 9950, 50, 0, 0, 0, 0, 0, 0, 0, 0), hist(fine, 9950, 50, 0, 0, 0, 0, 0, 0, 0, 0), 1.5, Inconclusive, "straddles"},
		// 10,000 each; the p99's ranks fall in (0.12, 0.13] and (0.13,
		// 0.14]: the ratio is at most 0.14/0.12.
		{"equal, fine buckets", hist(fine, 9000, 300, 300, 300, 90, 10, 0, 0, 0, 0), hist(fine, 9000, 300, 300, 300, 90, 10, 0, 0, 0, 0), 1.5, Pass, "within max 1.5"},
		// Canary's p99 in (0.3, 0.4]: at least 0.3/0.14.
		{"canary 2× slower", hist(fine, 0, 0, 0, 0, 0, 0, 0, 9000, 1000, 0), hist(fine, 9000, 300, 300, 300, 90, 10, 0, 0, 0, 0), 1.5, Fail, "above max 1.5"},
		{"canary in +Inf bucket", hist(fine, 5000, 0, 0, 0, 0, 0, 0, 0, 0, 5000), hist(fine, 9000, 300, 300, 300, 90, 10, 0, 0, 0, 0), 1.5, Fail, "+Inf"},
		{"both in +Inf bucket", hist(fine, 5000, 0, 0, 0, 0, 0, 0, 0, 0, 5000), hist(fine, 5000, 0, 0, 0, 0, 0, 0, 0, 0, 5000), 1.5, Inconclusive, "straddles"},
		{"equal, coarse buckets", hist(coarse, 5000, 4950, 50, 0), hist(coarse, 5000, 4950, 50, 0), 1.5, Inconclusive, "buckets too coarse"},
		{"bounds and counts differ", hist(fine, 1, 2), hist(fine, make([]uint64, 10)...), 1.5, Inconclusive, "invalid input: canary histogram"},
		{"bounds not ascending", hist(fine, make([]uint64, 10)...), hist([]float64{0.2, 0.1, inf}, 1, 1, 1), 1.5, Inconclusive, "invalid input: baseline histogram"},
		{"+Inf not last", hist([]float64{0.1, inf, 1}, 1, 1, 1), hist(fine, make([]uint64, 10)...), 1.5, Inconclusive, "only the last"},
		{"negative bound", hist([]float64{-1, inf}, 1, 1), hist(fine, make([]uint64, 10)...), 1.5, Inconclusive, "not ≥ 0"},
		{"max 0", hist(fine, make([]uint64, 10)...), hist(fine, make([]uint64, 10)...), 0, Inconclusive, "invalid input: max_p99_ratio"},
		{"max +Inf", hist(fine, make([]uint64, 10)...), hist(fine, make([]uint64, 10)...), inf, Inconclusive, "invalid input: max_p99_ratio"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			v := P99Ratio(tt.canary, tt.baseline, tt.max, 0.95)
			if v.Result != tt.want || !strings.Contains(v.Reason, tt.reason) {
				t.Errorf("got %v %q, want %v containing %q", v.Result, v.Reason, tt.want, tt.reason)
			}
			if v.Gate != GateP99Ratio || v.Inputs.Method != MethodQuantile || v.Inputs.Quantile != 0.99 {
				t.Errorf("gate %q method %q quantile %v", v.Gate, v.Inputs.Method, v.Inputs.Quantile)
			}
		})
	}
}

// TestP99RatioInputs follows one verdict's bounds by hand: 10,000
// observations a side (ranks about 9880 and 9920), edges from the buckets.
func TestP99RatioInputs(t *testing.T) {
	inf := math.Inf(1)
	b := []float64{0.1, 0.11, 0.12, 0.13, 0.14, 0.15, 0.2, 0.3, 0.4, inf}
	canary := hist(b, 0, 0, 0, 0, 0, 0, 4000, 5900, 100, 0)      // cumulative 4000 at 0.2, 9900 at 0.3
	baseline := hist(b, 9000, 300, 300, 300, 90, 10, 0, 0, 0, 0) // 9600 at 0.12, 9900 at 0.13, 9990 at 0.14
	v := P99Ratio(canary, baseline, 1.5, 0.95)
	l, u := quantileRanks(10000, 0.99, 0.025)
	if l <= 9600 || l > 9900 || u <= 9900 || u > 9990 {
		t.Fatalf("ranks (%d, %d) are not where this test's buckets expect them", l, u)
	}
	in := v.Inputs
	if *in.Canary.Ranks != (Ranks{l, u}) || *in.Baseline.Ranks != (Ranks{l, u}) {
		t.Errorf("ranks %v %v, want (%d, %d)", *in.Canary.Ranks, *in.Baseline.Ranks, l, u)
	}
	// Canary: rank l is in (0.2, 0.3], rank u in (0.3, 0.4].
	// Baseline: rank l in (0.12, 0.13], rank u in (0.13, 0.14].
	want := []struct {
		name      string
		got, want Float
	}{
		{"canary lower", in.Canary.Lower, 0.2},
		{"canary upper", in.Canary.Upper, 0.4},
		{"baseline lower", in.Baseline.Lower, 0.12},
		{"baseline upper", in.Baseline.Upper, 0.14},
		{"ratio lower", in.Lower, 0.2 / 0.14},
		{"ratio upper", in.Upper, 0.4 / 0.12},
		// histogram_quantile: rank 9900 is the top of (0.2, 0.3] and of (0.12, 0.13].
		{"canary value", in.Canary.Value, 0.3},
		{"baseline value", in.Baseline.Value, 0.13},
		{"estimate", in.Estimate, 0.3 / 0.13},
	}
	for _, w := range want {
		if math.Abs(float64(w.got-w.want)) > 1e-12 {
			t.Errorf("%s = %v, want %v", w.name, w.got, w.want)
		}
	}
	// 0.2/0.14 = 1.43 is not above 1.5 and 0.4/0.12 = 3.33 not within it.
	if v.Result != Inconclusive {
		t.Errorf("got %v %q, want inconclusive", v.Result, v.Reason)
	}
	if v := P99Ratio(canary, baseline, 1.4, 0.95); v.Result != Fail {
		t.Errorf("max 1.4: got %v %q, want fail", v.Result, v.Reason)
	}
	if v := P99Ratio(canary, baseline, 3.4, 0.95); v.Result != Pass {
		t.Errorf("max 3.4: got %v %q, want pass", v.Result, v.Reason)
	}
}

func TestCombine(t *testing.T) {
	v := func(r Result) Verdict { return Verdict{Result: r} }
	tests := []struct {
		desc string
		vs   []Verdict
		want Result
	}{
		{"none", nil, Inconclusive},
		{"one pass", []Verdict{v(Pass)}, Pass},
		{"all pass", []Verdict{v(Pass), v(Pass), v(Pass)}, Pass},
		{"pass and inconclusive", []Verdict{v(Pass), v(Inconclusive)}, Inconclusive},
		{"fail wins", []Verdict{v(Inconclusive), v(Pass), v(Fail)}, Fail},
		{"zero verdict", []Verdict{v(Pass), {}}, Inconclusive},
		{"unknown result", []Verdict{v(Pass), v(Result(7))}, Inconclusive},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := Combine(tt.vs...); got != tt.want {
				t.Errorf("Combine = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestNoTrafficNeverPasses: an empty window on both sides is Inconclusive
// on every gate, and so is their combination.
func TestNoTrafficNeverPasses(t *testing.T) {
	var w Window
	vs := []Verdict{
		ErrorRateIncrease(w, w, 0.01, 0.95),
		P99Ratio(w.Latency, w.Latency, 1.5, 0.95),
		ShadowAgreement(w, 0.99, 0.95),
		Top1Agreement(w, 0.995, 0.95),
	}
	for _, v := range vs {
		if v.Result != Inconclusive {
			t.Errorf("%s on no traffic: %v %q", v.Gate, v.Result, v.Reason)
		}
	}
	if got := Combine(vs...); got != Inconclusive {
		t.Errorf("Combine = %v, want inconclusive", got)
	}
}

func TestLookConfidence(t *testing.T) {
	for _, tt := range []struct {
		c     float64
		looks int
		want  float64
	}{{0.95, 1, 0.95}, {0.95, 0, 0.95}, {0.95, 10, 0.995}, {0.99, 20, 0.9995}} {
		if got := LookConfidence(tt.c, tt.looks); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("LookConfidence(%v, %d) = %v, want %v", tt.c, tt.looks, got, tt.want)
		}
	}
}
