package observability

import (
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
}

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
	}
	reg.MustRegister(s.requests, s.maxAbsDiff, s.top1, s.duration)
	return s
}

// Shadow returns the shadow-traffic collectors.
func (m *Metrics) Shadow() *ShadowMetrics { return m.shadow }

// ShadowSeries are the precomputed handles of one tenant/model/shadow
// version, so recording never hashes label values.
type ShadowSeries struct {
	outcomes   [numShadowOutcomes]prometheus.Counter
	MaxAbsDiff prometheus.Observer
	Top1Agree  prometheus.Counter
	Top1Differ prometheus.Counter
	Duration   prometheus.Observer
}

// Series returns the handles for one tenant/model/shadow version, creating
// every series (so outcomes show as 0 before the first request).
func (s *ShadowMetrics) Series(tenant, model, version string) *ShadowSeries {
	ss := &ShadowSeries{
		MaxAbsDiff: s.maxAbsDiff.WithLabelValues(tenant, model, version),
		Top1Agree:  s.top1.WithLabelValues(tenant, model, version, "true"),
		Top1Differ: s.top1.WithLabelValues(tenant, model, version, "false"),
		Duration:   s.duration.WithLabelValues(tenant, model, version),
	}
	for o := range numShadowOutcomes {
		ss.outcomes[o] = s.requests.WithLabelValues(tenant, model, version, o.String())
	}
	return ss
}

// Outcome counts one shadowed request.
func (ss *ShadowSeries) Outcome(o ShadowOutcome) { ss.outcomes[o].Inc() }

// Forget deletes the series of a shadow no longer configured.
func (s *ShadowMetrics) Forget(tenant, model, version string) {
	l := prometheus.Labels{"tenant": tenant, "model": model, "version": version}
	s.requests.DeletePartialMatch(l)
	s.maxAbsDiff.Delete(l)
	s.top1.DeletePartialMatch(l)
	s.duration.Delete(l)
}
