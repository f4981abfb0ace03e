package shadow

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelgate/modelgate/internal/compare"
	"github.com/modelgate/modelgate/observability"
)

// dropReason says why a copy was not sent (outcome dropped).
type dropReason uint8

const (
	dropQueueFull      dropReason = iota // the model's shadow queue was full (or, with max_queue 0, no worker idle)
	dropBodyTooLarge                     // request body over shadow.max_body_bytes
	dropStopped                          // shadow removed or changed by a reload, or shutdown
	dropAnswerTooLarge                   // primary's answer over shadow.max_body_bytes
	dropQueueBytes                       // the copy's bodies would take the pool over shadow.max_queue_bytes
	numDropReasons
)

var dropReasonNames = [numDropReasons]string{"queue_full", "body_too_large", "stopped", "answer_too_large", "queue_bytes"}

// Sizes of the admin view's windows.
const (
	latencyWindow  = 1024 // latency pairs kept for percentiles
	mismatchesKept = 20   // last mismatches kept, and last top-1 flips
)

// stats is what GET /admin/shadow shows for one tenant/model/shadow
// version. Counters are atomics (the request path counts drops); the windows
// are under mu (workers only). It survives reloads while the shadow stays
// configured.
type stats struct {
	series    *observability.ShadowSeries
	outcomes  [5]atomic.Uint64 // by observability.ShadowOutcome
	drops     [numDropReasons]atomic.Uint64
	top1Agree atomic.Uint64
	top1Total atomic.Uint64

	mu         sync.Mutex
	primaryLat []time.Duration // ring, paired with shadowLat
	shadowLat  []time.Duration
	latNext    int
	mismatches ring[Mismatch] // the last mismatchesKept mismatches
	// flips are the last mismatchesKept mismatches whose top-1 answer
	// changed, kept apart so that tolerance drift in every answer cannot
	// push the class changes out of sight.
	flips ring[Mismatch]
}

// ring keeps the last values added; the oldest is overwritten.
type ring[T any] struct {
	vals []T
	next int
}

func (r *ring[T]) add(v T, n int) {
	if len(r.vals) < n {
		r.vals = append(r.vals, v)
		return
	}
	r.vals[r.next] = v
	r.next = (r.next + 1) % n
}

// copy returns the values, last added first.
func (r *ring[T]) copy() []T {
	n := len(r.vals)
	out := make([]T, 0, n)
	for i := range n {
		out = append(out, r.vals[(r.next-1-i+2*n)%n])
	}
	return out
}

func newStats(series *observability.ShadowSeries) *stats {
	return &stats{series: series}
}

// Mismatch is one differing comparison as /admin/shadow shows it:
// field paths with both values; whole payloads only with log_payloads.
type Mismatch struct {
	Time       time.Time      `json:"time"` // when the shadow call started
	RequestID  string         `json:"request_id"`
	MaxAbsDiff float64        `json:"max_abs_diff"`
	Top1Agree  *bool          `json:"top1_agree,omitempty"`
	DiffCount  int            `json:"diff_count"`
	Diffs      []compare.Diff `json:"diffs"`
	Request    string         `json:"request,omitempty"`
	Primary    string         `json:"primary,omitempty"`
	Shadow     string         `json:"shadow,omitempty"`
}

func (s *stats) top1(agree bool) {
	s.top1Total.Add(1)
	if agree {
		s.top1Agree.Add(1)
	}
}

// latency records one primary/shadow latency pair.
func (s *stats) latency(primary, shadow time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.primaryLat) < latencyWindow {
		s.primaryLat = append(s.primaryLat, primary)
		s.shadowLat = append(s.shadowLat, shadow)
		return
	}
	s.primaryLat[s.latNext], s.shadowLat[s.latNext] = primary, shadow
	s.latNext = (s.latNext + 1) % latencyWindow
}

func (s *stats) mismatch(r Mismatch) {
	if math.IsInf(r.MaxAbsDiff, 0) { // JSON has no infinity
		r.MaxAbsDiff = math.MaxFloat64
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mismatches.add(r, mismatchesKept)
	if r.Top1Agree != nil && !*r.Top1Agree {
		s.flips.add(r, mismatchesKept)
	}
}

// The /admin/shadow view: ListView lists every configured shadow's
// StatsView in config order.
type (
	ListView struct {
		Shadows []StatsView `json:"shadows"`
	}
	StatsView struct {
		Tenant            string            `json:"tenant"`
		Model             string            `json:"model"`
		Version           string            `json:"version"`
		Percent           float64           `json:"percent"`
		Tolerance         float64           `json:"tolerance"`
		RelativeTolerance float64           `json:"relative_tolerance"`
		Requests          uint64            `json:"requests"`
		Outcomes          map[string]uint64 `json:"outcomes"`
		Dropped           map[string]uint64 `json:"dropped_by_reason"`
		// AgreementRate is match / (match + mismatch); null before the
		// first comparison.
		AgreementRate *float64 `json:"agreement_rate"`
		// Top1AgreementRate is over comparisons with class scores or
		// class labels (internal/compare).
		Top1AgreementRate *float64    `json:"top1_agreement_rate"`
		Top1Compared      uint64      `json:"top1_compared"`
		Latency           LatencyView `json:"latency"`
		Queue             QueueView   `json:"queue"`
		LastMismatches    []Mismatch  `json:"last_mismatches"`
		// LastTop1Flips are the last mismatches whose top-1 answer (class
		// or argmax) changed, newest first, kept apart from LastMismatches.
		LastTop1Flips []Mismatch `json:"last_top1_flips"`
	}
	LatencyView struct {
		Samples      int     `json:"samples"`
		PrimaryP50ms float64 `json:"primary_p50_ms"`
		PrimaryP95ms float64 `json:"primary_p95_ms"`
		ShadowP50ms  float64 `json:"shadow_p50_ms"`
		ShadowP95ms  float64 `json:"shadow_p95_ms"`
		// ShadowToPrimaryP50 is shadow p50 / primary p50 ("1.4× slower").
		ShadowToPrimaryP50 *float64 `json:"shadow_to_primary_p50"`
	}
	QueueView struct {
		Length   int `json:"length"`
		Capacity int `json:"capacity"`
		Workers  int `json:"workers"`
		// Bytes are the request and primary-answer bytes the model's
		// copies hold (captured, queued or in a call); at most MaxBytes
		// (shadow.max_queue_bytes).
		Bytes    int64 `json:"bytes"`
		MaxBytes int64 `json:"max_bytes"`
		// Stopped: the pool takes no more copies (its shadow was changed
		// or removed by a reload, or the gateway is shutting down).
		Stopped bool `json:"stopped,omitempty"`
	}
)

// View is the route's entry in GET /admin/shadow: its settings, counts,
// rates, latency percentiles, queue, last mismatches and last top-1 flips
// (newest first).
func (sr *Route) View() StatsView {
	s := sr.stats
	v := StatsView{
		Tenant: sr.tenant, Model: sr.model, Version: sr.target.Name,
		Percent: sr.percent, Tolerance: sr.opts.Tolerance, RelativeTolerance: sr.opts.RelativeTolerance,
		Outcomes: map[string]uint64{}, Dropped: map[string]uint64{},
		Queue: QueueView{Length: len(sr.pool.jobs), Capacity: cap(sr.pool.jobs), Workers: sr.pool.key.workers,
			Bytes: sr.pool.heldBytes(), MaxBytes: sr.pool.key.maxBytes, Stopped: sr.pool.isStopped()},
	}
	for _, o := range observability.ShadowOutcomes() {
		n := s.outcomes[o].Load()
		v.Outcomes[o.String()] = n
		v.Requests += n
	}
	for r := range numDropReasons {
		v.Dropped[dropReasonNames[r]] = s.drops[r].Load()
	}
	if m, mm := v.Outcomes["match"], v.Outcomes["mismatch"]; m+mm > 0 {
		v.AgreementRate = ptr(float64(m) / float64(m+mm))
	}
	v.Top1Compared = s.top1Total.Load()
	if v.Top1Compared > 0 {
		v.Top1AgreementRate = ptr(float64(s.top1Agree.Load()) / float64(v.Top1Compared))
	}
	s.mu.Lock()
	p, sh := slices.Clone(s.primaryLat), slices.Clone(s.shadowLat)
	v.LastMismatches, v.LastTop1Flips = s.mismatches.copy(), s.flips.copy()
	s.mu.Unlock()
	// Workers record in the order their comparisons finish, not the order
	// the calls started: newest first by the record's time.
	newestFirst := func(a, b Mismatch) int { return b.Time.Compare(a.Time) }
	slices.SortStableFunc(v.LastMismatches, newestFirst)
	slices.SortStableFunc(v.LastTop1Flips, newestFirst)
	v.Latency.Samples = len(p)
	if len(p) > 0 {
		slices.Sort(p)
		slices.Sort(sh)
		v.Latency.PrimaryP50ms, v.Latency.PrimaryP95ms = ms(quantile(p, 0.5)), ms(quantile(p, 0.95))
		v.Latency.ShadowP50ms, v.Latency.ShadowP95ms = ms(quantile(sh, 0.5)), ms(quantile(sh, 0.95))
		if v.Latency.PrimaryP50ms > 0 {
			v.Latency.ShadowToPrimaryP50 = ptr(v.Latency.ShadowP50ms / v.Latency.PrimaryP50ms)
		}
	}
	return v
}

// quantile returns the q-quantile of sorted (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func ptr[T any](v T) *T { return &v }
