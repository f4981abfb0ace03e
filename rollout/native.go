package rollout

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/modelgate/modelgate/rollout/judge"
	dto "github.com/prometheus/client_model/go"
)

// Native (sparse, exponential) histograms as client_golang writes them: at
// schema s, bucket index i covers (2^((i−1)/2^s), 2^(i/2^s)], and the zero
// bucket covers [−ZeroThreshold, ZeroThreshold]. modelgate's latency
// histograms start at schema 3 (factor 1.1: buckets ×1.09 apart); the
// library lowers the schema, one step at a time, whenever a histogram would
// hold more than NativeHistogramMaxBucketNumber buckets, and (with
// NativeHistogramMinResetDuration 0) never resets them.

// Schemas client_golang writes.
const (
	minSchema = -4
	maxSchema = 8
)

// nativeBuckets are one native histogram's buckets, decoded.
type nativeBuckets struct {
	schema int32
	// zeroBound is the zero bucket's upper bound: ZeroThreshold, raised by
	// widen to the upper bound of the buckets merged into it.
	zeroBound float64
	// zero counts the zero bucket and every negative bucket: latencies are
	// not negative, and the judge's first bucket starts at 0.
	zero    uint64
	buckets map[int]uint64 // positive buckets by index
}

// decodeNative decodes h's native buckets; a nil h is an empty histogram
// of the finest schema, which any other schema can be reduced from.
func decodeNative(h *dto.Histogram) (nativeBuckets, error) {
	n := nativeBuckets{schema: maxSchema, buckets: map[int]uint64{}}
	if h == nil {
		return n, nil
	}
	if h.Schema == nil {
		return n, errors.New("rollout: latency histogram has no native buckets")
	}
	n.schema = h.GetSchema()
	if n.schema < minSchema || n.schema > maxSchema {
		return n, fmt.Errorf("rollout: native histogram schema %d outside %d…%d", n.schema, minSchema, maxSchema)
	}
	n.zeroBound = h.GetZeroThreshold()
	if !(n.zeroBound >= 0) || math.IsInf(n.zeroBound, 1) {
		return n, fmt.Errorf("rollout: native histogram zero threshold %g", n.zeroBound)
	}
	n.zero = h.GetZeroCount()
	err := spanCounts(h.GetNegativeSpan(), h.GetNegativeDelta(), func(_ int, c uint64) { n.zero += c })
	if err != nil {
		return n, fmt.Errorf("rollout: negative buckets: %w", err)
	}
	err = spanCounts(h.GetPositiveSpan(), h.GetPositiveDelta(), func(i int, c uint64) { n.buckets[i] += c })
	if err != nil {
		return n, fmt.Errorf("rollout: positive buckets: %w", err)
	}
	return n, nil
}

// spanCounts calls add with the index and absolute count of every bucket
// that spans and deltas describe: the first span's offset is its first
// index, a later one's the gap after the previous span; the first delta is
// a count, each later one the difference from the previous bucket's.
func spanCounts(spans []*dto.BucketSpan, deltas []int64, add func(i int, c uint64)) error {
	var idx, count int64
	d := 0
	for _, sp := range spans {
		idx += int64(sp.GetOffset())
		for range sp.GetLength() {
			if d == len(deltas) {
				return fmt.Errorf("spans hold more buckets than the %d deltas", len(deltas))
			}
			count += deltas[d]
			d++
			if count < 0 {
				return fmt.Errorf("bucket %d has count %d", idx, count)
			}
			if count > 0 {
				add(int(idx), uint64(count))
			}
			idx++
		}
	}
	if d != len(deltas) {
		return fmt.Errorf("%d deltas but spans hold %d buckets", len(deltas), d)
	}
	return nil
}

// reduce lowers n to the coarser schema s (s ≤ n.schema): each step merges
// buckets 2j−1 and 2j into bucket j, i.e. index i goes to (i+1)>>1, an
// arithmetic shift, so ⌈i/2⌉ for negative indices too.
func (n *nativeBuckets) reduce(s int32) {
	for n.schema > s {
		coarse := make(map[int]uint64, len(n.buckets))
		for i, c := range n.buckets {
			coarse[(i+1)>>1] += c
		}
		n.buckets = coarse
		n.schema--
	}
}

// widen merges into the zero bucket every bucket that reaches below z (the
// other reading's zero threshold, when the library widened it), raising
// zeroBound to at least z. After reduce to a common schema both readings
// merge the same indices.
func (n *nativeBuckets) widen(z float64) {
	n.zeroBound = max(n.zeroBound, z)
	for i, c := range n.buckets {
		if upperBound(i-1, n.schema) < z {
			n.zero += c
			n.zeroBound = max(n.zeroBound, upperBound(i, n.schema))
			delete(n.buckets, i)
		}
	}
}

// upperBound is the upper bound of bucket i at schema s: 2^(i/2^s)
// (+Inf past the largest float64).
func upperBound(i int, s int32) float64 {
	return math.Exp2(math.Ldexp(float64(i), -int(s)))
}

// latencyWindow is the judge histogram of the observations between two
// readings of one native histogram (start nil: a window from zero; end
// nil: no series, an empty histogram when start is nil too). Both are
// brought to the coarser schema and the wider zero bucket first. The
// result starts with the zero bucket (bound its threshold), then every
// bucket with observations in the window, each preceded by an empty bucket
// reaching down to its lower edge when the bucket below it is not listed,
// so every listed bucket's edges are its native edges. A bucket with fewer
// observations at the end than at the start, or a different
// CreatedTimestamp, means the series was recreated: an error.
func latencyWindow(end, start *dto.Histogram) (judge.Histogram, error) {
	if end == nil && start != nil {
		return judge.Histogram{}, errors.New("rollout: latency histogram disappeared (series recreated)")
	}
	if end != nil && start != nil && end.CreatedTimestamp != nil && start.CreatedTimestamp != nil &&
		!end.CreatedTimestamp.AsTime().Equal(start.CreatedTimestamp.AsTime()) {
		return judge.Histogram{}, errors.New("rollout: latency histogram was recreated between readings (counter reset)")
	}
	e, err := decodeNative(end)
	if err != nil {
		return judge.Histogram{}, err
	}
	s, err := decodeNative(start)
	if err != nil {
		return judge.Histogram{}, err
	}
	schema := min(e.schema, s.schema)
	e.reduce(schema)
	s.reduce(schema)
	z := max(e.zeroBound, s.zeroBound)
	e.widen(z)
	s.widen(z)
	e.widen(s.zeroBound) // a bucket merged on one side only raised its bound
	s.widen(e.zeroBound)

	if e.zero < s.zero {
		return judge.Histogram{}, fmt.Errorf("rollout: latency zero bucket went from %d to %d (counter reset)", s.zero, e.zero)
	}
	for i, c := range s.buckets {
		if e.buckets[i] < c {
			return judge.Histogram{}, fmt.Errorf("rollout: latency bucket le=%g went from %d to %d (counter reset)",
				upperBound(i, schema), c, e.buckets[i])
		}
	}
	delta := make(map[int]uint64, len(e.buckets))
	for i, c := range e.buckets {
		if d := c - s.buckets[i]; d > 0 {
			delta[i] = d
		}
	}
	zero := e.zero - s.zero
	if zero == 0 && len(delta) == 0 {
		return judge.Histogram{}, nil
	}

	h := judge.Histogram{UpperBounds: []float64{e.zeroBound}, Counts: []uint64{zero}}
	last := func() float64 { return h.UpperBounds[len(h.UpperBounds)-1] }
	for _, i := range slices.Sorted(maps.Keys(delta)) {
		lo, hi := upperBound(i-1, schema), upperBound(i, schema)
		if lo > last() && !math.IsInf(lo, 1) {
			h.UpperBounds = append(h.UpperBounds, lo)
			h.Counts = append(h.Counts, 0)
		}
		if math.IsInf(hi, 1) && math.IsInf(last(), 1) { // buckets past the largest float64
			h.Counts[len(h.Counts)-1] += delta[i]
			continue
		}
		h.UpperBounds = append(h.UpperBounds, hi)
		h.Counts = append(h.Counts, delta[i])
	}
	return h, h.Validate()
}
