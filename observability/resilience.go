package observability

import (
	"iter"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Breaker states as exported by modelgate_breaker_state.
const (
	BreakerClosed   = 0
	BreakerHalfOpen = 1
	BreakerOpen     = 2
)

// EndpointSample is one endpoint's state as seen by one tenant/model/version
// that routes to it. An endpoint URL used by several versions appears once
// per version, with the same (endpoint-wide) values.
type EndpointSample struct {
	Tenant, Model, Version, Endpoint string
	// BreakerState is BreakerClosed, BreakerHalfOpen or BreakerOpen
	// (BreakerClosed when breakers are disabled).
	BreakerState int
	// Up is the active health-check verdict (true when checks are disabled).
	Up bool
	// InFlight is the endpoint's requests in flight, all versions together.
	InFlight int64
	// Idle is set while the version has served no request (its Series is
	// not Used): then only modelgate_endpoint_up is exported for it, the
	// one gauge that can alert before any traffic.
	Idle bool
}

// Resilience holds the metrics of breakers, health checks, retries and
// fallbacks. Per-endpoint gauges are read at scrape time from the source set
// with SetEndpointSource, so they cost nothing on the request path and
// disappear with the config that stops using an endpoint. Retry and
// fallback counters are created on first use, through Series.Retries and
// Scope.Fallback.
type Resilience struct {
	retries   *prometheus.CounterVec
	fallbacks *prometheus.CounterVec
	endpoints *endpointCollector
}

func newResilience(reg prometheus.Registerer) *Resilience {
	r := &Resilience{
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "modelgate", Name: "retries_total",
			Help: "Upstream retries on another endpoint of the same version, by tenant, model and version.",
		}, []string{"tenant", "model", "version"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "modelgate", Name: "fallbacks_total",
			Help: "Requests the chosen version could not serve, sent to the model's fallback version.",
		}, []string{"tenant", "model", "from", "to"}),
		endpoints: &endpointCollector{
			breaker: prometheus.NewDesc("modelgate_breaker_state",
				"Circuit breaker of an endpoint: 0 closed, 1 half-open, 2 open.", endpointLabels, nil),
			up: prometheus.NewDesc("modelgate_endpoint_up",
				"1 if the endpoint passes its active health checks (or checks are disabled), else 0.", endpointLabels, nil),
			inFlight: prometheus.NewDesc("modelgate_endpoint_in_flight",
				"Requests in flight to the endpoint (all versions and models using it).", endpointLabels, nil),
		},
	}
	reg.MustRegister(r.retries, r.fallbacks, r.endpoints)
	return r
}

var endpointLabels = []string{"tenant", "model", "version", "endpoint"}

// SetEndpointSource sets the function that lists endpoint states at scrape
// time (the REST gateway's). It may be called once at startup; until then
// nothing is exported from it.
func (r *Resilience) SetEndpointSource(src func() iter.Seq[EndpointSample]) {
	r.endpoints.src.Store(&src)
}

// AddEndpointSource adds another source of endpoint states, listed after
// SetEndpointSource's at each scrape, until remove is called (idempotent).
// Its endpoints must not share a label set with another source's: the gRPC
// proxy names its addresses "grpc://host:port", REST endpoints are
// http(s):// URLs.
func (r *Resilience) AddEndpointSource(src func() iter.Seq[EndpointSample]) (remove func()) {
	c := r.endpoints
	c.mu.Lock()
	defer c.mu.Unlock()
	id := c.next
	c.next++
	if c.extra == nil {
		c.extra = map[int]func() iter.Seq[EndpointSample]{}
	}
	c.extra[id] = src
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.extra, id)
	}
}

// endpointCollector exports the per-endpoint gauges from the current
// sources, so their label sets always match the config now serving.
type endpointCollector struct {
	breaker, up, inFlight *prometheus.Desc
	src                   atomic.Pointer[func() iter.Seq[EndpointSample]]

	mu    sync.Mutex // guards extra and next
	extra map[int]func() iter.Seq[EndpointSample]
	next  int
}

func (c *endpointCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.breaker
	ch <- c.up
	ch <- c.inFlight
}

func (c *endpointCollector) Collect(ch chan<- prometheus.Metric) {
	var srcs []func() iter.Seq[EndpointSample]
	if src := c.src.Load(); src != nil {
		srcs = append(srcs, *src)
	}
	c.mu.Lock()
	ids := slices.Sorted(maps.Keys(c.extra))
	for _, id := range ids {
		srcs = append(srcs, c.extra[id])
	}
	c.mu.Unlock()
	for _, src := range srcs {
		c.collect(ch, src)
	}
}

func (c *endpointCollector) collect(ch chan<- prometheus.Metric, src func() iter.Seq[EndpointSample]) {
	for s := range src() {
		lv := []string{s.Tenant, s.Model, s.Version, s.Endpoint}
		up := 0.0
		if s.Up {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up, lv...)
		if !s.Idle {
			ch <- prometheus.MustNewConstMetric(c.breaker, prometheus.GaugeValue, float64(s.BreakerState), lv...)
			ch <- prometheus.MustNewConstMetric(c.inFlight, prometheus.GaugeValue, float64(s.InFlight), lv...)
		}
	}
}
