package observability

import "github.com/prometheus/client_golang/prometheus"

// ReasonTimeout counts requests not read within server.read_timeout in
// modelgate_rejected_requests_total.
const ReasonTimeout = "request_timeout"

// AdmissionMetrics are the admission-control collectors:
// modelgate_queued_requests{tenant,model} and
// modelgate_queue_wait_seconds{tenant,model}. A tenant-wide queue has
// model="". The histogram has LatencyBuckets plus native buckets.
// Rejections go to Metrics' modelgate_rejected_requests_total.
type AdmissionMetrics struct {
	m         *Metrics
	queued    *prometheus.GaugeVec
	queueWait *prometheus.HistogramVec
}

// NewAdmissionMetrics creates and registers the admission collectors on
// m.Registry. Call it once per Metrics.
func NewAdmissionMetrics(m *Metrics) *AdmissionMetrics {
	a := &AdmissionMetrics{
		m: m,
		queued: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "modelgate", Name: "queued_requests",
			Help: "Requests waiting for a concurrency slot (max_in_flight), by tenant and model (empty for a tenant-wide queue).",
		}, []string{"tenant", "model"}),
		queueWait: prometheus.NewHistogramVec(histogramOpts("queue_wait_seconds",
			"Time requests waited for a concurrency slot, admitted or not, by tenant and model (empty for a tenant-wide queue): a scaling signal."),
			[]string{"tenant", "model"}),
	}
	m.Registry.MustRegister(a.queued, a.queueWait)
	return a
}

// Queue returns the handles of one queue (model "" for a tenant's).
func (a *AdmissionMetrics) Queue(tenant, model string) QueueSeries {
	return QueueSeries{
		Queued: a.queued.WithLabelValues(tenant, model),
		Wait:   a.queueWait.WithLabelValues(tenant, model),
	}
}

// Rejections returns the rate-limit and concurrency rejection counters of
// requests for tenant's model, so the request path does not hash labels.
func (a *AdmissionMetrics) Rejections(tenant, model string) RejectSeries {
	return RejectSeries{
		RateLimited: a.m.rejected.WithLabelValues(tenant, model, ReasonRateLimited),
		Concurrency: a.m.rejected.WithLabelValues(tenant, model, ReasonConcurrency),
	}
}

// ForgetQueue deletes a queue's series (its tenant or model left the config
// or lost its limits).
func (a *AdmissionMetrics) ForgetQueue(tenant, model string) {
	a.queued.DeleteLabelValues(tenant, model)
	a.queueWait.DeleteLabelValues(tenant, model)
}

// ForgetRejections deletes the admission rejection series of tenant's model.
func (a *AdmissionMetrics) ForgetRejections(tenant, model string) {
	a.m.rejected.DeleteLabelValues(tenant, model, ReasonRateLimited)
	a.m.rejected.DeleteLabelValues(tenant, model, ReasonConcurrency)
}

// QueueSeries are one queue's handles.
type QueueSeries struct {
	Queued prometheus.Gauge
	Wait   prometheus.Observer
}

// RejectSeries are one tenant/model's admission rejection counters.
type RejectSeries struct {
	RateLimited prometheus.Counter
	Concurrency prometheus.Counter
}
