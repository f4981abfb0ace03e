package gateway

import (
	"iter"

	"github.com/modelgate/modelgate/observability"
)

// VersionCounts is one tenant/model/version's cumulative counts, read from
// the gateway's own metrics (observability.Metrics.VersionCounts): GET
// /admin/stats reads it (admin.Stats).
func (g *Gateway) VersionCounts(tenant, model, version string) observability.VersionCounts {
	return g.metrics.VersionCounts(tenant, model, version)
}

// EndpointSamples lists every endpoint of the serving config once per
// tenant/model/version that routes to it, with its health-check verdict,
// breaker state and requests in flight, as the endpoint gauges export them
// (admin.Stats).
func (g *Gateway) EndpointSamples() iter.Seq[observability.EndpointSample] {
	return g.endpointSamples()
}
