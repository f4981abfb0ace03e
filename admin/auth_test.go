package admin

import (
	"strings"
	"testing"
)

// protected lists the routes behind the admin token (with admin.pprof on).
var protected = []struct{ method, path string }{
	{"GET", "/admin/shadow"},
	{"POST", "/admin/reload"},
	{"GET", "/debug/pprof/"},
	{"GET", "/debug/pprof/heap"},
}

func TestTokenRequired(t *testing.T) {
	h, _, _ := newHandler(t, configYAML(withToken+"  pprof: true\n"))
	tests := []struct {
		desc string
		auth string // Authorization header; "" for none
		code int
	}{
		{desc: "no header", code: 401},
		{desc: "wrong token", auth: "Bearer nope", code: 401},
		{desc: "empty token", auth: "Bearer ", code: 401},
		{desc: "token hash instead of token", auth: "Bearer " + sha256Hex(adminToken), code: 401},
		{desc: "other scheme", auth: "Basic " + adminToken, code: 401},
		{desc: "lowercase scheme", auth: "bearer " + adminToken, code: 401},
		{desc: "no scheme", auth: adminToken, code: 401},
		{desc: "trailing space", auth: "Bearer " + adminToken + " ", code: 401},
		{desc: "right token", auth: "Bearer " + adminToken, code: 200},
	}
	for _, route := range protected {
		for _, tt := range tests {
			var hdr []string
			if tt.auth != "" {
				hdr = []string{"Authorization", tt.auth}
			}
			r := serve(t, h, route.method, route.path, hdr...)
			if r.code != tt.code {
				t.Errorf("%s %s, %s: got %d %s, want %d", route.method, route.path, tt.desc, r.code, r.body, tt.code)
			}
			if tt.code != 401 {
				continue
			}
			if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="modelgate-admin"` {
				t.Errorf("%s %s, %s: WWW-Authenticate %q, want the Bearer realm", route.method, route.path, tt.desc, got)
			}
			if r.body != jsonBody("error", "missing or wrong admin token") {
				t.Errorf("%s %s, %s: body %q", route.method, route.path, tt.desc, r.body)
			}
		}
	}
}

// TestTokenHashAnyCase: admin.token_sha256 may be written in upper case.
func TestTokenHashAnyCase(t *testing.T) {
	h, _, _ := newHandler(t, configYAML("admin:\n  token_sha256: "+strings.ToUpper(sha256Hex(adminToken))+"\n"))
	if r := serve(t, h, "GET", "/admin/shadow", "Authorization", "Bearer "+adminToken); r.code != 200 {
		t.Errorf("upper-case token hash: got %d %s, want 200", r.code, r.body)
	}
}

// TestNoTokenConfiguredDisables: without admin.token_sha256 the protected
// routes answer 403 whatever is presented, without a challenge; the open
// ones still answer.
func TestNoTokenConfiguredDisables(t *testing.T) {
	h, _, _ := newHandler(t, configYAML("admin:\n  pprof: true\n"))
	for _, route := range protected {
		for _, auth := range []string{"", "Bearer " + adminToken, "Bearer "} {
			r := serve(t, h, route.method, route.path, "Authorization", auth)
			if r.code != 403 || r.body != jsonBody("error", "admin API disabled: admin.token_sha256 is not configured") {
				t.Errorf("%s %s with %q: got %d %q, want 403 disabled", route.method, route.path, auth, r.code, r.body)
			}
			if got := r.header.Get("WWW-Authenticate"); got != "" {
				t.Errorf("%s %s: WWW-Authenticate %q on a 403", route.method, route.path, got)
			}
		}
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/admin/config"} {
		if r := serve(t, h, "GET", path); r.code != 200 {
			t.Errorf("GET %s without a token configured: got %d, want 200", path, r.code)
		}
	}
}

// TestTokenRotatesWithReload: the token checked is the serving config's, so
// a reload that changes admin.token_sha256 takes effect on the next request.
func TestTokenRotatesWithReload(t *testing.T) {
	h, _, reloader := newHandler(t, configYAML(withToken))
	reloader.set(configYAML("admin:\n  token_sha256: " + sha256Hex("rotated") + "\n"))
	if r := serve(t, h, "POST", "/admin/reload", "Authorization", "Bearer "+adminToken); r.code != 200 {
		t.Fatalf("reload: got %d %s, want 200", r.code, r.body)
	}
	if r := serve(t, h, "GET", "/admin/shadow", "Authorization", "Bearer "+adminToken); r.code != 401 {
		t.Errorf("old token after the rotation: got %d, want 401", r.code)
	}
	if r := serve(t, h, "GET", "/admin/shadow", "Authorization", "Bearer rotated"); r.code != 200 {
		t.Errorf("new token after the rotation: got %d, want 200", r.code)
	}
}
