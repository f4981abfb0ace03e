package judge

import (
	"fmt"
	"math"
)

// P99Ratio judges max_p99_ratio: is the canary's true p99 latency at most
// maxRatio times the baseline's? Both histograms cover the same window.
//
// Method: a distribution-free confidence interval for each version's p99
// from order statistics (see quantileRanks: with B ~ Binomial(n, 0.99), the
// ranks l and u of the sorted observations with P(X(l) > p99) ≤ α/2 and
// P(X(u) < p99) ≤ α/2, α = 1 − confidence), mapped onto the histogram: the
// lower bound is the lower edge of the bucket holding rank l (0 when l is
// 0), the upper bound the upper edge of the bucket holding rank u (+Inf
// when u is n+1 or that bucket is the +Inf one: unbounded). Observations
// inside a bucket are unknown, so the edges are the tightest bounds the
// histogram supports; no interpolation is assumed. Then
//
//	Pass          canary_upper / baseline_lower ≤ maxRatio
//	Fail          canary_lower / baseline_upper > maxRatio
//	Inconclusive  otherwise (an unbounded canary upper bound can never pass,
//	              an unbounded baseline upper bound never fails)
//
// Bonferroni split: Pass is wrong only if the canary's p99 is above its
// upper bound or the baseline's below its lower bound, each with
// probability at most α/2, so at most α together, whatever the dependence
// between the two; likewise Fail with the other two bounds. So each
// version's interval is two-sided at level confidence (each tail α/2) and
// each verdict is wrong with probability at most 1 − confidence. The
// binomial ranks make the bounds conservative (coverage ≥ nominal, exactly,
// for any continuous latency distribution, at any n).
//
// Resolution: the bounds can be no tighter than the buckets. If the
// buckets around p99 are a factor f apart, equal versions give at best
// canary_upper / baseline_lower ≈ f·(the sampling spread), so a gate with
// maxRatio below about f can never Pass: the verdict stays Inconclusive
// rather than pass on interpolation. modelgate's classic LatencyBuckets
// are ×2.5–×5 apart and cannot support max_p99_ratio 1.5; the native
// histogram's buckets (schema 3, ×2^(1/8) ≈ 1.09) can.
//
// At confidence 0.95 a p99 is bounded above only from n ≥ 368
// observations (0.99^n ≤ 0.025). Fewer than MinSamples observations on
// either side is Inconclusive; invalid histograms, maxRatio not > 0 or
// confidence outside (0.5, 1) are Inconclusive with a reason beginning
// "invalid input".
func P99Ratio(canary, baseline Histogram, maxRatio, confidence float64) Verdict {
	return quantileRatio(GateP99Ratio, 0.99, canary, baseline, maxRatio, confidence)
}

func quantileRatio(gate string, q float64, canary, baseline Histogram, maxRatio, confidence float64) Verdict {
	nc, nb := canary.Count(), baseline.Count()
	v := Verdict{Gate: gate, Inputs: Inputs{
		Method:     MethodQuantile,
		Confidence: confidence,
		Threshold:  maxRatio,
		MinSamples: MinSamples,
		Quantile:   q,
		Canary:     Sample{N: nc, Value: Float(math.NaN()), Lower: 0, Upper: Float(math.Inf(1))},
		Baseline:   &Sample{N: nb, Value: Float(math.NaN()), Lower: 0, Upper: Float(math.Inf(1))},
		Estimate:   Float(math.NaN()),
		Lower:      0,
		Upper:      Float(math.Inf(1)),
	}}
	switch {
	case !validConfidence(confidence):
		return v.invalid("confidence %v is not in (0.5, 1)", confidence)
	case !(maxRatio > 0) || math.IsInf(maxRatio, 1):
		return v.invalid("%s %v is not a positive number", gate, maxRatio)
	}
	if err := canary.Validate(); err != nil {
		return v.invalid("canary histogram: %v", err)
	}
	if err := baseline.Validate(); err != nil {
		return v.invalid("baseline histogram: %v", err)
	}
	tail := (1 - confidence) / 2
	quantileSample(&v.Inputs.Canary, canary, q, tail)
	quantileSample(v.Inputs.Baseline, baseline, q, tail)
	c, b := v.Inputs.Canary, *v.Inputs.Baseline
	// x/0 is +Inf, x/+Inf is 0, and 0/0 or +Inf/+Inf is NaN, which neither
	// passes nor fails.
	v.Inputs.Estimate = c.Value / b.Value
	v.Inputs.Lower = c.Lower / b.Upper
	v.Inputs.Upper = c.Upper / b.Lower

	if r := tooFew("latency observations", nc, nb); r != "" {
		v.Reason = r
		return v
	}
	lo, hi := float64(v.Inputs.Lower), float64(v.Inputs.Upper)
	pct := percent(confidence)
	bounds := fmt.Sprintf("canary p99 in [%s, %s], baseline p99 in [%s, %s]",
		secs(c.Lower), secs(c.Upper), secs(b.Lower), secs(b.Upper))
	switch {
	case hi <= maxRatio:
		v.Result = Pass
		v.Reason = fmt.Sprintf("p99 ratio is at most %.3g (%s bound; %s), within max %g", hi, pct, bounds, maxRatio)
	case lo > maxRatio:
		v.Result = Fail
		v.Reason = fmt.Sprintf("p99 ratio is at least %.3g (%s bound; %s), above max %g", lo, pct, bounds, maxRatio)
	default:
		v.Reason = fmt.Sprintf("p99 ratio between %.3g and %.3g (%s bounds; %s) straddles max %g: not enough evidence yet or buckets too coarse",
			lo, hi, pct, bounds, maxRatio)
	}
	return v
}

// quantileSample fills s with h's interpolated q-quantile and its
// distribution-free bounds at one-sided level 1−tail each.
func quantileSample(s *Sample, h Histogram, q, tail float64) {
	n := h.Count()
	l, u := quantileRanks(n, q, tail)
	s.Ranks = &Ranks{Lower: l, Upper: u}
	s.Value = Float(h.interpolated(q))
	if l > 0 {
		lo, _ := h.edges(h.bucketOf(l))
		s.Lower = Float(lo)
	}
	if u <= n {
		_, hi := h.edges(h.bucketOf(u))
		s.Upper = Float(hi)
	}
}

// secs formats a latency in seconds with 3 significant digits.
func secs(f Float) string {
	if math.IsInf(float64(f), 1) {
		return "+Inf"
	}
	return fmt.Sprintf("%.3gs", float64(f))
}
