// Package observability owns modelgate's metrics, logs and traces. Label
// values come only from config (tenant, model and version names), never from
// raw client input, so the number of series is bounded by the config; series
// are created on first use (series.go), so it is bounded by the traffic too.
package observability

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// LatencyBuckets are the classic histogram buckets for model latencies,
// 1 ms to 30 s, about ×2.5 apart (10 buckets: 13 series per histogram with
// +Inf, _sum and _count). Native histograms, exported alongside them, give
// the fine resolution.
var LatencyBuckets = []float64{.001, .005, .01, .025, .05, .1, .25, 1, 5, 30}

// Roles of a request in the role label: the primary request a client is
// answered from, or a shadow copy whose answer is only compared.
const (
	RolePrimary = "primary"
	RoleShadow  = "shadow"
)

// Rejection reasons for modelgate_rejected_requests_total. Those refused
// before authentication (unauthorized, bad_request, not_found of a path,
// method_not_allowed, body_too_large, header_too_large, request_timeout)
// have empty tenant and model labels.
const (
	ReasonUnauthorized   = "unauthorized"
	ReasonNotFound       = "not_found"
	ReasonBadRequest     = "bad_request"
	ReasonBodyTooLarge   = "body_too_large"
	ReasonHeaderTooLarge = "header_too_large"
	ReasonTimeout        = "request_timeout"
	ReasonRateLimited    = "rate_limited"
	ReasonConcurrency    = "concurrency"
	// ReasonTokenLimited counts OpenAI requests refused by a
	// limits.tokens_per_minute budget.
	ReasonTokenLimited = "tokens_per_minute"
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
	queued           *prometheus.GaugeVec
	queueWait        *prometheus.HistogramVec

	reloads        *prometheus.CounterVec
	reloadOK       prometheus.Gauge
	reloadTime     prometheus.Gauge
	configInfo     *prometheus.GaugeVec
	lastConfigHash atomic.Pointer[string]

	shadow *ShadowMetrics // shadow.go
	llm    *llmMetrics    // llm.go
	// Resilience holds the breaker, health, retry and fallback metrics.
	Resilience *Resilience

	// mu guards the handle maps and the creation and retirement of series
	// behind every handle (series.go, scope.go).
	mu     sync.RWMutex
	series map[seriesKey]*Series
	scopes map[scopeKey]*Scope
	global *Scope // tenant-less rejections

	redisOnce sync.Once
	redisUp   prometheus.Gauge // state.go
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
		queued: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "modelgate", Name: "queued_requests",
			Help: "Requests waiting for a concurrency slot (max_in_flight), by tenant and model (empty for a tenant-wide queue).",
		}, []string{"tenant", "model"}),
		queueWait: prometheus.NewHistogramVec(histogramOpts("queue_wait_seconds",
			"Time requests waited for a concurrency slot, admitted or not, by tenant and model (empty for a tenant-wide queue): a scaling signal."),
			[]string{"tenant", "model"}),
		series: map[seriesKey]*Series{},
		scopes: map[scopeKey]*Scope{},
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
	m.global = &Scope{m: m}
	m.Registry.MustRegister(m.requests, m.duration, m.upstreamDuration, m.inFlight, m.rejected, m.queued, m.queueWait,
		m.reloads, m.reloadOK, m.reloadTime, m.configInfo, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.shadow = newShadowMetrics(m.Registry)
	m.Resilience = newResilience(m.Registry)
	m.llm = newLLMMetrics(m.Registry)
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

// Rejected counts a request refused before reaching a model. tenant and
// model are "" when unknown (refused before authentication or the model
// lookup); otherwise they name a configured tenant (model "") or model,
// whose Scope the count goes to. A request of a tenant or model that is no
// longer configured (it raced a reload) is not counted, so no series of it
// comes back.
func (m *Metrics) Rejected(tenant, model, reason string) {
	sc := m.global
	if tenant != "" || model != "" {
		m.mu.RLock()
		sc = m.scopes[scopeKey{tenant, model}]
		m.mu.RUnlock()
		if sc == nil {
			return
		}
	}
	sc.Rejected(reason)
}

// Series returns the handle of one tenant/model/version in a role
// (RolePrimary or RoleShadow): the same one while the version stays
// configured, so the routing snapshot caches it and the hot path never
// hashes label values. Its series are created on first use. Forget it when
// the version leaves the config.
func (m *Metrics) Series(tenant, model, version, role string) *Series {
	k := seriesKey{tenant, model, version, role}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.series[k]
	if s == nil {
		s = newSeries(m, tenant, model, version, role)
		m.series[k] = s
	}
	return s
}

// Forget deletes every series (all roles, and fallbacks from or to it) of
// a tenant/model/version no longer configured.
func (m *Metrics) Forget(tenant, model, version string) {
	m.ForgetRole(tenant, model, version, RolePrimary)
	m.ForgetRole(tenant, model, version, RoleShadow)
}

// ForgetRole deletes the series of one role of a tenant/model/version, e.g.
// the shadow-role series when a model's shadow is removed while the version
// stays configured.
func (m *Metrics) ForgetRole(tenant, model, version, role string) {
	k := seriesKey{tenant, model, version, role}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.series[k]
	if s == nil {
		return
	}
	delete(m.series, k)
	s.retire()
	if sc := m.scopes[scopeKey{tenant, model}]; sc != nil && role == RolePrimary {
		sc.forgetFallbacks(s)
	}
}

// Scope returns the handle of a configured tenant (model "") or tenant's
// model: the same one while it stays configured. Its series are created on
// first use. Forget it with ForgetScope when it leaves the config.
func (m *Metrics) Scope(tenant, model string) *Scope {
	k := scopeKey{tenant, model}
	m.mu.Lock()
	defer m.mu.Unlock()
	sc := m.scopes[k]
	if sc == nil {
		sc = &Scope{m: m, tenant: tenant, model: model}
		m.scopes[k] = sc
	}
	return sc
}

// ForgetScope deletes every series of a tenant (model "") or model no
// longer configured: its rejections, queue and fallbacks.
func (m *Metrics) ForgetScope(tenant, model string) {
	k := scopeKey{tenant, model}
	m.mu.Lock()
	defer m.mu.Unlock()
	if sc := m.scopes[k]; sc != nil {
		delete(m.scopes, k)
		sc.retire()
	}
}

type (
	seriesKey struct{ tenant, model, version, role string }
	scopeKey  struct{ tenant, model string }
)
