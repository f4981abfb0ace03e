package gateway

import (
	"time"

	"github.com/valyala/fasthttp"
)

// forward sends the prepared request to one endpoint of version and leaves
// the answer (or a JSON error) in ctx.Response. It returns the status code.
func (g *Gateway) forward(ctx *fasthttp.RequestCtx, model *modelRoute, version *versionRoute, start time.Time) int {
	ep := pickP2C(version.endpoints)
	if ep == nil {
		writeError(ctx, errNoEndpoint)
		return errNoEndpoint.code
	}
	ctx.Request.URI().SetHostBytes(ep.host)
	ep.inFlight.Add(1)
	upStart := time.Now()
	err := g.doUpstream(ctx, ep, version, start.Add(model.timeout))
	version.series.Upstream.Observe(time.Since(upStart).Seconds())
	ep.inFlight.Add(-1)
	if err != nil {
		se := upstreamStatus(err)
		g.log.Warn("upstream call failed", "tenant", model.tenant, "model", model.name,
			"version", version.name, "endpoint", ep.url, "status", se.code, "err", err)
		writeError(ctx, se)
		return se.code
	}
	for _, hh := range hopHeaders {
		ctx.Response.Header.Del(hh)
	}
	return ctx.Response.StatusCode()
}
