// Package observability owns modelgate's metrics, logs and traces. Label
// values come only from config (tenant, model and version names), never from
// raw client input, so the number of series is bounded by the config.
package observability

import (
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// LatencyBuckets are the classic histogram buckets for model latencies,
// 1 ms to 30 s. Native histograms are exported alongside them.
var LatencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// Roles of a request in the role label: the primary request a client is
// answered from, or a shadow copy whose answer is only compared.
const (
	RolePrimary = "primary"
	RoleShadow  = "shadow"
)

// Rejection reasons for modelgate_rejected_requests_total.
const (
	ReasonUnauthorized = "unauthorized"
	ReasonNotFound     = "not_found"
	ReasonBadRequest   = "bad_request"
	ReasonBodyTooLarge = "body_too_large"
	ReasonRateLimited  = "rate_limited"
	ReasonConcurrency  = "concurrency"
	ReasonMethod       = "method_not_allowed"
	ReasonNoEndpoint   = "no_endpoint"
	// ReasonAnswerTooLarge counts answers over server.max_answer_bytes
	// (the client got a 502).
	ReasonAnswerTooLarge = "answer_too_large"
)

// Build information, set by main from -ldflags or debug.ReadBuildInfo.
var (
	Version  = "dev"
	Revision = "unknown"
)

// Metrics is the gateway's Prometheus instrumentation, on its own registry.
type Metrics struct {
	Registry *prometheus.Registry

	requests         *prometheus.CounterVec
	duration         *prometheus.HistogramVec
	upstreamDuration *prometheus.HistogramVec
	inFlight         *prometheus.GaugeVec
	rejected         *prometheus.CounterVec

	reloads        *prometheus.CounterVec
	reloadOK       prometheus.Gauge
	reloadTime     prometheus.Gauge
	configInfo     *prometheus.GaugeVec
	lastConfigHash atomic.Pointer[string]

	shadow *ShadowMetrics // shadow.go
	// Resilience holds the breaker, health, retry and fallback metrics.
	Resilience *Resilience
}

func histogramOpts(name, help string) prometheus.HistogramOpts {
	return prometheus.HistogramOpts{
		Namespace:                       "modelgate",
		Name:                            name,
		Help:                            help,
		Buckets:                         LatencyBuckets,
		NativeHistogramBucketFactor:     1.1,
		NativeHistogramMaxBucketNumber:  160,
		NativeHistogramMinResetDuration: 0,
	}
}

// NewMetrics creates and registers every collector, plus the Go runtime and
// process collectors and modelgate_build_info.
func NewMetrics() *Metrics {
	vlabels := []string{"tenant", "model", "version", "role"}
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "modelgate", Name: "requests_total",
			Help: "Prediction requests answered, by tenant, model, serving version, role (primary or shadow) and HTTP status code.",
		}, []string{"tenant", "model", "version", "role", "code"}),
		duration: prometheus.NewHistogramVec(histogramOpts("request_duration_seconds",
			"Time from request received to response ready, by tenant, model, serving version and role."), vlabels),
		upstreamDuration: prometheus.NewHistogramVec(histogramOpts("upstream_duration_seconds",
			"Time spent waiting for model containers (all attempts), by tenant, model, version and role."), vlabels),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "modelgate", Name: "in_flight_requests",
			Help: "Requests being served right now, by tenant, model, version and role: the main scaling signal.",
		}, vlabels),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "modelgate", Name: "rejected_requests_total",
			Help: "Requests refused before reaching a model, by reason. Tenant and model are empty when unknown.",
		}, []string{"tenant", "model", "reason"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "modelgate", Name: "config_reloads_total",
			Help: "Config loads by result (success or failure).",
		}, []string{"result"}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "modelgate", Name: "config_last_reload_successful",
			Help: "1 if the last config load succeeded, 0 if it failed and the previous config still serves.",
		}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "modelgate", Name: "config_last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful config load.",
		}),
		configInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "modelgate", Name: "config_info",
			Help: "Always 1; the hash label is the SHA-256 of the config file now serving.",
		}, []string{"hash"}),
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "modelgate", Name: "build_info",
		Help:        "Always 1; labels describe the running build.",
		ConstLabels: prometheus.Labels{"version": Version, "revision": Revision},
	})
	build.Set(1)
	m.Registry.MustRegister(m.requests, m.duration, m.upstreamDuration, m.inFlight, m.rejected,
		m.reloads, m.reloadOK, m.reloadTime, m.configInfo, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.shadow = newShadowMetrics(m.Registry)
	m.Resilience = newResilience(m.Registry)
	return m
}

// Reloaded records a config load's outcome. hash is the new config's hash on
// success.
func (m *Metrics) Reloaded(ok bool, hash string, unixTime float64) {
	if !ok {
		m.reloads.WithLabelValues("failure").Inc()
		m.reloadOK.Set(0)
		return
	}
	m.reloads.WithLabelValues("success").Inc()
	m.reloadOK.Set(1)
	m.reloadTime.Set(unixTime)
	if old := m.lastConfigHash.Swap(&hash); old != nil && *old != hash {
		m.configInfo.DeleteLabelValues(*old)
	}
	m.configInfo.WithLabelValues(hash).Set(1)
}

// Rejected counts a request refused before reaching a model.
func (m *Metrics) Rejected(tenant, model, reason string) {
	m.rejected.WithLabelValues(tenant, model, reason).Inc()
}

// Series returns the handles for one tenant/model/version in a role
// (RolePrimary or RoleShadow), creating the series. Handles are cached by the
// caller (the routing snapshot), so the hot path never hashes label values.
func (m *Metrics) Series(tenant, model, version, role string) *Series {
	return &Series{
		m:        m,
		labels:   [4]string{tenant, model, version, role},
		InFlight: m.inFlight.WithLabelValues(tenant, model, version, role),
		Duration: m.duration.WithLabelValues(tenant, model, version, role),
		Upstream: m.upstreamDuration.WithLabelValues(tenant, model, version, role),
	}
}

// Forget deletes every series (all roles) of a tenant/model/version no
// longer configured.
func (m *Metrics) Forget(tenant, model, version string) {
	l := prometheus.Labels{"tenant": tenant, "model": model, "version": version}
	m.requests.DeletePartialMatch(l)
	m.duration.DeletePartialMatch(l)
	m.upstreamDuration.DeletePartialMatch(l)
	m.inFlight.DeletePartialMatch(l)
	m.Resilience.forget(tenant, model, version)
}

// ForgetRole deletes the series of one role of a tenant/model/version, e.g.
// the shadow-role series when a model's shadow is removed while the version
// stays configured.
func (m *Metrics) ForgetRole(tenant, model, version, role string) {
	l := prometheus.Labels{"tenant": tenant, "model": model, "version": version, "role": role}
	m.requests.DeletePartialMatch(l)
	m.duration.DeletePartialMatch(l)
	m.upstreamDuration.DeletePartialMatch(l)
	m.inFlight.DeletePartialMatch(l)
}

// Series holds the metric handles of one tenant/model/version/role.
type Series struct {
	m        *Metrics
	labels   [4]string
	InFlight prometheus.Gauge
	Duration prometheus.Observer
	Upstream prometheus.Observer
	codes    [600]atomic.Pointer[prometheus.Counter]
}

// Request counts one answered request with its status code.
func (s *Series) Request(code int) {
	if code < 0 || code >= len(s.codes) {
		code = 0
	}
	if c := s.codes[code].Load(); c != nil {
		(*c).Inc()
		return
	}
	c := s.m.requests.WithLabelValues(s.labels[0], s.labels[1], s.labels[2], s.labels[3], strconv.Itoa(code))
	s.codes[code].Store(&c)
	c.Inc()
}
