package judge

import (
	"math"
	"math/rand/v2"
)

// Simulation support: exact samplers driven by a fixed-seed PCG, so every
// run of a simulation test sees the same windows.

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x6a7564676521)) }

// binomial draws Binomial(n, p) exactly by skipping over the failures
// between successes: each gap is geometric, ⌊ln U / ln(1−p)⌋ (Devroye,
// Non-Uniform Random Variate Generation, 1986, §X.4.3). It costs O(n·p)
// draws, so rare errors and rare disagreements are cheap.
func binomial(r *rand.Rand, n uint64, p float64) uint64 {
	switch {
	case p <= 0:
		return 0
	case p >= 1:
		return n
	case p > 0.5:
		return n - binomial(r, n, 1-p)
	}
	logQ := math.Log1p(-p)
	var k, pos uint64
	for {
		gap := math.Floor(math.Log(1-r.Float64()) / logQ) // 1−U is in (0, 1]
		if gap >= float64(n-pos) {
			return k
		}
		pos += uint64(gap) + 1
		k++
		if pos >= n {
			return k
		}
	}
}

// latency is a lognormal latency distribution bucketed over bounds: a
// draw is a bucket index with exactly the probability a lognormal draw
// would land in it (P(b_{i−1} < X ≤ b_i) from the lognormal CDF), found
// through a guide table (Chen & Asau 1974) in O(1) expected time.
type latency struct {
	bounds []float64
	cdf    []float64 // P(X ≤ bounds[i])
	guide  []int
}

// newLatency buckets a lognormal with the given median (seconds) and σ of
// ln X over bounds (the last should be +Inf).
func newLatency(bounds []float64, median, sigma float64) *latency {
	l := &latency{bounds: bounds, cdf: make([]float64, len(bounds)), guide: make([]int, 4096)}
	for i, b := range bounds {
		l.cdf[i] = 0.5 * math.Erfc(-(math.Log(b)-math.Log(median))/(sigma*math.Sqrt2))
	}
	l.cdf[len(l.cdf)-1] = 1
	i := 0
	for j := range l.guide {
		for l.cdf[i] < float64(j)/float64(len(l.guide)) {
			i++
		}
		l.guide[j] = i
	}
	return l
}

// window draws n latencies into a fresh Histogram.
func (l *latency) window(r *rand.Rand, n int) Histogram {
	h := Histogram{UpperBounds: l.bounds, Counts: make([]uint64, len(l.bounds))}
	for range n {
		u := r.Float64()
		i := l.guide[int(u*float64(len(l.guide)))]
		for l.cdf[i] < u {
			i++
		}
		h.Counts[i]++
	}
	return h
}

// exponentialBounds returns count bounds start·factor^i plus +Inf, as
// client_golang's prometheus.ExponentialBuckets and a +Inf bucket.
func exponentialBounds(start, factor float64, count int) []float64 {
	b := make([]float64, 0, count+1)
	for i := range count {
		b = append(b, start*math.Pow(factor, float64(i)))
	}
	return append(b, math.Inf(1))
}

// nativeBounds are the bucket bounds of a Prometheus native histogram of
// schema 3 (factor 2^(1/8) ≈ 1.09, what modelgate's
// NativeHistogramBucketFactor 1.1 gives) from about 1 ms to 64 s.
func nativeBounds() []float64 { return exponentialBounds(math.Exp2(-10), math.Exp2(1.0/8), 129) }

// classicBounds are observability.LatencyBuckets and +Inf (copied: judge
// does not import the gateway's packages).
func classicBounds() []float64 {
	return []float64{.001, .005, .01, .025, .05, .1, .25, 1, 5, 30, math.Inf(1)}
}

// tally counts verdicts by result.
type tally struct{ pass, fail, inconclusive, n int }

func (t *tally) add(r Result) {
	t.n++
	switch r {
	case Pass:
		t.pass++
	case Fail:
		t.fail++
	default:
		t.inconclusive++
	}
}

func (t tally) rate(k int) float64 { return float64(k) / float64(t.n) }

func (t tally) String() string {
	return "pass " + pp(t.rate(t.pass)) + ", fail " + pp(t.rate(t.fail)) + ", inconclusive " + pp(t.rate(t.inconclusive))
}

// slack is the Monte Carlo allowance over an error budget α for a rate
// estimated from n windows: three standard errors, √(α(1−α)/n).
func slack(alpha float64, n int) float64 { return 3 * math.Sqrt(alpha*(1-alpha)/float64(n)) }
