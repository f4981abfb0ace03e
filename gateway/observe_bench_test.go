package gateway

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/observability"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// BenchmarkHandlerObserved is BenchmarkHandler/weighted with tracing and the
// access log off (the default), with tracing on (every request sampled,
// spans batched to a discarding exporter), with tracing on at a sampling
// ratio of 0.01 for callers that send no trace context, and with the access
// log on (JSON to io.Discard). Compare allocs/op and ns/op between the three.
func BenchmarkHandlerObserved(b *testing.B) {
	for _, bc := range []struct {
		name      string
		tracing   bool
		ratio     float64 // sampling ratio for new traces; 0 means 1
		noParent  bool    // the caller sends no traceparent: the ratio decides
		accessLog bool
	}{
		{name: "off"},
		{name: "tracing", tracing: true},
		{name: "tracing_ratio_0.01", tracing: true, ratio: 0.01, noParent: true},
		{name: "access_log", accessLog: true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			backend := startFastBackend(b)
			text := "server:\n  listen: 127.0.0.1:0\n  admin_listen: 127.0.0.1:0\n"
			if bc.accessLog {
				text += "logging:\n  access_log: true\n"
			}
			text += "tenants:\n" + tenantYAML("acme", "fraud", "", "v1:90:"+backend, "v2:10:"+backend)
			cfg, err := configs.Parse([]byte(text))
			if err != nil {
				b.Fatal(err)
			}
			g := New(cfg, observability.NewMetrics(), slog.New(slog.NewJSONHandler(io.Discard, nil)))
			b.Cleanup(func() { g.st.upstreams.Close() })
			if bc.tracing {
				tr := observability.NewTracing(nil)
				tr.NewExporter = func(context.Context, configs.Tracing) (sdktrace.SpanExporter, error) {
					return tracetest.NewNoopExporter(), nil
				}
				tc := configs.Tracing{Endpoint: "http://127.0.0.1:4318", ServiceName: "modelgate"}
				if bc.ratio > 0 {
					tc.SamplingRatio = &bc.ratio
				}
				if err := tr.ApplyConfig(tc); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
				g.UseTracing(tr)
			}
			var headers []string
			if !bc.noParent {
				headers = []string{"traceparent", callerTraceparnt}
			}
			runHandler(b, g, headers...)
		})
	}
}
