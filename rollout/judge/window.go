package judge

import (
	"errors"
	"fmt"
	"math"
)

// Window is what one version did during one step's window: counts
// accumulated since the window began (deltas of the gateway's own
// counters, not cumulative totals).
type Window struct {
	// Requests answered by this version, and of them Errors: 5xx answers,
	// 502/503/504 (no answer, unavailable, timeout) included.
	Requests, Errors uint64
	// Latency of those requests (seconds).
	Latency Histogram
	// Shadow copies of the window's requests whose answers were compared
	// with the primary's, and of them those within tolerance (the shadow
	// step's canary only).
	ShadowCompared, ShadowMatched uint64
	// Compared answers with class scores or labels, and of them those whose
	// top-1 class agreed.
	Top1Compared, Top1Agreed uint64
}

// Histogram is a latency distribution over buckets: Counts[i] observations
// fell in (UpperBounds[i−1], UpperBounds[i]] (the first bucket's lower edge
// is 0: latencies are not negative). UpperBounds are in seconds, ascending,
// ≥ 0; the last may be +Inf, and if it is not, the histogram claims no
// observation lies above it. Counts are per bucket, not cumulative.
//
// It is what a Prometheus classic histogram gives over a window: take the
// cumulative bucket counts (le) at the window's end and at its start,
// difference them, and de-accumulate — FromCumulative does both. A
// client_model dto.Histogram lists its buckets without +Inf; append +Inf
// with the sample count as its cumulative count.
type Histogram struct {
	UpperBounds []float64
	Counts      []uint64
}

// FromCumulative builds the window's Histogram from cumulative bucket
// counts (Prometheus's le buckets) read at the window's end and at its
// start; start may be nil for a window that began at zero. It fails when
// the slices' lengths differ, the bounds are not valid Histogram bounds, a
// cumulative count decreases along the buckets, or a bucket's count is
// lower at the end than at the start (a counter reset: the window must be
// restarted).
func FromCumulative(upperBounds []float64, end, start []uint64) (Histogram, error) {
	if len(end) != len(upperBounds) || (start != nil && len(start) != len(upperBounds)) {
		return Histogram{}, fmt.Errorf("judge: %d bounds but %d end and %d start counts", len(upperBounds), len(end), len(start))
	}
	if err := checkBounds(upperBounds); err != nil {
		return Histogram{}, err
	}
	h := Histogram{UpperBounds: append([]float64(nil), upperBounds...), Counts: make([]uint64, len(end))}
	var prev uint64
	for i := range end {
		var s uint64
		if start != nil {
			s = start[i]
		}
		if end[i] < s {
			return Histogram{}, fmt.Errorf("judge: bucket le=%g went from %d to %d (counter reset)", upperBounds[i], s, end[i])
		}
		if i > 0 && (end[i] < end[i-1] || (start != nil && start[i] < start[i-1])) {
			return Histogram{}, fmt.Errorf("judge: cumulative counts decrease at le=%g", upperBounds[i])
		}
		c := end[i] - s
		if c < prev {
			return Histogram{}, fmt.Errorf("judge: window counts decrease at le=%g", upperBounds[i])
		}
		h.Counts[i] = c - prev
		prev = c
	}
	return h, nil
}

// Count is the number of observations.
func (h Histogram) Count() uint64 {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// Validate reports why h is not a valid Histogram, or nil.
func (h Histogram) Validate() error {
	if len(h.Counts) != len(h.UpperBounds) {
		return fmt.Errorf("judge: %d bounds but %d counts", len(h.UpperBounds), len(h.Counts))
	}
	return checkBounds(h.UpperBounds)
}

func checkBounds(b []float64) error {
	for i, u := range b {
		switch {
		case math.IsNaN(u) || u < 0:
			return fmt.Errorf("judge: bucket bound %g is not ≥ 0", u)
		case math.IsInf(u, 1) && i != len(b)-1:
			return errors.New("judge: only the last bucket bound may be +Inf")
		case i > 0 && u <= b[i-1]:
			return fmt.Errorf("judge: bucket bounds not ascending at %g", u)
		}
	}
	return nil
}

// edges returns the lower and upper edge of bucket i.
func (h Histogram) edges(i int) (lo, hi float64) {
	if i > 0 {
		lo = h.UpperBounds[i-1]
	}
	return lo, h.UpperBounds[i]
}

// bucketOf returns the bucket holding the observation of 1-based rank r
// (1 ≤ r ≤ Count()): the first bucket whose cumulative count reaches r.
func (h Histogram) bucketOf(r uint64) int {
	var cum uint64
	for i, c := range h.Counts {
		cum += c
		if cum >= r {
			return i
		}
	}
	return len(h.Counts) - 1
}

// Quantile is the q-quantile (0 ≤ q ≤ 1) as Prometheus's
// histogram_quantile estimates it: linear within the bucket holding rank
// q·n, the highest finite bound when that bucket is the +Inf one, NaN with
// no observations. It is informational (the operator console's p99); the
// gates use the bounds of P99Ratio.
func (h Histogram) Quantile(q float64) float64 { return h.interpolated(q) }

// interpolated is the q-quantile as Prometheus's histogram_quantile
// estimates it: linear within the bucket holding rank q·n, and the highest
// finite bound when that bucket is the +Inf one. NaN with no observations.
func (h Histogram) interpolated(q float64) float64 {
	n := h.Count()
	if n == 0 {
		return math.NaN()
	}
	rank := q * float64(n)
	var cum uint64
	for i, c := range h.Counts {
		if float64(cum+c) < rank || c == 0 {
			cum += c
			continue
		}
		lo, hi := h.edges(i)
		if math.IsInf(hi, 1) {
			return lo
		}
		return lo + (hi-lo)*(rank-float64(cum))/float64(c)
	}
	lo, hi := h.edges(len(h.Counts) - 1)
	if math.IsInf(hi, 1) {
		return lo
	}
	return hi
}
