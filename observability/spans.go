package observability

import (
	"strconv"

	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Span attribute keys. Values come from config (tenant, model, version
// names) or from the gateway (role, status, endpoint URL); never payloads,
// keys or other client headers.
const (
	AttrTenant   = attribute.Key("modelgate.tenant")
	AttrModel    = attribute.Key("modelgate.model")
	AttrVersion  = attribute.Key("modelgate.version")
	AttrRole     = attribute.Key("modelgate.role")
	AttrAttempt  = attribute.Key("modelgate.attempt")
	AttrStatus   = attribute.Key("http.response.status_code")
	AttrMethod   = attribute.Key("http.request.method")
	AttrEndpoint = attribute.Key("server.address")
)

// Span names: the route template, never the concrete path.
const (
	SpanUpstream = "modelgate.upstream"
	SpanShadow   = "modelgate.shadow"
)

// HeaderCarrier adapts a fasthttp request header to OpenTelemetry's
// propagation.TextMapCarrier.
type HeaderCarrier struct{ H *fasthttp.RequestHeader }

func (c HeaderCarrier) Get(key string) string { return string(c.H.Peek(key)) }
func (c HeaderCarrier) Set(key, value string) { c.H.Set(key, value) }
func (c HeaderCarrier) Keys() []string {
	var keys []string
	for k := range c.H.All() {
		keys = append(keys, string(k))
	}
	return keys
}

// EndClientSpan ends a client span with the call's result: err recorded
// as the span's error (a fixed cause, never payload text), otherwise the
// answer's status, 5xx marked as an error.
func EndClientSpan(span trace.Span, resp *fasthttp.Response, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	} else {
		code := resp.StatusCode()
		span.SetAttributes(AttrStatus.Int(code))
		if code >= 500 {
			span.SetStatus(codes.Error, "status "+strconv.Itoa(code))
		}
	}
	span.End()
}
