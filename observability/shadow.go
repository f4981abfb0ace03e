package observability

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// ShadowOutcome is the result of one shadowed request, the outcome label of
// modelgate_shadow_requests_total.
type ShadowOutcome uint8

// Shadow outcomes.
const (
	// ShadowMatch: both answered 2xx JSON and the answers agree.
	ShadowMatch ShadowOutcome = iota
	// ShadowMismatch: both answered 2xx JSON and the answers differ.
	ShadowMismatch
	// ShadowError: the shadow failed (non-2xx, timeout, unreachable,
	// unreadable: not JSON, an unknown Content-Encoding, or over
	// shadow.max_body_bytes as sent or once decompressed).
	ShadowError
	// ShadowPrimaryError: the primary did not answer 2xx JSON (or its
	// answer decompresses to more than shadow.max_body_bytes); nothing to
	// compare.
	ShadowPrimaryError
	// ShadowDropped: the copy was not sent (queue full, request or primary
	// answer over shadow.max_body_bytes, shadow.max_queue_bytes reached,
	// shadow removed by a reload, shutdown).
	ShadowDropped
	numShadowOutcomes
)

var shadowOutcomeNames = [numShadowOutcomes]string{"match", "mismatch", "shadow_error", "primary_error", "dropped"}

// String returns the label value.
func (o ShadowOutcome) String() string { return shadowOutcomeNames[o] }

// ShadowOutcomes lists every outcome in label order.
func ShadowOutcomes() []ShadowOutcome {
	return []ShadowOutcome{ShadowMatch, ShadowMismatch, ShadowError, ShadowPrimaryError, ShadowDropped}
}

// DiffBuckets are the buckets of modelgate_shadow_max_abs_diff: 0 (exact)
// then decades from 1e-9 to 10.
var DiffBuckets = []float64{0, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1, 10}

// ShadowMetrics are the shadow-traffic collectors, registered on the
// gateway's registry by NewMetrics.
type ShadowMetrics struct {
	requests   *prometheus.CounterVec
	maxAbsDiff *prometheus.HistogramVec
	top1       *prometheus.CounterVec
	duration   *prometheus.HistogramVec

	mu     sync.Mutex // guards series and the creation and retirement of their children
	series map[shadowKey]*ShadowSeries
}

type shadowKey struct{ tenant, model, version string }

func newShadowMetrics(reg prometheus.Registerer) *ShadowMetrics {
	vlabels := []string{"tenant", "model", "version"}
	diff := histogramOpts("shadow_max_abs_diff",
		"Largest absolute difference between a number in the primary's answer and the shadow's, per compared request.")
	diff.Buckets = DiffBuckets
	s := &ShadowMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "modelgate", Name: "shadow_requests_total",
			Help: "Shadowed requests by tenant, model, shadow version and outcome (match, mismatch, shadow_error, primary_error, dropped).",
		}, []string{"tenant", "model", "version", "outcome"}),
		maxAbsDiff: prometheus.NewHistogramVec(diff, vlabels),
		top1: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "modelgate", Name: "shadow_top1_total",
			Help: "Compared requests with class scores, by whether every row's top-1 (argmax) class agreed.",
		}, []string{"tenant", "model", "version", "agree"}),
		duration: prometheus.NewHistogramVec(histogramOpts("shadow_duration_seconds",
			"Latency of shadow calls by tenant, model and shadow version (compare with modelgate_upstream_duration_seconds)."), vlabels),
		series: map[shadowKey]*ShadowSeries{},
	}
	reg.MustRegister(s.requests, s.maxAbsDiff, s.top1, s.duration)
	return s
}

// Shadow returns the shadow-traffic collectors.
func (m *Metrics) Shadow() *ShadowMetrics { return m.shadow }

// ShadowSeries are the handles of one tenant/model/shadow version, so
// recording never hashes label values. Their children are created together
// by the first shadowed request (see series.go): every outcome and both
// top-1 values then show as 0 until they happen.
type ShadowSeries struct {
	sm      *ShadowMetrics
	labels  [3]string
	retired bool // guarded by sm.mu
	h       atomic.Pointer[shadowHandles]

	MaxAbsDiff ShadowObserver
	Top1Agree  ShadowCounter
	Top1Differ ShadowCounter
	Duration   ShadowObserver
}

type shadowHandles struct {
	outcomes             [numShadowOutcomes]prometheus.Counter
	maxAbsDiff, duration prometheus.Observer
	top1                 [2]prometheus.Counter // differ, agree
}

var discardShadow = func() *shadowHandles {
	h := &shadowHandles{maxAbsDiff: discardHistogram, duration: discardHistogram, top1: [2]prometheus.Counter{discardCounter, discardCounter}}
	for o := range h.outcomes {
		h.outcomes[o] = discardCounter
	}
	return h
}()

// Series returns the handles of one tenant/model/shadow version: the same
// ones until Forget.
func (s *ShadowMetrics) Series(tenant, model, version string) *ShadowSeries {
	k := shadowKey{tenant, model, version}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.series[k]
	if ss == nil {
		ss = &ShadowSeries{sm: s, labels: [3]string{tenant, model, version}}
		ss.MaxAbsDiff = ShadowObserver{ss, false}
		ss.Duration = ShadowObserver{ss, true}
		ss.Top1Agree = ShadowCounter{ss, 1}
		ss.Top1Differ = ShadowCounter{ss, 0}
		s.series[k] = ss
	}
	return ss
}

func (ss *ShadowSeries) handles() *shadowHandles {
	if h := ss.h.Load(); h != nil {
		return h
	}
	s := ss.sm
	s.mu.Lock()
	defer s.mu.Unlock()
	if h := ss.h.Load(); h != nil {
		return h
	}
	if ss.retired {
		return discardShadow
	}
	t, m, v := ss.labels[0], ss.labels[1], ss.labels[2]
	h := &shadowHandles{
		maxAbsDiff: s.maxAbsDiff.WithLabelValues(t, m, v),
		duration:   s.duration.WithLabelValues(t, m, v),
		top1:       [2]prometheus.Counter{s.top1.WithLabelValues(t, m, v, "false"), s.top1.WithLabelValues(t, m, v, "true")},
	}
	for o := range numShadowOutcomes {
		h.outcomes[o] = s.requests.WithLabelValues(t, m, v, o.String())
	}
	ss.h.Store(h)
	return h
}

// Outcome counts one shadowed request.
func (ss *ShadowSeries) Outcome(o ShadowOutcome) { ss.handles().outcomes[o].Inc() }

// ShadowObserver is one of a ShadowSeries' histograms.
type ShadowObserver struct {
	ss       *ShadowSeries
	duration bool
}

// Observe adds one observation.
func (o ShadowObserver) Observe(v float64) {
	h := o.ss.handles()
	if o.duration {
		h.duration.Observe(v)
	} else {
		h.maxAbsDiff.Observe(v)
	}
}

// ShadowCounter is one of a ShadowSeries' top-1 counters.
type ShadowCounter struct {
	ss    *ShadowSeries
	agree int
}

// Inc adds one.
func (c ShadowCounter) Inc() { c.ss.handles().top1[c.agree].Inc() }

// Forget deletes the series of a shadow no longer configured; its handles
// record into discarded metrics from then on.
func (s *ShadowMetrics) Forget(tenant, model, version string) {
	k := shadowKey{tenant, model, version}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.series[k]
	if ss == nil {
		return
	}
	delete(s.series, k)
	ss.retired = true
	if h := ss.h.Swap(discardShadow); h != nil && h != discardShadow {
		for o := range numShadowOutcomes {
			s.requests.DeleteLabelValues(tenant, model, version, o.String())
		}
		s.maxAbsDiff.DeleteLabelValues(tenant, model, version)
		s.duration.DeleteLabelValues(tenant, model, version)
		s.top1.DeleteLabelValues(tenant, model, version, "true")
		s.top1.DeleteLabelValues(tenant, model, version, "false")
	}
}
