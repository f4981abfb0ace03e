package gateway

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/await"
)

func TestIsolationAndHeaders(t *testing.T) {
	fraudA := startModel(t, "fraud", "v1")
	fraudB := startModel(t, "fraud", "v1")
	churnB := startModel(t, "churn", "v1")
	h := startGateway(t, "tenants:\n"+
		tenantYAML("acme", "fraud", "", "v1:1:"+fraudA.URL)+
		tenantYAML("globex", "churn", "", "v1:1:"+churnB.URL)+
		// globex also has a "fraud", served by a different container.
		strings.Replace(tenantYAML("globex2", "fraud", "", "v1:1:"+fraudB.URL), "globex2", "initech", 1))
	keyA, _ := testKey("acme")
	keyB, _ := testKey("globex")

	tests := []struct {
		desc     string
		path     string
		headers  []string
		wantCode int
		wantBody string
	}{
		{desc: "own model, bearer", path: "/v2/models/fraud/infer", headers: []string{"Authorization", "Bearer " + keyA}, wantCode: 200, wantBody: `"outputs"`},
		{desc: "own model, X-API-Key", path: "/v2/models/fraud/infer", headers: []string{"X-API-Key", keyA}, wantCode: 200, wantBody: `"outputs"`},
		{desc: "no key", path: "/v2/models/fraud/infer", wantCode: 401, wantBody: `{"error":"missing or unknown API key"}`},
		{desc: "unknown key", path: "/v2/models/fraud/infer", headers: []string{"X-API-Key", "nope"}, wantCode: 401, wantBody: `{"error":"missing or unknown API key"}`},
		{desc: "bearer with wrong key", path: "/v2/models/fraud/infer", headers: []string{"Authorization", "Bearer " + keyA + "x"}, wantCode: 401, wantBody: `{"error":"missing or unknown API key"}`},
		{desc: "other tenant's model", path: "/v2/models/churn/infer", headers: []string{"X-API-Key", keyA}, wantCode: 404, wantBody: `{"error":"model not found"}`},
		{desc: "model nobody has", path: "/v2/models/nothing/infer", headers: []string{"X-API-Key", keyA}, wantCode: 404, wantBody: `{"error":"model not found"}`},
		{desc: "globex own model", path: "/v2/models/churn/infer", headers: []string{"X-API-Key", keyB}, wantCode: 200, wantBody: `"outputs"`},
		{desc: "globex cannot reach fraud", path: "/v2/models/fraud/infer", headers: []string{"X-API-Key", keyB}, wantCode: 404, wantBody: `{"error":"model not found"}`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			r := h.do("POST", tt.path, inferBody, tt.headers...)
			if r.code != tt.wantCode {
				t.Fatalf("got status %d, want %d (body %s)", r.code, tt.wantCode, r.body)
			}
			if !strings.Contains(r.body, tt.wantBody) {
				t.Errorf("got body %s, want it to contain %s", r.body, tt.wantBody)
			}
			if r.code >= 400 && r.header.Get("Content-Type") != "application/json" {
				t.Errorf("got Content-Type %q for an error, want application/json", r.header.Get("Content-Type"))
			}
		})
	}
	if n := len(fraudB.Server.Requests()); n != 0 {
		t.Errorf("initech's fraud container got %d requests, want 0", n)
	}

	t.Run("headers toward the model", func(t *testing.T) {
		fraudA.Server.ResetRequests()
		r := h.do("POST", "/v2/models/fraud/infer", inferBody,
			"Authorization", "Bearer "+keyA,
			"X-API-Key", keyA,
			"X-Modelgate-Tenant", "globex",
			"X-Modelgate-Version", "v9",
			"X-Modelgate-Anything", "x",
			"Proxy-Authorization", "Basic Zm9vOmJhcg==",
			"Keep-Alive", "timeout=5",
			"Connection", "keep-alive, X-Secret-Hop",
			"X-Secret-Hop", "1",
			"X-Custom", "kept",
		)
		if r.code != 200 {
			t.Fatalf("got status %d, want 200: %s", r.code, r.body)
		}
		reqs := fraudA.Server.Requests()
		if len(reqs) != 1 {
			t.Fatalf("got %d upstream requests, want 1", len(reqs))
		}
		got := reqs[0]
		if got.Body == nil || string(got.Body) != inferBody {
			t.Errorf("got upstream body %q, want %q", got.Body, inferBody)
		}
		for name, want := range map[string]string{
			"X-Modelgate-Tenant":   "acme",
			"X-Modelgate-Version":  "v1",
			"X-Request-Id":         r.header.Get("X-Request-ID"),
			"X-Custom":             "kept",
			"Authorization":        "",
			"X-Api-Key":            "",
			"X-Modelgate-Anything": "",
			"Proxy-Authorization":  "",
			"Keep-Alive":           "",
			"X-Secret-Hop":         "",
		} {
			if g := got.Header.Get(name); g != want {
				t.Errorf("upstream header %s: got %q, want %q", name, g, want)
			}
		}
		if r.header.Get("X-Modelgate-Version") != "v1" {
			t.Errorf("response X-Modelgate-Version: got %q, want v1", r.header.Get("X-Modelgate-Version"))
		}
		if len(r.header.Get("X-Request-ID")) != 32 {
			t.Errorf("response X-Request-ID: got %q, want a generated 32-hex id", r.header.Get("X-Request-ID"))
		}
	})
}

func TestRequestID(t *testing.T) {
	m := startModel(t, "fraud", "v1")
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud", "", "v1:1:"+m.URL))
	key, _ := testKey("acme")
	tests := []struct {
		desc, sent string
		kept       bool
	}{
		{desc: "client id kept", sent: "req-123_abc", kept: true},
		{desc: "128 chars kept", sent: strings.Repeat("a", 128), kept: true},
		{desc: "too long replaced", sent: strings.Repeat("a", 129)},
		{desc: "space replaced", sent: "has space"},
		{desc: "non-ASCII replaced", sent: "héllo"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			m.Server.ResetRequests()
			r := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key, "X-Request-ID", tt.sent)
			got := r.header.Get("X-Request-ID")
			if tt.kept && got != tt.sent {
				t.Errorf("got X-Request-ID %q, want the client's %q", got, tt.sent)
			}
			if !tt.kept && (got == tt.sent || len(got) != 32) {
				t.Errorf("got X-Request-ID %q, want a new 32-hex id", got)
			}
			if up := m.Server.Requests()[0].Header.Get("X-Request-ID"); up != got {
				t.Errorf("upstream X-Request-ID %q differs from the response's %q", up, got)
			}
		})
	}
}

func TestAPIPaths(t *testing.T) {
	v1 := startModel(t, "fraud", "v1")
	v2 := startModel(t, "fraud", "v2")
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud", "", "v1:1:"+v1.URL, "v2:0:"+v2.URL))
	key, _ := testKey("acme")
	v1Body := `{"instances":[[1.0,0.5,-0.3,2.0]]}`
	tests := []struct {
		desc, method, path, body string
		noKey                    bool
		wantCode                 int
		wantVersion              string
		wantBody                 string
	}{
		{desc: "v2 infer", method: "POST", path: "/v2/models/fraud/infer", body: inferBody, wantCode: 200, wantVersion: "v1", wantBody: `"model_version":"v1"`},
		{desc: "v2 pinned infer, weight 0", method: "POST", path: "/v2/models/fraud/versions/v2/infer", body: inferBody, wantCode: 200, wantVersion: "v2", wantBody: `"model_version":"v2"`},
		{desc: "v2 pinned unknown version", method: "POST", path: "/v2/models/fraud/versions/v3/infer", body: inferBody, wantCode: 404, wantBody: `{"error":"model version not found"}`},
		{desc: "v2 metadata", method: "GET", path: "/v2/models/fraud", wantCode: 200, wantVersion: "v1", wantBody: `"platform"`},
		{desc: "v2 pinned metadata", method: "GET", path: "/v2/models/fraud/versions/v2", wantCode: 200, wantVersion: "v2", wantBody: `"versions":["v2"]`},
		{desc: "v2 model ready", method: "GET", path: "/v2/models/fraud/ready", wantCode: 200, wantVersion: "v1", wantBody: `"ready":true`},
		{desc: "v2 pinned ready", method: "GET", path: "/v2/models/fraud/versions/v2/ready", wantCode: 200, wantVersion: "v2", wantBody: `"ready":true`},
		{desc: "v1 predict", method: "POST", path: "/v1/models/fraud:predict", body: v1Body, wantCode: 200, wantVersion: "v1", wantBody: `"predictions"`},
		{desc: "v1 pinned predict", method: "POST", path: "/v1/models/fraud/versions/v2:predict", body: v1Body, wantCode: 200, wantVersion: "v2", wantBody: `"predictions"`},
		{desc: "health live without key", method: "GET", path: "/v2/health/live", noKey: true, wantCode: 200, wantBody: `{"live":true}`},
		{desc: "health ready without key", method: "GET", path: "/v2/health/ready", noKey: true, wantCode: 200, wantBody: `{"ready":true}`},
		{desc: "infer with GET", method: "GET", path: "/v2/models/fraud/infer", wantCode: 405, wantBody: `{"error":"method not allowed"}`},
		{desc: "unknown path", method: "GET", path: "/v3/whatever", wantCode: 404, wantBody: `{"error":"no such API path"}`},
		{desc: "bad model name", method: "POST", path: "/v2/models/fr%21ud/infer", body: inferBody, wantCode: 400, wantBody: `{"error":"invalid model or version name"}`},
		{desc: "dot-dot escape", method: "POST", path: "/v2/models/../../v2/health/x", body: inferBody, wantCode: 404, wantBody: `{"error":"no such API path"}`},
		{desc: "model's own 400 passes through", method: "POST", path: "/v2/models/fraud/infer", body: `{"inputs":[]}`, wantCode: 400, wantVersion: "v1", wantBody: `"error"`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var hdr []string
			if !tt.noKey {
				hdr = []string{"X-API-Key", key, "Content-Type", "application/json"}
			}
			r := h.do(tt.method, tt.path, tt.body, hdr...)
			if r.code != tt.wantCode {
				t.Fatalf("got status %d, want %d (body %s)", r.code, tt.wantCode, r.body)
			}
			if got := r.header.Get("X-Modelgate-Version"); got != tt.wantVersion {
				t.Errorf("got X-Modelgate-Version %q, want %q", got, tt.wantVersion)
			}
			if !strings.Contains(r.body, tt.wantBody) {
				t.Errorf("got body %s, want it to contain %s", r.body, tt.wantBody)
			}
		})
	}
}

func TestWeightedSplitAndSticky(t *testing.T) {
	v1 := startModel(t, "fraud", "v1")
	v2 := startModel(t, "fraud", "v2")
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud", "sticky_header: X-User-ID", "v1:80:"+v1.URL, "v2:20:"+v2.URL))
	key, _ := testKey("acme")

	t.Run("weighted", func(t *testing.T) {
		const n = 1000
		got := map[string]int{}
		for range n {
			r := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key)
			got[r.header.Get("X-Modelgate-Version")]++
		}
		// 20% of 1000: mean 200, sd ≈ 12.6; allow 5 sd.
		if got["v2"] < 137 || got["v2"] > 263 || got["v1"]+got["v2"] != n {
			t.Errorf("got split %v, want about 800/200", got)
		}
	})
	t.Run("sticky", func(t *testing.T) {
		perVersion := map[string]int{}
		for u := range 200 {
			user := fmt.Sprintf("user-%d", u)
			first := ""
			for i := range 3 {
				r := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key, "X-User-ID", user)
				v := r.header.Get("X-Modelgate-Version")
				if i == 0 {
					first = v
					perVersion[v]++
				} else if v != first {
					t.Fatalf("user %s: got version %s, then %s; want the same every time", user, first, v)
				}
			}
		}
		if perVersion["v2"] < 15 || perVersion["v2"] > 70 {
			t.Errorf("got users per version %v, want about 160/40", perVersion)
		}
	})
}

func TestBodyTooLarge(t *testing.T) {
	m := startModel(t, "fraud", "v1")
	h := startGateway(t, "server:\n  listen: 127.0.0.1:0\n  admin_listen: 127.0.0.1:0\n  max_body_bytes: 1024\ntenants:\n"+
		tenantYAML("acme", "fraud", "", "v1:1:"+m.URL))
	key, _ := testKey("acme")
	r := h.do("POST", "/v2/models/fraud/infer", strings.Repeat("x", 4096), "X-API-Key", key)
	if r.code != 413 || r.body != `{"error":"request body too large"}` {
		t.Errorf("got %d %s, want 413 with a JSON error", r.code, r.body)
	}
	if n := len(m.Server.Requests()); n != 0 {
		t.Errorf("model got %d requests, want 0", n)
	}
	if r := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key); r.code != 200 {
		t.Errorf("small body after a large one: got %d, want 200", r.code)
	}
}

func TestUpstreamFailures(t *testing.T) {
	slow := startModel(t, "slow", "v1")
	slow.Server.SetDelay(2 * time.Second)
	failing := startModel(t, "failing", "v1")
	failing.Server.SetFailStatus(500)
	dead := deadURL(t) // refuses connections; its port is held, never reused
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "slow", "timeout: 300ms", "v1:1:"+slow.URL)+
		strings.Replace(tenantYAML("acme2", "failing", "", "v1:1:"+failing.URL), "acme2", "beta", 1)+
		// Health checks off: the refused connection itself is what is tested.
		tenantYAML("gamma", "dead", "health_check: {disabled: true}", "v1:1:"+dead))
	keyA, _ := testKey("acme")
	keyB, _ := testKey("acme2")
	keyG, _ := testKey("gamma")

	start := time.Now()
	r := h.do("POST", "/v2/models/slow/infer", inferBody, "X-API-Key", keyA)
	if elapsed := time.Since(start); r.code != 504 || elapsed > 1500*time.Millisecond {
		t.Errorf("hung backend: got %d after %v, want 504 at the 300ms deadline", r.code, elapsed)
	}
	if r.body != `{"error":"upstream model container timed out"}` {
		t.Errorf("hung backend: got body %s", r.body)
	}
	r = h.do("POST", "/v2/models/failing/infer", inferBody, "X-API-Key", keyB)
	if r.code != 500 || r.header.Get("X-Modelgate-Version") != "v1" {
		t.Errorf("model answering 500: got %d (version %q), want the model's 500 passed through", r.code, r.header.Get("X-Modelgate-Version"))
	}
	r = h.do("POST", "/v2/models/dead/infer", inferBody, "X-API-Key", keyG)
	if r.code != 502 || r.body != `{"error":"upstream model container failed"}` {
		t.Errorf("refused connection: got %d %s, want 502 JSON", r.code, r.body)
	}
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	m := startModel(t, "fraud", "v1")
	m.Server.SetDelay(400 * time.Millisecond)
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud", "", "v1:1:"+m.URL))
	key, _ := testKey("acme")
	var wg sync.WaitGroup
	codes := make(chan int, 8)
	for range 8 {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", h.url+"/v2/models/fraud/infer", strings.NewReader(inferBody))
			req.Header.Set("X-API-Key", key)
			resp, err := h.client.Do(req)
			if err != nil {
				codes <- -1
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		})
	}
	// Shut down only once every request is waiting on the model.
	await.Until(t, 10*time.Second, "8 requests in flight at the model", func() bool { return len(m.Server.Requests()) >= 8 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.gw.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Errorf("in-flight request during shutdown: got %d, want 200", c)
		}
	}
	if _, err := http.Get(h.url + "/v2/health/live"); err == nil {
		t.Errorf("listener still accepts after shutdown")
	}
}
