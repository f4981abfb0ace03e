package gateway

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/observability"
	"github.com/valyala/fasthttp"
)

// twoTenantsYAML: acme with models zeta and alpha (in that order, so the
// list must be sorted), globex with churn; models extra are added to acme.
func twoTenantsYAML(backend string, extra ...string) string {
	model := func(name string) string {
		return fmt.Sprintf("      - name: %s\n        health_check: {disabled: true}\n        versions: [{name: v1, weight: 1, endpoints: [%q]}]\n", name, backend)
	}
	_, acme := testKey("acme")
	_, globex := testKey("globex")
	var b strings.Builder
	fmt.Fprintf(&b, "tenants:\n  - name: acme\n    api_keys: [{sha256: %q}]\n    models:\n", acme)
	for _, m := range append([]string{"zeta", "alpha"}, extra...) {
		b.WriteString(model(m))
	}
	fmt.Fprintf(&b, "  - name: globex\n    api_keys: [{sha256: %q}]\n    models:\n", globex)
	b.WriteString(model("churn"))
	return b.String()
}

// TestServerLevelCalls: GET /v2, GET /v2/models and GET /v1/models are
// answered by the gateway for the caller's tenant: its own model names
// only, sorted; 401 without a valid key, 405 for another method, both
// counted; a reload changes the list (issue 12).
func TestServerLevelCalls(t *testing.T) {
	backend := deadURL(t) // nothing is proxied
	h := startGateway(t, twoTenantsYAML(backend))
	acme, _ := testKey("acme")
	globex, _ := testKey("globex")
	meta := `{"name":"modelgate","version":"` + observability.Version + `","extensions":[]}`
	tests := []struct {
		desc, method, path string
		headers            []string
		code               int
		body, allow        string
	}{
		{"acme lists its models, sorted", "GET", "/v2/models", []string{"X-API-Key", acme}, 200, `{"models":["alpha","zeta"]}`, ""},
		{"acme, V1 list", "GET", "/v1/models", []string{"Authorization", "Bearer " + acme}, 200, `{"models":["alpha","zeta"]}`, ""},
		{"globex sees only its own", "GET", "/v2/models", []string{"X-API-Key", globex}, 200, `{"models":["churn"]}`, ""},
		{"globex, V1 list", "GET", "/v1/models", []string{"X-API-Key", globex}, 200, `{"models":["churn"]}`, ""},
		{"server metadata", "GET", "/v2", []string{"X-API-Key", acme}, 200, meta, ""},
		{"no key", "GET", "/v2/models", nil, 401, `{"error":"missing or unknown API key"}`, ""},
		{"unknown key", "GET", "/v1/models", []string{"X-API-Key", "nope"}, 401, `{"error":"missing or unknown API key"}`, ""},
		{"server metadata without a key", "GET", "/v2", nil, 401, `{"error":"missing or unknown API key"}`, ""},
		{"POST list", "POST", "/v2/models", []string{"X-API-Key", acme}, 405, `{"error":"method not allowed"}`, "GET"},
		{"DELETE V1 list", "DELETE", "/v1/models", []string{"X-API-Key", acme}, 405, `{"error":"method not allowed"}`, "GET"},
		{"PUT server metadata", "PUT", "/v2", nil, 405, `{"error":"method not allowed"}`, "GET"},
		{"trailing slash is no such path", "GET", "/v2/models/", []string{"X-API-Key", acme}, 404, `{"error":"no such API path"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			r := h.do(tt.method, tt.path, "", tt.headers...)
			if r.code != tt.code || r.body != tt.body {
				t.Errorf("got %d %s, want %d %s", r.code, r.body, tt.code, tt.body)
			}
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type: got %q, want application/json", ct)
			}
			if got := r.header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow: got %q, want %q", got, tt.allow)
			}
		})
	}
	m := h.scrape()
	for reason, want := range map[string]float64{"unauthorized": 3, "method_not_allowed": 3} {
		if got := m["modelgate_rejected_requests_total|model=|reason="+reason+"|tenant="]; got != want {
			t.Errorf("modelgate_rejected_requests_total{reason=%q}: got %v, want %v", reason, got, want)
		}
	}

	t.Run("reload", func(t *testing.T) {
		if err := h.reload(twoTenantsYAML(backend, "beta")); err != nil {
			t.Fatal(err)
		}
		if r := h.do("GET", "/v2/models", "", "X-API-Key", acme); r.code != 200 || r.body != `{"models":["alpha","beta","zeta"]}` {
			t.Errorf("after the reload: got %d %s, want the new model listed", r.code, r.body)
		}
		if r := h.do("GET", "/v2/models", "", "X-API-Key", globex); r.code != 200 || r.body != `{"models":["churn"]}` {
			t.Errorf("globex after the reload: got %d %s, want its list unchanged", r.code, r.body)
		}
	})
}

// TestServerLevelCallsAllocs: the server-level answers come from bodies
// built with the snapshot: nothing is allocated per request.
func TestServerLevelCallsAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	g := newQuietGateway(t, parseConfig(t, "server:\n  listen: 127.0.0.1:0\n  admin_listen: 127.0.0.1:0\n"+twoTenantsYAML("http://127.0.0.1:1")))
	handler := g.app.Handler()
	key, _ := testKey("acme")
	for _, tt := range []struct {
		path, want string
	}{
		{"/v2/models", `{"models":["alpha","zeta"]}`},
		{"/v1/models", `{"models":["alpha","zeta"]}`},
		{"/v2", `"name":"modelgate"`},
	} {
		var req fasthttp.Request
		req.Header.SetMethod("GET")
		req.SetRequestURI(tt.path)
		req.Header.Set("Authorization", "Bearer "+key)
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5555}, nil)
		serve := func() {
			req.CopyTo(&ctx.Request)
			ctx.Response.Reset()
			handler(&ctx)
			if ctx.Response.StatusCode() != 200 || !bytes.Contains(ctx.Response.Body(), []byte(tt.want)) {
				t.Fatalf("%s: got %d %s, want 200 with %s", tt.path, ctx.Response.StatusCode(), ctx.Response.Body(), tt.want)
			}
		}
		serve()
		if n := testing.AllocsPerRun(200, serve); n != 0 {
			t.Errorf("%s: got %v allocations per request, want 0", tt.path, n)
		}
	}
}
