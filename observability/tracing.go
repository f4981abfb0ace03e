package observability

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelgate/modelgate/configs"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// TracerName is the instrumentation scope of modelgate's spans.
const TracerName = "github.com/modelgate/modelgate/gateway"

// Propagator is W3C trace context (traceparent, tracestate) plus W3C baggage:
// what the gateway extracts from callers and injects toward model containers.
var Propagator propagation.TextMapPropagator = propagation.NewCompositeTextMapPropagator(
	propagation.TraceContext{}, propagation.Baggage{})

// ExporterFunc builds the span exporter for an enabled tracing config.
type ExporterFunc func(ctx context.Context, cfg configs.Tracing) (sdktrace.SpanExporter, error)

// Tracing owns the OpenTelemetry tracer provider and swaps it on reload, like
// Prometheus's tracing manager: ApplyConfig with an unchanged config does
// nothing; a changed one shuts the old provider down (flushing its spans)
// and installs a new one, or none when tracing is now disabled.
//
// The request path calls Enabled (one atomic load) before touching
// OpenTelemetry at all, so disabled tracing costs nothing there. Tracing is
// safe for concurrent use; the provider is not registered globally, so
// several gateways (tests) can trace independently.
type Tracing struct {
	// NewExporter builds the exporter; nil means OTLP over HTTP
	// (OTLPExporter). Tests set an in-memory one. Set before ApplyConfig.
	NewExporter ExporterFunc

	log       *slog.Logger
	enabled   atomic.Bool
	tracer    atomic.Pointer[tracerBox]
	rootRatio atomic.Uint64 // math.Float64bits of the sampling ratio for new traces

	mu       sync.Mutex // serializes ApplyConfig and Shutdown
	applied  bool
	cfg      configs.Tracing
	provider *sdktrace.TracerProvider
}

type tracerBox struct{ trace.Tracer }

var noopTracer = &tracerBox{noop.NewTracerProvider().Tracer(TracerName)}

// NewTracing returns a disabled manager; call ApplyConfig to enable it.
func NewTracing(log *slog.Logger) *Tracing {
	t := &Tracing{log: log}
	t.tracer.Store(noopTracer)
	return t
}

// Enabled reports whether spans are being recorded and exported. It is one
// atomic load: check it before any other tracing work on the request path.
func (t *Tracing) Enabled() bool { return t != nil && t.enabled.Load() }

// RootSampled decides whether a request that carries no trace context
// starts a sampled trace: true with probability tracing.sampling_ratio. The
// gateway makes this decision itself, before any OpenTelemetry work, so an
// unsampled request without a caller's trace context costs nothing (no span,
// no context, no header injected); the provider's sampler is
// ParentBased(AlwaysSample), i.e. requests with a caller's trace context
// follow the caller's sampled flag, and roots the gateway chose are kept.
func (t *Tracing) RootSampled() bool {
	r := math.Float64frombits(t.rootRatio.Load())
	return r >= 1 || r > 0 && rand.Float64() < r
}

// Tracer returns the current tracer (a no-op tracer when disabled).
func (t *Tracing) Tracer() trace.Tracer { return t.tracer.Load().Tracer }

// ConfigEnabled reports whether cfg (with the process environment) turns
// tracing on: tracing.endpoint is set or OTEL_EXPORTER_OTLP_ENDPOINT /
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT are, and neither OTEL_SDK_DISABLED=true
// nor OTEL_TRACES_EXPORTER=none says otherwise.
func ConfigEnabled(cfg configs.Tracing) bool {
	if strings.EqualFold(os.Getenv("OTEL_SDK_DISABLED"), "true") || os.Getenv("OTEL_TRACES_EXPORTER") == "none" {
		return false
	}
	return cfg.Endpoint != "" || os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" ||
		os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// ApplyConfig installs the tracer provider cfg describes. It returns at once
// when cfg equals the config last applied. On error the previous state is
// kept.
func (t *Tracing) ApplyConfig(cfg configs.Tracing) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.applied && sameTracing(t.cfg, cfg) {
		return nil
	}
	ratio := samplingRatio(cfg)
	var next *sdktrace.TracerProvider
	if ConfigEnabled(cfg) {
		newExp := t.NewExporter
		if newExp == nil {
			newExp = OTLPExporter
		}
		exp, err := newExp(context.Background(), cfg)
		if err != nil {
			return fmt.Errorf("tracing: creating exporter: %w", err)
		}
		// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override the config.
		res, err := resource.New(context.Background(), resource.WithTelemetrySDK(),
			resource.WithAttributes(attribute.String("service.name", cfg.ServiceName),
				attribute.String("service.version", Version)),
			resource.WithFromEnv())
		if err != nil {
			return fmt.Errorf("tracing: building resource: %w", err)
		}
		next = sdktrace.NewTracerProvider(
			sdktrace.WithBatcher(exp),
			sdktrace.WithResource(res),
			// Roots are sampled by RootSampled before a span is started.
			sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())),
		)
	}
	old := t.provider
	t.provider, t.cfg, t.applied = next, cfg, true
	t.rootRatio.Store(math.Float64bits(ratio))
	if next != nil {
		t.tracer.Store(&tracerBox{next.Tracer(TracerName)})
		t.enabled.Store(true)
	} else {
		t.enabled.Store(false)
		t.tracer.Store(noopTracer)
	}
	if old != nil {
		// Spans still open on the old provider are dropped when they end;
		// finished ones are flushed.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := old.Shutdown(ctx); err != nil && t.log != nil {
			t.log.Warn("tracing: shutting down previous tracer provider", "err", err)
		}
	}
	if t.log != nil {
		t.log.Info("tracing configured", "enabled", next != nil, "endpoint", cfg.Endpoint, "sampling_ratio", ratio)
	}
	return nil
}

// ForceFlush exports every finished span now (tests, shutdown).
func (t *Tracing) ForceFlush(ctx context.Context) error {
	t.mu.Lock()
	p := t.provider
	t.mu.Unlock()
	if p == nil {
		return nil
	}
	return p.ForceFlush(ctx)
}

// Shutdown flushes and stops the provider; tracing is disabled afterwards.
func (t *Tracing) Shutdown(ctx context.Context) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.enabled.Store(false)
	t.tracer.Store(noopTracer)
	p := t.provider
	t.provider = nil
	t.applied = false
	if p == nil {
		return nil
	}
	return p.Shutdown(ctx)
}

// samplingRatio is tracing.sampling_ratio, else OTEL_TRACES_SAMPLER_ARG
// when it is a ratio in [0, 1], else 1.
func samplingRatio(cfg configs.Tracing) float64 {
	if cfg.SamplingRatio == nil {
		if r, err := strconv.ParseFloat(os.Getenv("OTEL_TRACES_SAMPLER_ARG"), 64); err == nil && r >= 0 && r <= 1 {
			return r
		}
	}
	return cfg.Ratio()
}

func sameTracing(a, b configs.Tracing) bool {
	return a.Endpoint == b.Endpoint && a.ServiceName == b.ServiceName && a.Ratio() == b.Ratio()
}

// OTLPExporter exports over OTLP/HTTP (protobuf). tracing.endpoint, when
// set, is the collector's base URL ("http://host:4318"; "/v1/traces" is
// appended when it has no path); otherwise the standard OTEL_EXPORTER_OTLP_*
// environment variables configure it (endpoint, headers, timeout,
// compression, certificates).
func OTLPExporter(ctx context.Context, cfg configs.Tracing) (sdktrace.SpanExporter, error) {
	var opts []otlptracehttp.Option
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil {
			return nil, fmt.Errorf("tracing.endpoint: %w", err)
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, errors.New("tracing.endpoint: scheme must be http or https")
		}
		if u.Path == "" || u.Path == "/" {
			u.Path = "/v1/traces"
		}
		opts = append(opts, otlptracehttp.WithEndpointURL(u.String()))
	}
	return otlptracehttp.New(ctx, opts...)
}
