package judge

import (
	"encoding/json"
	"math"
	"testing"
)

// checkVerdict asserts what every verdict must satisfy: a known result,
// bounds in order, a Pass or Fail only with both sides at MinSamples and
// its deciding bound on the right side of the threshold, and a JSON
// encoding that decodes back to the same verdict.
func checkVerdict(t *testing.T, v Verdict, nc, nb uint64, lowerIsBetter bool) {
	t.Helper()
	if v.Result > Fail {
		t.Fatalf("result %d", v.Result)
	}
	lo, hi, th := float64(v.Inputs.Lower), float64(v.Inputs.Upper), v.Inputs.Threshold
	if math.IsNaN(lo) || math.IsNaN(hi) || lo > hi {
		t.Fatalf("bounds [%v, %v]: %+v", lo, hi, v)
	}
	if v.Result != Inconclusive && (nc < MinSamples || nb < MinSamples) {
		t.Fatalf("%s with %d and %d samples", v.Result, nc, nb)
	}
	switch {
	case v.Result == Pass && lowerIsBetter && !(hi <= th), v.Result == Pass && !lowerIsBetter && !(lo >= th):
		t.Fatalf("pass with bounds [%v, %v] against %v", lo, hi, th)
	case v.Result == Fail && lowerIsBetter && !(lo > th), v.Result == Fail && !lowerIsBetter && !(hi < th):
		t.Fatalf("fail with bounds [%v, %v] against %v", lo, hi, th)
	}
	if v.Reason == "" {
		t.Fatal("no reason")
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var back Verdict
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Result != v.Result || back.Gate != v.Gate || back.Reason != v.Reason {
		t.Fatalf("JSON round trip: %s", b)
	}
}

// FuzzErrorRate judges arbitrary counts, limits and confidences.
func FuzzErrorRate(f *testing.F) {
	f.Add(uint64(1000), uint64(30), uint64(9000), uint64(20), 0.01, 0.95)
	f.Add(uint64(100), uint64(0), uint64(100), uint64(0), 0.0, 0.999)
	f.Add(uint64(0), uint64(0), uint64(0), uint64(0), 0.01, 0.95)
	f.Add(uint64(1<<40), uint64(1<<39), uint64(5), uint64(5), -0.5, 0.51)
	f.Fuzz(func(t *testing.T, nc, ec, nb, eb uint64, max, conf float64) {
		v := ErrorRateIncrease(Window{Requests: nc, Errors: ec}, Window{Requests: nb, Errors: eb}, max, conf)
		if ec > nc || eb > nb || !validConfidence(conf) || !(max >= -1 && max <= 1) {
			if v.Result != Inconclusive {
				t.Fatalf("invalid input gave %s", v.Result)
			}
			return
		}
		checkVerdict(t, v, nc, nb, true)
		if lo, hi := float64(v.Inputs.Lower), float64(v.Inputs.Upper); lo < -1 || hi > 1 {
			t.Fatalf("difference bounds [%v, %v] outside [-1, 1]", lo, hi)
		}
	})
}

// FuzzAgreement judges arbitrary agreement counts.
func FuzzAgreement(f *testing.F) {
	f.Add(uint64(990), uint64(1000), 0.99, 0.95)
	f.Add(uint64(0), uint64(0), 0.5, 0.9)
	f.Add(uint64(1<<50), uint64(1<<50), 1.0, 0.999999)
	f.Fuzz(func(t *testing.T, agreed, compared uint64, min, conf float64) {
		v := AgreementAtLeast(GateShadowAgreement, agreed, compared, min, conf)
		if agreed > compared || !validConfidence(conf) || !(min >= 0 && min <= 1) {
			if v.Result != Inconclusive {
				t.Fatalf("invalid input gave %s", v.Result)
			}
			return
		}
		checkVerdict(t, v, compared, compared, false)
		if lo, hi := float64(v.Inputs.Lower), float64(v.Inputs.Upper); lo < 0 || hi > 1 {
			t.Fatalf("agreement bounds [%v, %v] outside [0, 1]", lo, hi)
		}
	})
}

// FuzzP99Ratio judges histograms built from arbitrary bytes: each byte
// pair is a bucket's count, over exponential bounds.
func FuzzP99Ratio(f *testing.F) {
	f.Add([]byte{0, 200, 3, 4}, []byte{0, 180, 9, 1}, 1.5, 0.95)
	f.Add([]byte{}, []byte{255}, 1.0, 0.99)
	f.Fuzz(func(t *testing.T, cb, bb []byte, max, conf float64) {
		hist := func(b []byte) Histogram {
			var h Histogram
			for i, c := range b {
				if i >= 64 {
					break
				}
				h.UpperBounds = append(h.UpperBounds, 0.001*math.Pow(1.09, float64(i)))
				h.Counts = append(h.Counts, uint64(c)*uint64(c))
			}
			return h
		}
		c, b := hist(cb), hist(bb)
		v := P99Ratio(c, b, max, conf)
		if !validConfidence(conf) || !(max > 0) || math.IsInf(max, 1) {
			if v.Result != Inconclusive {
				t.Fatalf("invalid input gave %s", v.Result)
			}
			return
		}
		if lo, hi := float64(v.Inputs.Lower), float64(v.Inputs.Upper); math.IsNaN(lo) || math.IsNaN(hi) {
			// 0/0 or Inf/Inf: neither passes nor fails.
			if v.Result != Inconclusive {
				t.Fatalf("NaN bounds gave %s", v.Result)
			}
			return
		}
		checkVerdict(t, v, c.Count(), b.Count(), true)
	})
}
