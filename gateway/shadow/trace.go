package shadow

import (
	"context"
	"time"

	"github.com/modelgate/modelgate/gateway/upstream"
	"github.com/modelgate/modelgate/observability"
	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Trace is what a shadow copy keeps of its primary request's trace. It is a
// value, valid after the primary's handler has returned. The zero value
// means "not traced".
type Trace struct {
	primary trace.SpanContext
	tracer  trace.Tracer
}

// TraceOf returns the Trace of a primary request's server span: the zero
// Trace (not traced) unless the span is sampled, so a shadow is traced only
// when its primary is.
func TraceOf(span trace.Span, tracer trace.Tracer) Trace {
	if span == nil || !span.SpanContext().IsSampled() {
		return Trace{}
	}
	return Trace{primary: span.SpanContext(), tracer: tracer}
}

// Call sends a shadow request to ep in its own span: a new trace root of kind
// client, linked to the primary's server span, with role=shadow; the span's
// context is injected into req. Untraced (zero Trace), it is a plain
// ep.Do.
func (st Trace) Call(ep *upstream.Endpoint, req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time, tenant, model, version string) error {
	if st.tracer == nil {
		return ep.Do(req, resp, deadline)
	}
	ctx, span := st.tracer.Start(context.Background(), observability.SpanShadow,
		trace.WithNewRoot(),
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithLinks(trace.Link{SpanContext: st.primary, Attributes: []attribute.KeyValue{observability.AttrRole.String(observability.RolePrimary)}}),
		trace.WithAttributes(observability.AttrTenant.String(tenant), observability.AttrModel.String(model), observability.AttrVersion.String(version),
			observability.AttrRole.String(observability.RoleShadow), observability.AttrEndpoint.String(string(ep.Host()))))
	observability.Propagator.Inject(ctx, observability.HeaderCarrier{H: &req.Header})
	err := ep.Do(req, resp, deadline)
	observability.EndClientSpan(span, resp, err)
	return err
}
