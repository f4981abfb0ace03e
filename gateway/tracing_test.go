package gateway

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/gateway/shadow"
	"github.com/modelgate/modelgate/gateway/upstream"
	"github.com/modelgate/modelgate/internal/keyed"
	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/router"
	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// Caller trace context used by the tests: trace id, parent span id, sampled.
const (
	callerTraceID    = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpanID     = "00f067aa0ba902b7"
	callerTraceparnt = "00-" + callerTraceID + "-" + callerSpanID + "-01"
)

// memTracing returns an enabled tracing manager exporting to memory.
func memTracing(t *testing.T, ratio float64) (*observability.Tracing, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tr := observability.NewTracing(nil)
	tr.NewExporter = func(context.Context, configs.Tracing) (sdktrace.SpanExporter, error) { return exp, nil }
	if err := tr.ApplyConfig(configs.Tracing{Endpoint: "http://127.0.0.1:4318", ServiceName: "modelgate", SamplingRatio: &ratio}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
	return tr, exp
}

// flushed returns the spans exported so far, after a flush.
func flushed(t *testing.T, tr *observability.Tracing, exp *tracetest.InMemoryExporter) tracetest.SpanStubs {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	return exp.GetSpans()
}

func attrsOf(kvs []attribute.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

func spansOfKind(spans tracetest.SpanStubs, kind trace.SpanKind) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range spans {
		if s.SpanKind == kind {
			out = append(out, s)
		}
	}
	return out
}

// TestTracingSpansAndPropagation drives traced requests through a real
// gateway to a real model container and checks the span tree and what the
// container received.
func TestTracingSpansAndPropagation(t *testing.T) {
	model := startModel(t, "fraud", "v1")
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud", "", "v1:1:"+model.URL))
	tr, exp := memTracing(t, 1)
	h.gw.UseTracing(tr)
	key, _ := testKey("acme")

	resp := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key,
		"traceparent", callerTraceparnt, "tracestate", "vendor=abc", "baggage", "user=alice")
	if resp.code != 200 {
		t.Fatalf("got %d %s, want 200", resp.code, resp.body)
	}
	spans := flushed(t, tr, exp)
	servers, clients := spansOfKind(spans, trace.SpanKindServer), spansOfKind(spans, trace.SpanKindClient)
	if len(servers) != 1 || len(clients) != 1 {
		t.Fatalf("got %d server and %d client spans, want 1 and 1: %+v", len(servers), len(clients), spans)
	}
	srv, cli := servers[0], clients[0]
	if got := srv.SpanContext.TraceID().String(); got != callerTraceID {
		t.Errorf("server span trace id: got %s, want the caller's %s", got, callerTraceID)
	}
	if got := srv.Parent.SpanID().String(); got != callerSpanID || !srv.Parent.IsRemote() {
		t.Errorf("server span parent: got %s (remote %v), want remote %s", got, srv.Parent.IsRemote(), callerSpanID)
	}
	if srv.Name != "POST /v2/models/{model}/infer" {
		t.Errorf("server span name: got %q", srv.Name)
	}
	if cli.Parent.SpanID() != srv.SpanContext.SpanID() || cli.SpanContext.TraceID() != srv.SpanContext.TraceID() {
		t.Errorf("client span is not a child of the server span")
	}
	sa := attrsOf(srv.Attributes)
	for k, want := range map[string]string{
		"modelgate.tenant": "acme", "modelgate.model": "fraud", "modelgate.version": "v1",
		"modelgate.role": "primary", "http.response.status_code": "200",
	} {
		if sa[k] != want {
			t.Errorf("server span %s: got %q, want %q", k, sa[k], want)
		}
	}
	ca := attrsOf(cli.Attributes)
	if ca["modelgate.attempt"] != "1" || ca["http.response.status_code"] != "200" || !strings.HasPrefix(model.URL, "http://"+ca["server.address"]) {
		t.Errorf("client span attributes: %v", ca)
	}
	for _, s := range spans {
		for k, v := range attrsOf(s.Attributes) {
			if strings.Contains(v, key) || strings.Contains(v, "inputs") {
				t.Errorf("span %q attribute %s leaks a key or payload: %q", s.Name, k, v)
			}
		}
	}

	// What the container received: the client span as parent, same trace,
	// caller's tracestate and baggage.
	recs := model.Server.Requests()
	got := recs[len(recs)-1].Header
	wantTP := "00-" + callerTraceID + "-" + cli.SpanContext.SpanID().String() + "-01"
	if tp := got.Get("traceparent"); tp != wantTP {
		t.Errorf("container traceparent: got %q, want %q", tp, wantTP)
	}
	if ts := got.Get("tracestate"); ts != "vendor=abc" {
		t.Errorf("container tracestate: got %q, want vendor=abc", ts)
	}
	if bg := got.Get("baggage"); !strings.Contains(bg, "user=alice") {
		t.Errorf("container baggage: got %q, want user=alice", bg)
	}

	// Failures: rejected before routing (no client span), upstream 500, and
	// an endpoint that refuses connections.
	exp.Reset()
	if r := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", "wrong"); r.code != 401 {
		t.Fatalf("wrong key: got %d", r.code)
	}
	model.Server.SetFailStatus(500)
	if r := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key); r.code != 500 {
		t.Fatalf("failing model: got %d", r.code)
	}
	model.Server.SetFailStatus(0)
	spans = flushed(t, tr, exp)
	servers, clients = spansOfKind(spans, trace.SpanKindServer), spansOfKind(spans, trace.SpanKindClient)
	if len(servers) != 2 || len(clients) != 1 {
		t.Fatalf("got %d server and %d client spans, want 2 and 1", len(servers), len(clients))
	}
	if a := attrsOf(servers[0].Attributes); a["http.response.status_code"] != "401" || servers[0].Status.Code == codes.Error {
		t.Errorf("401 span: attributes %v, status %v", a, servers[0].Status)
	}
	if servers[1].Status.Code != codes.Error || clients[0].Status.Code != codes.Error {
		t.Errorf("500: server span status %v, client span status %v, want errors", servers[1].Status, clients[0].Status)
	}

	exp.Reset()
	model.Close()
	if r := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key); r.code != 502 {
		t.Fatalf("closed model: got %d", r.code)
	}
	spans = flushed(t, tr, exp)
	clients = spansOfKind(spans, trace.SpanKindClient)
	if len(clients) != 1 || len(clients[0].Events) == 0 || clients[0].Events[0].Name != "exception" {
		t.Errorf("refused connection: want a client span with a recorded error, got %+v", clients)
	}
}

// TestTracingDisabledPassThrough checks that without tracing the gateway
// records nothing and forwards the caller's trace context untouched, so a
// trace still runs app → model.
func TestTracingDisabledPassThrough(t *testing.T) {
	model := startModel(t, "fraud", "v1")
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud", "", "v1:1:"+model.URL))
	tr := observability.NewTracing(nil)
	if err := tr.ApplyConfig(configs.Tracing{ServiceName: "modelgate"}); err != nil {
		t.Fatal(err)
	}
	h.gw.UseTracing(tr)
	if tr.Enabled() {
		t.Fatal("tracing enabled without an endpoint")
	}
	key, _ := testKey("acme")
	if r := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key, "traceparent", callerTraceparnt); r.code != 200 {
		t.Fatalf("got %d", r.code)
	}
	recs := model.Server.Requests()
	if got := recs[len(recs)-1].Header.Get("traceparent"); got != callerTraceparnt {
		t.Errorf("container traceparent: got %q, want the caller's %q", got, callerTraceparnt)
	}
}

// TestTracingSampling checks parent-based ratio sampling: with ratio 0 a
// request without trace context is not traced at all (no span, nothing
// injected); a sampled caller is followed; an unsampled caller's context is
// passed on unchanged.
func TestTracingSampling(t *testing.T) {
	model := startModel(t, "fraud", "v1")
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud", "", "v1:1:"+model.URL))
	tr, exp := memTracing(t, 0)
	h.gw.UseTracing(tr)
	key, _ := testKey("acme")

	h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key)
	if spans := flushed(t, tr, exp); len(spans) != 0 {
		t.Errorf("ratio 0, no parent: got %d spans, want 0", len(spans))
	}
	recs := model.Server.Requests()
	if tp := recs[len(recs)-1].Header.Get("traceparent"); tp != "" {
		t.Errorf("unsampled request without trace context: container got traceparent %q, want none", tp)
	}
	h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key, "traceparent", callerTraceparnt)
	if spans := flushed(t, tr, exp); len(spans) != 2 {
		t.Errorf("ratio 0, sampled parent: got %d spans, want 2 (parent-based)", len(spans))
	}
	unsampled := strings.TrimSuffix(callerTraceparnt, "-01") + "-00"
	h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key, "traceparent", unsampled)
	if spans := flushed(t, tr, exp); len(spans) != 2 {
		t.Errorf("unsampled parent: got %d spans in all, want still 2 (none for it)", len(spans))
	}
	recs = model.Server.Requests()
	if tp := recs[len(recs)-1].Header.Get("traceparent"); len(tp) != 55 || tp[:36] != unsampled[:36] || !strings.HasSuffix(tp, "-00") {
		t.Errorf("unsampled parent: container traceparent %q, want trace id of %q with flags 00", tp, unsampled)
	}
}

// TestTracingApplyConfig checks the reload contract: unchanged config keeps
// the provider, a change replaces it, no endpoint disables tracing.
func TestTracingApplyConfig(t *testing.T) {
	created := 0
	tr := observability.NewTracing(nil)
	tr.NewExporter = func(context.Context, configs.Tracing) (sdktrace.SpanExporter, error) {
		created++
		return tracetest.NewNoopExporter(), nil
	}
	half, quarter := 0.5, 0.25
	steps := []struct {
		desc        string
		cfg         configs.Tracing
		wantEnabled bool
		wantCreated int
	}{
		{desc: "enable", cfg: configs.Tracing{Endpoint: "http://127.0.0.1:4318", SamplingRatio: &half}, wantEnabled: true, wantCreated: 1},
		{desc: "unchanged (equal ratio, other pointer)", cfg: configs.Tracing{Endpoint: "http://127.0.0.1:4318", SamplingRatio: new(0.5)}, wantEnabled: true, wantCreated: 1},
		{desc: "ratio changed", cfg: configs.Tracing{Endpoint: "http://127.0.0.1:4318", SamplingRatio: &quarter}, wantEnabled: true, wantCreated: 2},
		{desc: "disabled", cfg: configs.Tracing{}, wantEnabled: false, wantCreated: 2},
		{desc: "disabled again", cfg: configs.Tracing{}, wantEnabled: false, wantCreated: 2},
		{desc: "re-enabled", cfg: configs.Tracing{Endpoint: "http://127.0.0.1:4318"}, wantEnabled: true, wantCreated: 3},
	}
	for _, s := range steps {
		if err := tr.ApplyConfig(s.cfg); err != nil {
			t.Fatalf("%s: %v", s.desc, err)
		}
		if tr.Enabled() != s.wantEnabled || created != s.wantCreated {
			t.Errorf("%s: enabled %v, exporters created %d; want %v, %d", s.desc, tr.Enabled(), created, s.wantEnabled, s.wantCreated)
		}
	}
	if err := tr.Shutdown(context.Background()); err != nil || tr.Enabled() {
		t.Errorf("shutdown: err %v, enabled %v", err, tr.Enabled())
	}
}

// TestShadowSpanLinked checks the helper the shadow path calls: the shadow
// call gets its own trace, linked to the primary's server span, and the
// container sees that trace.
func TestShadowSpanLinked(t *testing.T) {
	model := startModel(t, "fraud", "v2")
	tr, exp := memTracing(t, 1)

	var ctx fasthttp.RequestCtx
	ctx.Init(&fasthttp.Request{}, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, nil)
	ctx.Request.Header.Set("traceparent", callerTraceparnt)
	o := &requestObs{start: time.Now()}
	o.startServerSpan(tr.Tracer(), &ctx, router.KindInfer)
	ctx.SetUserValue(obsKey{}, o)
	st := shadowTraceOf(&ctx)
	primary := o.span.SpanContext()
	o.endServerSpan(200, nil)
	ctx.RemoveUserValue(obsKey{}) // the primary's handler is done

	var set keyed.Set
	reg := upstream.NewRegistry(&set, slog.New(slog.DiscardHandler), configs.DefaultMaxAnswerBytes)
	defer reg.Close()
	gen := set.Begin()
	ep := reg.Get(gen, upstream.Key{URL: model.URL})
	gen.Commit()
	var req fasthttp.Request
	var resp fasthttp.Response
	req.Header.SetMethod("POST")
	req.SetRequestURI(model.URL + "/v2/models/fraud/infer")
	req.SetBodyString(inferBody)
	if err := st.Call(ep, &req, &resp, time.Now().Add(10*time.Second), "acme", "fraud", "v2"); err != nil || resp.StatusCode() != 200 {
		t.Fatalf("shadow call: %v %d", err, resp.StatusCode())
	}
	spans := flushed(t, tr, exp)
	var span *tracetest.SpanStub
	for i := range spans {
		if spans[i].Name == "modelgate.shadow" {
			span = &spans[i]
		}
	}
	if span == nil {
		t.Fatalf("no shadow span in %+v", spans)
	}
	if span.SpanContext.TraceID() == primary.TraceID() || span.Parent.IsValid() {
		t.Errorf("shadow span should start its own trace; trace %s parent %v", span.SpanContext.TraceID(), span.Parent)
	}
	if len(span.Links) != 1 || span.Links[0].SpanContext.SpanID() != primary.SpanID() {
		t.Errorf("shadow span links: got %+v, want one to the primary %s", span.Links, primary.SpanID())
	}
	if a := attrsOf(span.Attributes); a["modelgate.role"] != "shadow" || a["modelgate.version"] != "v2" || a["http.response.status_code"] != "200" {
		t.Errorf("shadow span attributes: %v", a)
	}
	recs := model.Server.Requests()
	if tp := recs[len(recs)-1].Header.Get("traceparent"); !strings.Contains(tp, span.SpanContext.TraceID().String()) {
		t.Errorf("container traceparent %q, want the shadow trace %s", tp, span.SpanContext.TraceID())
	}
	// Untraced: a plain call.
	if err := (shadow.Trace{}).Call(ep, &req, &resp, time.Now().Add(10*time.Second), "acme", "fraud", "v2"); err != nil {
		t.Errorf("untraced shadow call: %v", err)
	}
}
