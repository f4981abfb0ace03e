package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/await"
	"github.com/modelgate/modelgate/internal/testlog"
)

// TestHealthPathNotServed: the "path not served" leniency stays on
// server-level and custom paths only. A V1-only container that answers 404
// on a custom server-level path (here /v2/health/ready) stays in service,
// with one warning; checked on the default model-level path
// (/v2/models/{model}/ready) the same 404 means not ready and takes it out;
// a server-level path answering 503 takes its container out.
func TestHealthPathNotServed(t *testing.T) {
	var probes404, probes503 atomic.Int64
	v1only := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/models/fraud:predict" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"predictions":[[0.1,0.9]]}`))
			return
		}
		if r.Header.Get(HeaderHealthCheck) != "" {
			probes404.Add(1)
		}
		http.NotFound(w, r)
	}))
	defer v1only.Close()
	notReady := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(HeaderHealthCheck) != "" {
			probes503.Add(1)
		}
		http.Error(w, "warming up", http.StatusServiceUnavailable)
	}))
	defer notReady.Close()

	hc := "interval: 50ms, timeout: 1s, unhealthy_after: 2, healthy_after: 1"
	custom := "health_check: {path: /v2/health/ready, " + hc + "}"
	logs := &testlog.Buffer{}
	h := startGateway(t, "tenants:\n"+
		tenantYAML("acme", "fraud", custom, "v1:1:"+v1only.URL)+
		tenantYAML("initech", "fraud", "health_check: {"+hc+"}", "v1:1:"+v1only.URL)+
		tenantYAML("globex", "churn", custom, "v1:1:"+notReady.URL), logs)
	await.Until(t, 5*time.Second, "several health probes on every endpoint", func() bool {
		return probes404.Load() >= 6 && probes503.Load() >= 3
	})
	if !h.modelEndpoint("acme", "fraud", "v1").Up() {
		t.Error("the endpoint answering 404 on a custom server-level path was marked down; want it in service")
	}
	await.Until(t, 5*time.Second, "the model-level check's 404 to take the endpoint out", func() bool {
		return !h.modelEndpoint("initech", "fraud", "v1").Up()
	})
	if h.endpoint(notReady.URL).Up() {
		t.Error("the endpoint answering 503 on the health path is still up; want it out of service")
	}
	key, _ := testKey("acme")
	for range 5 {
		if r := h.do("POST", "/v1/models/fraud:predict", `{"instances":[[1,2,3,4]]}`, "X-API-Key", key); r.code != 200 {
			t.Fatalf("predict on the V1-only container: got %d %s, want 200", r.code, r.body)
		}
	}
	s := logs.String()
	if n := strings.Count(s, "endpoint does not serve the health check path"); n != 1 {
		t.Errorf("got %d warnings that the path is not served, want 1 (the custom path's endpoint, once):\n%s", n, s)
	}
	if !strings.Contains(s, `"path":"/v2/models/fraud/ready","probe":"oip_model","status":404`) {
		t.Errorf("logs lack the model-level check's verdict with path, probe and status:\n%s", s)
	}
}
