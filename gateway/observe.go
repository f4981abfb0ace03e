package gateway

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/router"
	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel/trace"
)

// obsKey is the fasthttp user-value key of an observed request's
// *requestObs.
type obsKey struct{}

// requestObs is what the access log and the spans learn about one proxied
// request while it runs. It exists only when tracing or the access log is
// on; it is pooled and never outlives the handler.
type requestObs struct {
	start                  time.Time
	tenant, model, version string // from config; version is the last one tried
	rid                    []byte // copy of the request id
	attempts               int
	upstream               time.Duration // summed over attempts
	upstreamErr            error         // of the last attempt

	tracer trace.Tracer // nil when the request is not traced
	sctx   context.Context
	span   trace.Span
}

var obsPool = sync.Pool{New: func() any { return &requestObs{rid: make([]byte, 0, maxRequestIDLen)} }}

func (o *requestObs) reset() {
	rid := o.rid[:0]
	*o = requestObs{rid: rid}
}

// observe wraps handle with the server span and the access log line. With
// tracing and the access log both off it costs two atomic loads; so does a
// request without a caller's trace context that the sampling ratio leaves
// out (Tracing.RootSampled).
func (g *Gateway) observe(c *fiber.Ctx) error {
	tr := g.tracing.Load()
	traced := tr.Enabled()
	if traced && len(c.Context().Request.Header.Peek("traceparent")) == 0 && !tr.RootSampled() {
		// A new trace the sampling ratio leaves out: no span at all.
		traced = false
	}
	logCfg := &g.snap.Load().cfg.Logging
	if !traced && !logCfg.AccessLog {
		return g.handle(c)
	}
	ctx := c.Context()
	rt := router.ParsePath(ctx.Path())
	if !rt.Kind.Proxied() {
		return g.handle(c) // health probes and unknown paths: neither logged nor traced
	}
	o := obsPool.Get().(*requestObs)
	o.start = time.Now()
	if traced {
		o.startServerSpan(tr.Tracer(), ctx, rt.Kind)
	}
	ctx.SetUserValue(obsKey{}, o)
	err := g.handle(c)
	var cause error
	if err != nil {
		// Map the error now (as fiber would after we return) so the status
		// is known for the span and the log line.
		cause = err
		err = g.fiberError(c, err)
	} else if o.upstreamErr != nil {
		cause = o.upstreamErr
	}
	code := ctx.Response.StatusCode()
	if o.span != nil {
		o.endServerSpan(code, cause)
	}
	if logCfg.AccessLog && (code >= 500 || sampled(logCfg.AccessLogRatio())) {
		g.accessLog(ctx, o, code, cause)
	}
	ctx.RemoveUserValue(obsKey{})
	o.reset()
	obsPool.Put(o)
	return err
}

// observeRoute tells the request's observers (if any) which tenant, model
// and version it was routed to, and its request id.
func observeRoute(ctx *fasthttp.RequestCtx, tenant, model, version string, rid []byte) {
	if o, _ := ctx.UserValue(obsKey{}).(*requestObs); o != nil {
		o.tenant, o.model, o.version = tenant, model, version
		o.rid = append(o.rid[:0], rid...)
	}
}

// accessLevel is an access-log line's level: warn for 5xx answers, else info.
func accessLevel(code int) slog.Level {
	if code >= 500 {
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

func sampled(ratio float64) bool { return ratio >= 1 || ratio > 0 && rand.Float64() < ratio }

// logRefused writes the access-log line of a request fasthttp refused while
// reading it, before the handler ran (413, 431, 408), at the same level and
// under the same sampling as other lines. Nothing reliable is known of it but the status
// and the cause: no tenant, model or request id, and not even its method
// (fasthttp may have dropped the headers it read). cause is the fixed
// message the client got, never fasthttp's error text, which quotes the
// request buffer.
func (g *Gateway) logRefused(code int, cause string) {
	logCfg := &g.snap.Load().cfg.Logging
	if !logCfg.AccessLog || code < 500 && !sampled(logCfg.AccessLogRatio()) {
		return
	}
	level := accessLevel(code)
	if !g.log.Enabled(context.Background(), level) {
		return
	}
	g.log.LogAttrs(context.Background(), level, "access",
		slog.String("role", observability.RolePrimary),
		slog.Int("status", code),
		slog.String("error", cause))
}

// accessLog writes the request's line: at info, or at warn with the cause
// for 5xx answers. Requests rejected before routing carry no tenant, model,
// version or request id (401, unknown model), or only tenant and model
// (429 from limits, unknown pinned version).
func (g *Gateway) accessLog(ctx *fasthttp.RequestCtx, o *requestObs, code int, cause error) {
	level := accessLevel(code)
	if !g.log.Enabled(context.Background(), level) {
		return
	}
	attrs := make([]slog.Attr, 0, 16)
	attrs = append(attrs,
		slog.String("request_id", string(o.rid)),
		slog.String("method", string(ctx.Method())),
		slog.String("tenant", o.tenant),
		slog.String("model", o.model),
		slog.String("version", o.version),
		slog.String("role", observability.RolePrimary),
		slog.Int("status", code),
		slog.Float64("duration_seconds", time.Since(o.start).Seconds()),
		slog.Float64("upstream_seconds", o.upstream.Seconds()),
		slog.Int("attempts", o.attempts),
		slog.Int("request_bytes", max(ctx.Request.Header.ContentLength(), 0)),
		slog.Int("response_bytes", responseBytes(&ctx.Response)),
	)
	if o.span != nil {
		if sc := o.span.SpanContext(); sc.IsValid() {
			attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()))
		}
	}
	if cause != nil {
		attrs = append(attrs, slog.String("error", cause.Error()))
	}
	g.log.LogAttrs(context.Background(), level, "access", attrs...)
}

// responseBytes is the answer's body size for the access log; -1 for a
// streamed answer, still being relayed (reading its Body would buffer it).
func responseBytes(resp *fasthttp.Response) int {
	if resp.IsBodyStream() {
		return -1
	}
	return len(resp.Body())
}
