package admin

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestUnknownPathsAnswerJSON404: every path and method the admin API does
// not serve answers 404 with a JSON error, including a known path with
// another method and pprof while admin.pprof is off.
func TestUnknownPathsAnswerJSON404(t *testing.T) {
	h, _, _ := newHandler(t, configYAML(withToken))
	for _, tt := range []struct{ method, path string }{
		{"GET", "/"},
		{"GET", "/nope"},
		{"GET", "/admin"},
		{"GET", "/admin/configs"},
		{"POST", "/healthz"},
		{"DELETE", "/admin/config"},
		{"GET", "/admin/reload"},
		{"POST", "/admin/shadow"},
		{"POST", "/ui/"},
		{"PUT", "/ui/index.html"},
		{"GET", "/debug/pprof/"},
		{"GET", "/debug/pprof/profile"},
	} {
		r := serve(t, h, tt.method, tt.path, "Authorization", "Bearer "+adminToken)
		if r.code != 404 || r.body != jsonBody("error", "no such admin path") || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: got %d %q %q, want 404 JSON", tt.method, tt.path, r.code, r.header.Get("Content-Type"), r.body)
		}
	}
}

func TestHealthAndReadiness(t *testing.T) {
	h, src, _ := newHandler(t, configYAML(""))
	if r := serve(t, h, "GET", "/healthz"); r.code != 200 || r.body != jsonBody("status", "ok") {
		t.Errorf("/healthz: got %d %q, want 200 ok", r.code, r.body)
	}
	src.body = map[string]string{"reason": "shutting down"}
	for _, tt := range []struct {
		ready bool
		code  int
	}{{true, 200}, {false, 503}} {
		src.ready.Store(tt.ready)
		r := serve(t, h, "GET", "/readyz")
		if r.code != tt.code || r.body != jsonBody("reason", "shutting down") || r.header.Get("Content-Type") != "application/json" {
			t.Errorf("/readyz ready=%v: got %d %q, want %d with the source's body", tt.ready, r.code, r.body, tt.code)
		}
	}
	// Neither needs the admin token, configured or not.
	h, _, _ = newHandler(t, configYAML(withToken))
	if r := serve(t, h, "GET", "/readyz"); r.code != 200 {
		t.Errorf("/readyz with a token configured: got %d, want 200 without it", r.code)
	}
}

func TestMetricsExposesRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "modelgate_test_total", Help: "test"})
	reg.MustRegister(c)
	c.Add(3)
	src := newSource(t, configYAML(withToken))
	h := Handler(src, reloaderFunc(nil), reg)
	r := serve(t, h, "GET", "/metrics")
	if r.code != 200 || !strings.Contains(r.body, "modelgate_test_total 3") || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Errorf("/metrics: got %d %q %s, want 200 text with the counter", r.code, r.header.Get("Content-Type"), r.body)
	}
	r = serve(t, h, "GET", "/metrics", "Accept", "application/openmetrics-text; version=1.0.0")
	if r.code != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/openmetrics-text") || !strings.HasSuffix(r.body, "# EOF\n") {
		t.Errorf("/metrics for OpenMetrics: got %d %q, want OpenMetrics", r.code, r.header.Get("Content-Type"))
	}
	// A second handler on the same registry (tests build several) is fine.
	_ = Handler(src, reloaderFunc(nil), reg)
}

func TestShadowView(t *testing.T) {
	h, src, _ := newHandler(t, configYAML(withToken))
	src.shadow = map[string]any{"shadows": []map[string]string{{"version": "v2"}}}
	r := serve(t, h, "GET", "/admin/shadow", "Authorization", "Bearer "+adminToken)
	want := "{\n  \"shadows\": [\n    {\n      \"version\": \"v2\"\n    }\n  ]\n}\n"
	if r.code != 200 || r.body != want || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("/admin/shadow: got %d %q, want 200 %q", r.code, r.body, want)
	}
}

// TestPprofBehindToken: with admin.pprof, the index, named profiles,
// profile and trace are served, each behind the admin token.
func TestPprofBehindToken(t *testing.T) {
	h, _, _ := newHandler(t, configYAML(withToken+"  pprof: true\n"))
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/debug/pprof/profile?seconds=1", "/debug/pprof/trace?seconds=0.01"} {
		if r := serve(t, h, "GET", path); r.code != 401 {
			t.Errorf("GET %s without the token: got %d, want 401", path, r.code)
		}
	}
	if r := serve(t, h, "GET", "/debug/pprof/", "Authorization", "Bearer "+adminToken); r.code != 200 || !strings.Contains(r.body, "goroutine") {
		t.Errorf("GET /debug/pprof/: got %d, want 200 with the index", r.code)
	}
	if r := serve(t, h, "GET", "/debug/pprof/goroutine?debug=1", "Authorization", "Bearer "+adminToken); r.code != 200 || !strings.Contains(r.body, "goroutine profile") {
		t.Errorf("GET /debug/pprof/goroutine: got %d, want 200 with the profile", r.code)
	}
	if r := serve(t, h, "GET", "/debug/pprof/trace?seconds=0.01", "Authorization", "Bearer "+adminToken); r.code != 200 {
		t.Errorf("GET /debug/pprof/trace: got %d %s, want 200", r.code, r.body)
	}
}

// TestConsoleMounted: the console's files load at /ui/ without a token,
// even with none configured, under its CSP; /ui redirects there; unknown
// files are 404.
func TestConsoleMounted(t *testing.T) {
	for _, cfg := range []string{configYAML(withToken), configYAML("")} {
		h, _, _ := newHandler(t, cfg)
		r := serve(t, h, "GET", "/ui/")
		if r.code != 200 || !strings.Contains(r.body, "Operator token") || !strings.HasPrefix(r.header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("GET /ui/: %d CSP %q, want 200 with the sign-in form under the CSP", r.code, r.header.Get("Content-Security-Policy"))
		}
		if r := serve(t, h, "GET", "/ui"); r.code != 301 || r.header.Get("Location") != "/ui/" {
			t.Errorf("GET /ui: %d Location %q, want 301 to /ui/", r.code, r.header.Get("Location"))
		}
		if r := serve(t, h, "GET", "/ui/nope.js"); r.code != 404 {
			t.Errorf("GET /ui/nope.js: %d, want 404", r.code)
		}
	}
}
