package gateway

import (
	"compress/gzip"
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/observability"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is a loopback OTLP/HTTP trace receiver: it decodes each
// protobuf ExportTraceServiceRequest POSTed to /v1/traces.
type otlpReceiver struct {
	mu       sync.Mutex
	spans    []*tracepb.Span
	services []string
	errs     []string
}

func (rc *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail := func(msg string) {
		rc.mu.Lock()
		rc.errs = append(rc.errs, msg)
		rc.mu.Unlock()
		http.Error(w, msg, http.StatusBadRequest)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		fail("unexpected " + r.Method + " " + r.URL.Path + " " + r.Header.Get("Content-Type"))
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			fail(err.Error())
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		fail(err.Error())
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(raw, &req); err != nil {
		fail("decoding ExportTraceServiceRequest: " + err.Error())
		return
	}
	rc.mu.Lock()
	for _, rs := range req.GetResourceSpans() {
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				rc.services = append(rc.services, kv.GetValue().GetStringValue())
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			rc.spans = append(rc.spans, ss.GetSpans()...)
		}
	}
	rc.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func (rc *otlpReceiver) snapshot() ([]*tracepb.Span, []string, []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*tracepb.Span(nil), rc.spans...), append([]string(nil), rc.services...), append([]string(nil), rc.errs...)
}

// TestTracingOTLPHTTP exports a traced request over real OTLP/HTTP to a
// loopback receiver and checks what arrived: both spans, in the caller's
// trace, with the service name and attributes.
func TestTracingOTLPHTTP(t *testing.T) {
	model := startModel(t, "fraud", "v1")
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud", "", "v1:1:"+model.URL))
	for _, tc := range []struct {
		desc string
		env  bool // configure through OTEL_* variables instead of the config
	}{
		{desc: "tracing.endpoint"},
		{desc: "OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_SERVICE_NAME", env: true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			rc := &otlpReceiver{}
			collector := httptest.NewServer(rc)
			defer collector.Close()
			cfg := configs.Tracing{Endpoint: collector.URL, ServiceName: "modelgate-test"}
			if tc.env {
				t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.URL)
				t.Setenv("OTEL_SERVICE_NAME", "modelgate-test")
				cfg = configs.Tracing{ServiceName: "modelgate"}
			}
			tr := observability.NewTracing(nil)
			if err := tr.ApplyConfig(cfg); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tr.Shutdown(context.Background()) }()
			h.gw.UseTracing(tr)
			checkOTLPExport(t, h, tr, rc)
		})
	}
}

func checkOTLPExport(t *testing.T, h *harness, tr *observability.Tracing, rc *otlpReceiver) {
	key, _ := testKey("acme")
	if r := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key, "traceparent", callerTraceparnt); r.code != 200 {
		t.Fatalf("got %d %s", r.code, r.body)
	}

	var spans []*tracepb.Span
	var services, errs []string
	for deadline := time.Now().Add(15 * time.Second); ; {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := tr.ForceFlush(ctx)
		cancel()
		spans, services, errs = rc.snapshot()
		if len(spans) >= 2 || time.Now().After(deadline) {
			if err != nil {
				t.Errorf("flush: %v", err)
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(errs) > 0 {
		t.Fatalf("receiver rejected exports: %v", errs)
	}
	if len(spans) != 2 {
		t.Fatalf("receiver got %d spans, want 2", len(spans))
	}
	if len(services) == 0 {
		t.Error("no service.name resource attribute arrived")
	}
	for _, s := range services {
		if s != "modelgate-test" {
			t.Errorf("service.name: got %q, want modelgate-test", s)
		}
	}
	byKind := map[tracepb.Span_SpanKind]*tracepb.Span{}
	for _, s := range spans {
		if got := hex.EncodeToString(s.GetTraceId()); got != callerTraceID {
			t.Errorf("span %q trace id: got %s, want %s", s.GetName(), got, callerTraceID)
		}
		byKind[s.GetKind()] = s
	}
	srv, cli := byKind[tracepb.Span_SPAN_KIND_SERVER], byKind[tracepb.Span_SPAN_KIND_CLIENT]
	if srv == nil || cli == nil {
		t.Fatalf("want one server and one client span, got %v", spans)
	}
	if hex.EncodeToString(srv.GetParentSpanId()) != callerSpanID || string(cli.GetParentSpanId()) != string(srv.GetSpanId()) {
		t.Errorf("parents: server's %x (want %s), client's %x (want %x)", srv.GetParentSpanId(), callerSpanID, cli.GetParentSpanId(), srv.GetSpanId())
	}
	attrs := map[string]string{}
	for _, kv := range srv.GetAttributes() {
		attrs[kv.GetKey()] = kv.GetValue().GetStringValue()
	}
	if attrs["modelgate.tenant"] != "acme" || attrs["modelgate.version"] != "v1" || attrs["modelgate.role"] != "primary" {
		t.Errorf("server span attributes: %v", attrs)
	}
	if srv.GetEndTimeUnixNano() <= srv.GetStartTimeUnixNano() || cli.GetStartTimeUnixNano() < srv.GetStartTimeUnixNano() {
		t.Errorf("span times: server %d..%d, client starts %d", srv.GetStartTimeUnixNano(), srv.GetEndTimeUnixNano(), cli.GetStartTimeUnixNano())
	}
}
