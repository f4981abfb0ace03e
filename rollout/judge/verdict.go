package judge

import (
	"fmt"
	"math"
	"strconv"
)

// Gate names, as the rollout.gates keys of the config spell them.
const (
	GateErrorRate       = "max_error_rate_increase"
	GateP99Ratio        = "max_p99_ratio"
	GateShadowAgreement = "min_shadow_agreement"
	GateTop1Agreement   = "min_top1_agreement"
)

// MinSamples is the least sample size each side of a gate needs (requests
// for the error gate, latency observations for the p99 gate, compared
// answers for the agreement gates); below it the verdict is Inconclusive
// whatever the counts say. The intervals are honest at small n already;
// the floor keeps a handful of early requests (often the slowest and the
// most error-prone: cold caches, new connections) from deciding a step.
const MinSamples = 100

// Result is a gate's verdict. The zero value is Inconclusive, so a Verdict
// no gate filled in never passes.
type Result uint8

const (
	// Inconclusive: not enough evidence either way yet; the step holds and
	// keeps collecting.
	Inconclusive Result = iota
	// Pass: the gate's condition holds at the confidence asked.
	Pass
	// Fail: the gate's condition is violated at the confidence asked.
	Fail
)

// String returns "pass", "fail" or "inconclusive" (and "Result(N)" for a
// value outside the three).
func (r Result) String() string {
	switch r {
	case Pass:
		return "pass"
	case Fail:
		return "fail"
	case Inconclusive:
		return "inconclusive"
	}
	return "Result(" + strconv.Itoa(int(r)) + ")"
}

// MarshalText encodes r as its String; a value outside the three is an
// error.
func (r Result) MarshalText() ([]byte, error) {
	if r > Fail {
		return nil, fmt.Errorf("judge: invalid result %d", uint8(r))
	}
	return []byte(r.String()), nil
}

// UnmarshalText accepts "pass", "fail" and "inconclusive".
func (r *Result) UnmarshalText(b []byte) error {
	switch string(b) {
	case "pass":
		*r = Pass
	case "fail":
		*r = Fail
	case "inconclusive":
		*r = Inconclusive
	default:
		return fmt.Errorf("judge: unknown result %q", b)
	}
	return nil
}

// Verdict is one gate's judgement of one window, with everything it used.
// It encodes to JSON with stable field names (gate, result, inputs,
// reason) and decodes back to the same verdict (Float keeps ±Inf and NaN).
type Verdict struct {
	Gate   string `json:"gate"`   // GateErrorRate, GateP99Ratio, GateShadowAgreement, GateTop1Agreement
	Result Result `json:"result"` // "pass" | "fail" | "inconclusive"
	Inputs Inputs `json:"inputs"`
	Reason string `json:"reason"` // one human sentence: the bound that decided, or what is missing
}

// Inputs are what a verdict was computed from and what it computed, for an
// operator's explain: enough to recompute it.
//
// The judged quantity is the difference of error rates (error gate), the
// ratio of p99s (p99 gate) or the agreement rate (agreement gates);
// Estimate is its point estimate and [Lower, Upper] its confidence bounds,
// each one-sided at Confidence. The bounds are always recorded, even when
// the verdict is Inconclusive for too few samples; with no data they are
// the uninformative range ([−1, 1], [0, +Inf], [0, 1]).
type Inputs struct {
	Method     string  `json:"method"`             // MethodNewcombe, MethodWilson or MethodQuantile
	Confidence float64 `json:"confidence"`         // e.g. 0.95
	Threshold  float64 `json:"threshold"`          // the gate's configured limit
	MinSamples uint64  `json:"min_samples"`        // MinSamples when judged
	Z          float64 `json:"z,omitempty"`        // Φ⁻¹(confidence), for the Wilson-based gates
	Quantile   float64 `json:"quantile,omitempty"` // 0.99, for the p99 gate
	Canary     Sample  `json:"canary"`
	Baseline   *Sample `json:"baseline,omitempty"` // absent for the agreement gates
	Estimate   Float   `json:"estimate"`
	Lower      Float   `json:"lower"`
	Upper      Float   `json:"upper"`
}

// Sample is what a verdict used from one version.
type Sample struct {
	// N is the sample size: requests, compared answers or latency
	// observations.
	N uint64 `json:"n"`
	// Events are the errors (error gate) or agreeing answers (agreement
	// gates); absent for the p99 gate.
	Events *uint64 `json:"events,omitempty"`
	// Value is the observed rate Events/N, or for the p99 gate the p99
	// interpolated within its bucket the way Prometheus's
	// histogram_quantile does (informational: verdicts use the bounds).
	// NaN when N is 0.
	Value Float `json:"value"`
	// Lower and Upper bound this version's rate or p99: Wilson bounds at
	// Inputs.Z, or bucket edges for the p99 gate (see P99Ratio).
	Lower Float `json:"lower"`
	Upper Float `json:"upper"`
	// Ranks are the order statistics behind the p99 bounds; absent for the
	// other gates.
	Ranks *Ranks `json:"ranks,omitempty"`
}

// Ranks are the 1-based ranks of the order statistics bounding a quantile:
// Lower 0 means no order statistic bounds it from below (the bound is 0),
// Upper N+1 that none bounds it from above (the bound is +Inf).
type Ranks struct {
	Lower uint64 `json:"lower"`
	Upper uint64 `json:"upper"`
}

// Float is a float64 that survives JSON: finite values encode as numbers,
// +Inf, −Inf and NaN as the strings "+Inf", "-Inf" and "NaN" (as
// Prometheus's HTTP API writes them); both forms decode, null as NaN.
type Float float64

// MarshalJSON implements json.Marshaler.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *Float) UnmarshalJSON(b []byte) error {
	s := string(b)
	switch s {
	case `null`, `"NaN"`:
		*f = Float(math.NaN())
		return nil
	case `"+Inf"`, `"Inf"`:
		*f = Float(math.Inf(1))
		return nil
	case `"-Inf"`:
		*f = Float(math.Inf(-1))
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("judge: %s is not a number", b)
	}
	*f = Float(v)
	return nil
}

// Combine is the verdict of a step over its gates: any Fail is Fail, else
// any Inconclusive (or a Result outside the three) is Inconclusive, else
// Pass. No verdicts at all is Inconclusive: a step never passes on no
// evidence, and a window with no traffic gives Inconclusive on every gate.
func Combine(vs ...Verdict) Result {
	if len(vs) == 0 {
		return Inconclusive
	}
	r := Pass
	for _, v := range vs {
		switch v.Result {
		case Fail:
			return Fail
		case Pass:
		default:
			r = Inconclusive
		}
	}
	return r
}

// LookConfidence is the confidence to judge each look at when a controller
// looks at a growing window up to looks times and acts on the first Pass or
// Fail: 1 − (1−confidence)/looks, so that by Bonferroni's inequality the
// chance that any of the looks gives a wrong verdict stays at most about
// 1 − confidence. Judging every look at confidence itself would not: with
// equal versions and a look every few hundred requests, the chance of some
// false Fail grows with every look (see TestRepeatedLooks). looks below 1
// counts as 1.
func LookConfidence(confidence float64, looks int) float64 {
	return 1 - (1-confidence)/float64(max(looks, 1))
}

func (v Verdict) invalid(format string, args ...any) Verdict {
	v.Result = Inconclusive
	v.Reason = "invalid input: " + fmt.Sprintf(format, args...)
	return v
}

func validConfidence(c float64) bool { return c > 0.5 && c < 1 }

// tooFew reports, in words, which side has fewer than MinSamples of what;
// "" when both have enough.
func tooFew(what string, canary, baseline uint64) string {
	if canary >= MinSamples && baseline >= MinSamples {
		return ""
	}
	return fmt.Sprintf("canary has %d %s and baseline %d; at least %d each are needed", canary, what, baseline, MinSamples)
}

func ptr[T any](v T) *T { return &v }

// percent formats a confidence level: 0.95 → "95%".
func percent(c float64) string { return strconv.FormatFloat(c*100, 'g', 6, 64) + "%" }

// pp formats a rate or difference as a percentage with 4 significant digits.
func pp(x float64) string { return strconv.FormatFloat(x*100, 'g', 4, 64) + "%" }
