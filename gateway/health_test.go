package gateway

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/await"
)

// TestHealthPathNotServed: a container that serves predictions but not the
// default health path (a TF Serving or custom V1 container answers 404 on
// /v2/health/ready) stays in service, while one whose health path answers
// 503 is taken out.
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

	hc := "health_check: {interval: 50ms, timeout: 1s, unhealthy_after: 2, healthy_after: 1}"
	h := startGateway(t, "tenants:\n"+
		tenantYAML("acme", "fraud", hc, "v1:1:"+v1only.URL)+
		tenantYAML("globex", "churn", hc, "v1:1:"+notReady.URL))
	await.Until(t, 5*time.Second, "several health probes on both endpoints", func() bool {
		return probes404.Load() >= 3 && probes503.Load() >= 3
	})
	if !h.endpoint(v1only.URL).Up() {
		t.Error("the endpoint answering 404 on the health path was marked down; want it in service")
	}
	if h.endpoint(notReady.URL).Up() {
		t.Error("the endpoint answering 503 on the health path is still up; want it out of service")
	}
	key, _ := testKey("acme")
	for range 5 {
		if r := h.do("POST", "/v1/models/fraud:predict", `{"instances":[[1,2,3,4]]}`, "X-API-Key", key); r.code != 200 {
			t.Fatalf("predict on the V1-only container: got %d %s, want 200", r.code, r.body)
		}
	}
}
