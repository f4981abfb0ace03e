package gateway

import (
	"encoding/json"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
)

// envCGIChild makes the test binary act as a CGI program: the real CGI host
// of net/http/cgi runs it once per request, with the request's headers as
// HTTP_* variables (both "-" and "_" in a name become "_", as in every
// CGI/WSGI server), and it answers with those variables as JSON.
const envCGIChild = "MODELGATE_TEST_CGI_CHILD"

func init() {
	if os.Getenv(envCGIChild) != "1" {
		return
	}
	err := cgi.Serve(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		vars := map[string]string{}
		for _, kv := range os.Environ() {
			if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "HTTP_") {
				vars[k] = v
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(vars)
	}))
	if err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}

// TestTenantHeaderCannotBeSpoofedThroughCGI: tenant acme sends headers that
// a CGI/WSGI container would read as X-Modelgate-Tenant (underscore twins),
// and a Connection header naming the gateway's own headers, so that a
// header-stripping sidecar (httputil.ReverseProxy, which removes
// Connection-listed headers as RFC 9110 asks) deletes the real one. The
// container must see exactly the gateway's values.
func TestTenantHeaderCannotBeSpoofedThroughCGI(t *testing.T) {
	container := httptest.NewServer(&cgi.Handler{
		Path: os.Args[0],
		Args: []string{"-test.run=^$"},
		Env:  []string{envCGIChild + "=1"},
	})
	t.Cleanup(container.Close)
	target, _ := url.Parse(container.URL)
	sidecar := httptest.NewServer(httputil.NewSingleHostReverseProxy(target))
	t.Cleanup(sidecar.Close)

	h := startGateway(t, "tenants:\n"+
		tenantYAML("acme", "fraud", "health_check: {disabled: true}", "v1:1:"+sidecar.URL)+
		tenantYAML("globex", "churn", "health_check: {disabled: true}", "v1:1:"+sidecar.URL))
	key, _ := testKey("acme")
	tests := []struct {
		desc    string
		headers []string
	}{
		{"underscore twin", []string{"X_Modelgate_Tenant", "globex"}},
		{"upper-case underscore twin", []string{"X_MODELGATE_TENANT", "globex"}},
		{"mixed twin", []string{"X-Modelgate_Tenant", "globex"}},
		{"Connection names the tenant header", []string{"Connection", "X-Modelgate-Tenant"}},
		{"both", []string{"Connection", "X-Modelgate-Tenant, X-Modelgate-Version", "X_Modelgate_Tenant", "globex", "X_Modelgate_Version", "evil"}},
		{"request id twin", []string{"X_Request_ID", "forged-id"}},
		{"api key twin", []string{"X_API_Key", "key-globex"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			r := h.do("POST", "/v2/models/fraud/infer", inferBody, append([]string{"X-API-Key", key}, tt.headers...)...)
			if r.code != 200 {
				t.Fatalf("got %d %s, want 200", r.code, r.body)
			}
			var seen map[string]string
			if err := json.Unmarshal([]byte(r.body), &seen); err != nil {
				t.Fatalf("container answer %q: %v", r.body, err)
			}
			if got := seen["HTTP_X_MODELGATE_TENANT"]; got != "acme" {
				t.Errorf("container saw tenant %q, want exactly acme (all it saw: %v)", got, seen)
			}
			if got := seen["HTTP_X_MODELGATE_VERSION"]; got != "v1" {
				t.Errorf("container saw version %q, want v1", got)
			}
			for k, v := range seen {
				for _, bad := range []string{"globex", "evil", "forged-id"} {
					if strings.Contains(v, bad) {
						t.Errorf("container saw %s=%q", k, v)
					}
				}
			}
			if _, ok := seen["HTTP_X_API_KEY"]; ok {
				t.Errorf("container saw an API key variable")
			}
			if v, ok := seen["HTTP_CONNECTION"]; ok && !slices.Contains([]string{"close", "keep-alive"}, strings.ToLower(v)) {
				t.Errorf("container saw Connection %q", v)
			}
		})
	}
}
