package judge

import (
	"fmt"
	"math"
)

// Method names recorded in Inputs.Method.
const (
	MethodNewcombe = "newcombe-wilson difference of proportions"
	MethodWilson   = "wilson score bounds"
	MethodQuantile = "distribution-free quantile CI from histogram buckets"
)

// wilson returns Wilson's score interval (E. B. Wilson, "Probable
// inference, the law of succession, and statistical inference", JASA 22,
// 1927) for x events in n trials at normal quantile z:
//
//	(2x + z² ∓ z·√(z² + 4x(n−x)/n)) / (2(n + z²))
//
// It stays inside [0, 1], is 0 below at x = 0 and 1 above at x = n, and
// keeps close to its nominal coverage at small n and at p near 0 or 1,
// where the Wald interval p ± z·√(p(1−p)/n) collapses to a point (Newcombe,
// "Two-sided confidence intervals for the single proportion: comparison of
// seven methods", Statistics in Medicine 17, 1998, method 3). With
// z = Φ⁻¹(c) each limit is a one-sided bound at level c. n must be > 0.
func wilson(x, n uint64, z float64) (lo, hi float64) {
	xf, nf := float64(x), float64(n)
	z2 := z * z
	root := z * math.Sqrt(z2+4*xf*(nf-xf)/nf)
	den := 2 * (nf + z2)
	lo, hi = (2*xf+z2-root)/den, (2*xf+z2+root)/den
	if x == 0 {
		lo = 0
	}
	if x == n {
		hi = 1
	}
	return math.Max(lo, 0), math.Min(hi, 1)
}

// newcombe returns Newcombe's hybrid score interval for p1 − p2 (R. G.
// Newcombe, "Interval estimation for the difference between independent
// proportions: comparison of eleven methods", Statistics in Medicine 17,
// 1998, pp. 873–890, method 10): with (l_i, u_i) the Wilson interval of
// p_i = x_i/n_i at the same z,
//
//	lower = (p1 − p2) − √((p1 − l1)² + (u2 − p2)²)
//	upper = (p1 − p2) + √((u1 − p1)² + (p2 − l2)²)
//
// It inherits Wilson's behaviour at small counts and at p ≈ 0 (0 of n
// errors on both sides still gives a non-degenerate interval), and its
// coverage stays close to nominal where the Wald difference interval's does
// not. Both n must be > 0.
func newcombe(x1, n1, x2, n2 uint64, z float64) (d, lo, hi float64, w1, w2 [2]float64) {
	p1, p2 := float64(x1)/float64(n1), float64(x2)/float64(n2)
	l1, u1 := wilson(x1, n1, z)
	l2, u2 := wilson(x2, n2, z)
	d = p1 - p2
	lo = d - math.Hypot(p1-l1, u2-p2)
	hi = d + math.Hypot(u1-p1, p2-l2)
	return d, lo, hi, [2]float64{l1, u1}, [2]float64{l2, u2}
}

// ErrorRateIncrease judges max_error_rate_increase: is the canary's error
// rate at most maxIncrease above the baseline's (p_canary − p_baseline ≤
// maxIncrease)? Errors are 5xx answers, 502/503/504 included, over
// Requests, of the same window on both sides.
//
// Method: Newcombe's hybrid score interval (method 10) for the difference,
// computed at z = Φ⁻¹(confidence) — a two-sided interval at level
// 2·confidence − 1 (90% for 0.95) whose two limits are used as one-sided
// bounds at confidence each:
//
//	Pass          upper ≤ maxIncrease   (the increase is at most maxIncrease)
//	Fail          lower > maxIncrease   (it is more than maxIncrease)
//	Inconclusive  otherwise
//
// Why one-sided: each verdict is a one-directional claim, and for any true
// difference at most one of the two can be wrong (Pass is wrong only if the
// true increase exceeds maxIncrease, Fail only if it does not), so each
// wrong verdict happens with probability at most about 1 − confidence. A
// two-sided interval at confidence would hold each claim to 1 − (1−c)/2,
// spending evidence (time holding a step) on a tail no verdict uses.
// Newcombe's interval is approximate: its one-sided error can exceed
// 1 − confidence slightly at some counts (see the simulation tests).
//
// It assumes requests fail independently; a burst of correlated failures
// makes the interval narrower than the truth. It judges one look at one
// window: a controller that looks repeatedly at a growing window and acts
// on the first Pass or Fail must spend its error across the looks (see
// LookConfidence).
//
// Fewer than MinSamples requests on either side is Inconclusive whatever
// the counts. Invalid inputs (Errors > Requests, confidence outside
// (0.5, 1), maxIncrease outside [−1, 1]) are Inconclusive with a reason
// beginning "invalid input".
func ErrorRateIncrease(canary, baseline Window, maxIncrease, confidence float64) Verdict {
	v := Verdict{Gate: GateErrorRate, Inputs: Inputs{
		Method:     MethodNewcombe,
		Confidence: confidence,
		Threshold:  maxIncrease,
		MinSamples: MinSamples,
		Canary:     proportionSample(canary.Errors, canary.Requests),
		Baseline:   ptr(proportionSample(baseline.Errors, baseline.Requests)),
		Estimate:   Float(math.NaN()),
		Lower:      -1,
		Upper:      1,
	}}
	switch {
	case !validConfidence(confidence):
		return v.invalid("confidence %v is not in (0.5, 1)", confidence)
	case !(maxIncrease >= -1 && maxIncrease <= 1):
		return v.invalid("max_error_rate_increase %v is not in [-1, 1]", maxIncrease)
	case canary.Errors > canary.Requests:
		return v.invalid("canary errors %d exceed its requests %d", canary.Errors, canary.Requests)
	case baseline.Errors > baseline.Requests:
		return v.invalid("baseline errors %d exceed its requests %d", baseline.Errors, baseline.Requests)
	}
	z := normalQuantile(confidence)
	v.Inputs.Z = z
	if canary.Requests > 0 && baseline.Requests > 0 {
		d, lo, hi, wc, wb := newcombe(canary.Errors, canary.Requests, baseline.Errors, baseline.Requests, z)
		v.Inputs.Estimate, v.Inputs.Lower, v.Inputs.Upper = Float(d), Float(lo), Float(hi)
		v.Inputs.Canary.Lower, v.Inputs.Canary.Upper = Float(wc[0]), Float(wc[1])
		v.Inputs.Baseline.Lower, v.Inputs.Baseline.Upper = Float(wb[0]), Float(wb[1])
	}
	if r := tooFew("requests", canary.Requests, baseline.Requests); r != "" {
		v.Reason = r
		return v
	}
	lo, hi := float64(v.Inputs.Lower), float64(v.Inputs.Upper)
	pct := percent(confidence)
	switch {
	case hi <= maxIncrease:
		v.Result = Pass
		v.Reason = fmt.Sprintf("error-rate increase is at most %s (%s upper bound), within max %s",
			pp(hi), pct, pp(maxIncrease))
	case lo > maxIncrease:
		v.Result = Fail
		v.Reason = fmt.Sprintf("error-rate increase is at least %s (%s lower bound), above max %s",
			pp(lo), pct, pp(maxIncrease))
	default:
		v.Reason = fmt.Sprintf("error-rate increase between %s and %s (%s bounds) straddles max %s: not enough evidence yet",
			pp(lo), pp(hi), pct, pp(maxIncrease))
	}
	return v
}

// AgreementAtLeast judges an agreement rate against a floor: is the true
// share of agreeing answers at least min? gate names the rule
// (GateShadowAgreement for min_shadow_agreement, GateTop1Agreement for
// min_top1_agreement); agreed of compared answers agreed.
//
// Method: Wilson's score interval at z = Φ⁻¹(confidence), its limits used
// as one-sided bounds at confidence each (the reasoning of
// ErrorRateIncrease):
//
//	Pass          lower ≥ min
//	Fail          upper < min
//	Inconclusive  otherwise
//
// All compared answers agreeing passes once compared ≥ z²·min/(1−min):
// 268 answers for min 0.99 and 539 for 0.995 at confidence 0.95.
// Fewer than MinSamples compared answers is Inconclusive; agreed >
// compared, min outside [0, 1] or confidence outside (0.5, 1) are
// Inconclusive with a reason beginning "invalid input".
func AgreementAtLeast(gate string, agreed, compared uint64, min, confidence float64) Verdict {
	v := Verdict{Gate: gate, Inputs: Inputs{
		Method:     MethodWilson,
		Confidence: confidence,
		Threshold:  min,
		MinSamples: MinSamples,
		Canary:     proportionSample(agreed, compared),
		Estimate:   Float(math.NaN()),
		Lower:      0,
		Upper:      1,
	}}
	switch {
	case !validConfidence(confidence):
		return v.invalid("confidence %v is not in (0.5, 1)", confidence)
	case !(min >= 0 && min <= 1):
		return v.invalid("%s %v is not in [0, 1]", gate, min)
	case agreed > compared:
		return v.invalid("agreed answers %d exceed compared %d", agreed, compared)
	}
	z := normalQuantile(confidence)
	v.Inputs.Z = z
	if compared > 0 {
		lo, hi := wilson(agreed, compared, z)
		v.Inputs.Estimate = v.Inputs.Canary.Value
		v.Inputs.Lower, v.Inputs.Upper = Float(lo), Float(hi)
		v.Inputs.Canary.Lower, v.Inputs.Canary.Upper = Float(lo), Float(hi)
	}
	if compared < MinSamples {
		v.Reason = fmt.Sprintf("%d compared answers, fewer than the %d needed", compared, MinSamples)
		return v
	}
	lo, hi := float64(v.Inputs.Lower), float64(v.Inputs.Upper)
	pct := percent(confidence)
	switch {
	case lo >= min:
		v.Result = Pass
		v.Reason = fmt.Sprintf("agreement is at least %s (%s lower bound), meeting min %s", pp(lo), pct, pp(min))
	case hi < min:
		v.Result = Fail
		v.Reason = fmt.Sprintf("agreement is at most %s (%s upper bound), below min %s", pp(hi), pct, pp(min))
	default:
		v.Reason = fmt.Sprintf("agreement between %s and %s (%s bounds) straddles min %s: not enough evidence yet",
			pp(lo), pp(hi), pct, pp(min))
	}
	return v
}

// ShadowAgreement is AgreementAtLeast for min_shadow_agreement over the
// window's ShadowMatched of ShadowCompared answers.
func ShadowAgreement(w Window, min, confidence float64) Verdict {
	return AgreementAtLeast(GateShadowAgreement, w.ShadowMatched, w.ShadowCompared, min, confidence)
}

// Top1Agreement is AgreementAtLeast for min_top1_agreement over the
// window's Top1Agreed of Top1Compared answers.
func Top1Agreement(w Window, min, confidence float64) Verdict {
	return AgreementAtLeast(GateTop1Agreement, w.Top1Agreed, w.Top1Compared, min, confidence)
}

// proportionSample records events of n with the observed rate (NaN for
// n = 0) and the uninformative interval [0, 1] until one is computed.
func proportionSample(events, n uint64) Sample {
	s := Sample{N: n, Events: ptr(events), Value: Float(math.NaN()), Lower: 0, Upper: 1}
	if n > 0 {
		s.Value = Float(float64(events) / float64(n))
	}
	return s
}
