package grpcproxy

import (
	"iter"

	"github.com/modelgate/modelgate/observability"
	"github.com/sony/gobreaker/v2"
)

// EndpointScheme prefixes a gRPC address in the endpoint label of the
// per-endpoint gauges (modelgate_breaker_state, modelgate_endpoint_up,
// modelgate_endpoint_in_flight): "grpc://10.0.0.5:9000", told apart from
// REST endpoints, which are http(s):// URLs.
const EndpointScheme = "grpc://"

// endpointSamples lists, at scrape time, every gRPC address of the
// serving config once per tenant/model/version that routes to it, as the
// REST gateway lists its endpoints (the proxy adds it as a second source
// of observability.Resilience in New, and removes it when it closes).
// Idle follows the version's series, which both protocols share.
func (p *Proxy) endpointSamples() iter.Seq[observability.EndpointSample] {
	return func(yield func(observability.EndpointSample) bool) {
		snap := p.snap.Load()
		if snap == nil {
			return
		}
		for _, t := range snap.tenants {
			for _, m := range t.models {
				for _, v := range m.versions {
					for _, e := range v.endpoints {
						if !yield(observability.EndpointSample{
							Tenant: m.tenant, Model: m.name, Version: v.name, Endpoint: EndpointScheme + e.addr,
							BreakerState: e.breakerState(), Up: !e.down.Load(), InFlight: e.load(),
							Idle: !v.series.Used(),
						}) {
							return
						}
					}
				}
			}
		}
	}
}

// breakerState is the endpoint's breaker state as the gauge exports it
// (closed when breakers are disabled).
func (e *endpoint) breakerState() int {
	b := e.brk.Load()
	if b == nil {
		return observability.BreakerClosed
	}
	switch b.cb.State() {
	case gobreaker.StateOpen:
		return observability.BreakerOpen
	case gobreaker.StateHalfOpen:
		return observability.BreakerHalfOpen
	}
	return observability.BreakerClosed
}
