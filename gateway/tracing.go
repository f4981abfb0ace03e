package gateway

import (
	"context"
	"strconv"
	"time"

	"github.com/modelgate/modelgate/gateway/upstream"
	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/router"
	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Span attribute keys. Values come from config (tenant, model, version
// names) or from the gateway (role, status, endpoint URL); never payloads,
// keys or other client headers.
const (
	attrTenant   = attribute.Key("modelgate.tenant")
	attrModel    = attribute.Key("modelgate.model")
	attrVersion  = attribute.Key("modelgate.version")
	attrRole     = attribute.Key("modelgate.role")
	attrAttempt  = attribute.Key("modelgate.attempt")
	attrStatus   = attribute.Key("http.response.status_code")
	attrMethod   = attribute.Key("http.request.method")
	attrEndpoint = attribute.Key("server.address")
)

// Span names: the route template, never the concrete path.
const (
	spanUpstream = "modelgate.upstream"
	spanShadow   = "modelgate.shadow"
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
	default:
		return "GET /v1/models/{model}"
	}
}

// UseTracing makes the gateway trace requests with t (nil: no tracing).
// Safe to call at any time; requests already running keep their spans.
func (g *Gateway) UseTracing(t *observability.Tracing) { g.tracing.Store(t) }

// headerCarrier adapts a fasthttp request header to OpenTelemetry's
// propagation.TextMapCarrier.
type headerCarrier struct{ h *fasthttp.RequestHeader }

func (c headerCarrier) Get(key string) string { return string(c.h.Peek(key)) }
func (c headerCarrier) Set(key, value string) { c.h.Set(key, value) }
func (c headerCarrier) Keys() []string {
	var keys []string
	for k := range c.h.All() {
		keys = append(keys, string(k))
	}
	return keys
}

// startServerSpan extracts the caller's trace context and baggage from the
// request headers and starts the server span of a proxied request.
func (o *requestObs) startServerSpan(tr trace.Tracer, ctx *fasthttp.RequestCtx, kind router.Kind) {
	parent := observability.Propagator.Extract(context.Background(), headerCarrier{&ctx.Request.Header})
	o.tracer = tr
	o.sctx, o.span = tr.Start(parent, serverSpanName(kind),
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(o.start),
		trace.WithAttributes(attrMethod.String(kind.Method()), attrRole.String(observability.RolePrimary)))
}

// endServerSpan records the outcome and ends the server span.
func (o *requestObs) endServerSpan(code int, cause error) {
	o.span.SetAttributes(attrTenant.String(o.tenant), attrModel.String(o.model),
		attrVersion.String(o.version), attrStatus.Int(code))
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
// attempt. It is the traced form of ep.do; a retrying
// forward calls it once per attempt, with the version being tried.
//
// When the request is observed (tracing or access log on) it runs the
// attempt in a client span (child of the server span) whose context is
// injected as traceparent/tracestate/baggage toward the container, and adds
// the attempt's time and error to the access log record. Otherwise it is a
// plain ep.do.
func (g *Gateway) doUpstream(ctx *fasthttp.RequestCtx, ep *upstream.Endpoint, version *versionRoute, deadline time.Time) error {
	o, _ := ctx.UserValue(obsKey{}).(*requestObs)
	if o == nil {
		return ep.Do(&ctx.Request, &ctx.Response, deadline)
	}
	o.version = version.name
	o.attempts++
	t0 := time.Now()
	var err error
	if o.span != nil {
		span := startClientSpan(o.sctx, o.tracer, spanUpstream, &ctx.Request.Header,
			attrVersion.String(version.name), attrEndpoint.String(string(ep.Host())),
			attrRole.String(observability.RolePrimary), attrAttempt.Int(o.attempts))
		err = ep.Do(&ctx.Request, &ctx.Response, deadline)
		endClientSpan(span, &ctx.Response, err)
	} else {
		err = ep.Do(&ctx.Request, &ctx.Response, deadline)
	}
	o.upstream += time.Since(t0)
	o.upstreamErr = err
	return err
}

// startClientSpan starts a client span under parent and injects its context
// (and parent's baggage) into h.
func startClientSpan(parent context.Context, tr trace.Tracer, name string, h *fasthttp.RequestHeader, attrs ...attribute.KeyValue) trace.Span {
	cctx, span := tr.Start(parent, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	observability.Propagator.Inject(cctx, headerCarrier{h})
	return span
}

func endClientSpan(span trace.Span, resp *fasthttp.Response, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	} else {
		code := resp.StatusCode()
		span.SetAttributes(attrStatus.Int(code))
		if code >= 500 {
			span.SetStatus(codes.Error, "status "+strconv.Itoa(code))
		}
	}
	span.End()
}

// shadowTrace is what a shadow copy keeps of its primary request's trace. It
// is a value, valid after the primary's handler has returned. The zero
// value means "not traced".
type shadowTrace struct {
	primary trace.SpanContext
	tracer  trace.Tracer
}

// shadowTraceOf captures the primary request's trace for a shadow copy. Call
// it on the request path, before the handler returns.
func shadowTraceOf(ctx *fasthttp.RequestCtx) shadowTrace {
	o, _ := ctx.UserValue(obsKey{}).(*requestObs)
	if o == nil || o.span == nil || !o.span.SpanContext().IsSampled() {
		return shadowTrace{} // the shadow is traced only when its primary is
	}
	return shadowTrace{primary: o.span.SpanContext(), tracer: o.tracer}
}

// do sends a shadow request to ep in its own span: a new trace root of kind
// client, linked to the primary's server span, with role=shadow; the span's
// context is injected into req. Untraced (zero shadowTrace), it is a plain
// ep.do.
func (st shadowTrace) do(ep *upstream.Endpoint, req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time, tenant, model, version string) error {
	if st.tracer == nil {
		return ep.Do(req, resp, deadline)
	}
	ctx, span := st.tracer.Start(context.Background(), spanShadow,
		trace.WithNewRoot(),
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithLinks(trace.Link{SpanContext: st.primary, Attributes: []attribute.KeyValue{attrRole.String(observability.RolePrimary)}}),
		trace.WithAttributes(attrTenant.String(tenant), attrModel.String(model), attrVersion.String(version),
			attrRole.String(observability.RoleShadow), attrEndpoint.String(string(ep.Host()))))
	observability.Propagator.Inject(ctx, headerCarrier{&req.Header})
	err := ep.Do(req, resp, deadline)
	endClientSpan(span, resp, err)
	return err
}
