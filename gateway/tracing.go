package gateway

import (
	"context"
	"strconv"
	"time"

	"github.com/modelgate/modelgate/gateway/shadow"
	"github.com/modelgate/modelgate/gateway/upstream"
	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/router"
	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

func serverSpanName(k router.Kind) string {
	switch k {
	case router.KindInfer:
		return "POST /v2/models/{model}/infer"
	case router.KindModelMeta:
		return "GET /v2/models/{model}"
	case router.KindModelReady:
		return "GET /v2/models/{model}/ready"
	case router.KindPredict:
		return "POST /v1/models/{model}:predict"
	case router.KindExplain:
		return "POST /v1/models/{model}:explain"
	case router.KindChat:
		return "POST /v1/chat/completions"
	case router.KindCompletion:
		return "POST /v1/completions"
	case router.KindEmbedding:
		return "POST /v1/embeddings"
	default:
		return "GET /v1/models/{model}"
	}
}

// UseTracing makes the gateway trace requests with t (nil: no tracing).
// Safe to call at any time; requests already running keep their spans.
func (g *Gateway) UseTracing(t *observability.Tracing) { g.tracing.Store(t) }

// startServerSpan extracts the caller's trace context and baggage from the
// request headers and starts the server span of a proxied request.
func (o *requestObs) startServerSpan(tr trace.Tracer, ctx *fasthttp.RequestCtx, kind router.Kind) {
	parent := observability.Propagator.Extract(context.Background(), observability.HeaderCarrier{H: &ctx.Request.Header})
	o.tracer = tr
	o.sctx, o.span = tr.Start(parent, serverSpanName(kind),
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(o.start),
		trace.WithAttributes(observability.AttrMethod.String(kind.Method()), observability.AttrRole.String(observability.RolePrimary)))
}

// endServerSpan records the outcome and ends the server span.
func (o *requestObs) endServerSpan(code int, cause error) {
	o.span.SetAttributes(observability.AttrTenant.String(o.tenant), observability.AttrModel.String(o.model),
		observability.AttrVersion.String(o.version), observability.AttrStatus.Int(code))
	if code >= 500 {
		msg := "status " + strconv.Itoa(code)
		if cause != nil {
			msg = cause.Error()
		}
		o.span.SetStatus(codes.Error, msg)
	}
	o.span.End()
}

// doUpstream sends ctx.Request to ep and fills ctx.Response: one upstream
// attempt. It is the traced form of Endpoint.Do; a retrying
// forward calls it once per attempt, with the version being tried.
//
// When the request is observed (tracing or access log on) it runs the
// attempt in a client span (child of the server span) whose context is
// injected as traceparent/tracestate/baggage toward the container, and adds
// the attempt's time and error to the access log record. Otherwise it is a
// plain Endpoint.Do.
func (g *Gateway) doUpstream(ctx *fasthttp.RequestCtx, ep *upstream.Endpoint, version *versionRoute, deadline time.Time) error {
	return g.doUpstreamInto(ctx, ep, version, &ctx.Response, deadline)
}

// doUpstreamInto is doUpstream reading the answer into resp (a streamed
// call's own response, openai_stream.go).
func (g *Gateway) doUpstreamInto(ctx *fasthttp.RequestCtx, ep *upstream.Endpoint, version *versionRoute, resp *fasthttp.Response, deadline time.Time) error {
	o, _ := ctx.UserValue(obsKey{}).(*requestObs)
	if o == nil {
		return ep.Do(&ctx.Request, resp, deadline)
	}
	o.version = version.name
	o.attempts++
	t0 := time.Now()
	var err error
	if o.span != nil {
		span := startClientSpan(o.sctx, o.tracer, observability.SpanUpstream, &ctx.Request.Header,
			observability.AttrVersion.String(version.name), observability.AttrEndpoint.String(string(ep.Host())),
			observability.AttrRole.String(observability.RolePrimary), observability.AttrAttempt.Int(o.attempts))
		err = ep.Do(&ctx.Request, resp, deadline)
		observability.EndClientSpan(span, resp, err)
	} else {
		err = ep.Do(&ctx.Request, resp, deadline)
	}
	o.upstream += time.Since(t0)
	o.upstreamErr = err
	return err
}

// startClientSpan starts a client span under parent and injects its context
// (and parent's baggage) into h.
func startClientSpan(parent context.Context, tr trace.Tracer, name string, h *fasthttp.RequestHeader, attrs ...attribute.KeyValue) trace.Span {
	cctx, span := tr.Start(parent, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	observability.Propagator.Inject(cctx, observability.HeaderCarrier{H: h})
	return span
}

// shadowTraceOf captures the primary request's trace for a shadow copy. Call
// it on the request path, before the handler returns.
func shadowTraceOf(ctx *fasthttp.RequestCtx) shadow.Trace {
	o, _ := ctx.UserValue(obsKey{}).(*requestObs)
	if o == nil {
		return shadow.Trace{}
	}
	return shadow.TraceOf(o.span, o.tracer)
}
