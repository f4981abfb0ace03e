package admin

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/configs"
)

// protected lists the routes behind the admin token (with admin.pprof on).
var protected = []struct{ method, path string }{
	{"GET", "/admin/config"},
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
			if r.code != 403 || r.body != jsonBody("error", "admin API disabled: neither admin.token_sha256 nor admin.operators is configured") {
				t.Errorf("%s %s with %q: got %d %q, want 403 disabled", route.method, route.path, auth, r.code, r.body)
			}
			if got := r.header.Get("WWW-Authenticate"); got != "" {
				t.Errorf("%s %s: WWW-Authenticate %q on a 403", route.method, route.path, got)
			}
		}
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
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

// operatorsYAML configures one operator of each role, a viewer scoped to
// acme, and a second tenant globex.
const operatorsYAML = `admin:
  operators:
    - {name: vera, token_sha256: "` + "VIEWER" + `", role: viewer}
    - {name: otto, token_sha256: "` + "OPERATOR" + `", role: operator}
    - {name: abby, token_sha256: "` + "APPROVER" + `", role: approver}
    - {name: adam, token_sha256: "` + "ADMIN" + `", role: admin}
    - {name: sam, token_sha256: "` + "SCOPED" + `", role: operator, tenants: [acme]}
  pprof: true
`

func operatorsConfig() string {
	y := operatorsYAML
	for _, n := range []string{"VIEWER", "OPERATOR", "APPROVER", "ADMIN", "SCOPED"} {
		y = strings.Replace(y, `"`+n+`"`, `"`+sha256Hex(strings.ToLower(n))+`"`, 1)
	}
	return strings.TrimSuffix(configYAML(""), "\n") + `
  - name: globex
    api_keys: [{sha256: "` + sha256Hex("key-globex") + `"}]
    models:
      - name: churn
        shadow: {version: v2, percent: 10}
        versions:
          - {name: v1, weight: 1, endpoints: ["http://127.0.0.1:8011"]}
          - {name: v2, weight: 0, endpoints: ["http://127.0.0.1:8012"]}
` + y
}

// TestRoleBoundaries: each role may do what the roles below it may, and a
// known token with too low a role gets 403 naming the role needed (no
// challenge: the token is right).
func TestRoleBoundaries(t *testing.T) {
	h, _, _ := newHandler(t, operatorsConfig())
	routes := []struct {
		method, path, needs string
	}{
		{"GET", "/admin/config", "viewer"},
		{"GET", "/admin/shadow", "viewer"},
		{"POST", "/admin/reload", "operator"},
		{"GET", "/debug/pprof/", "admin"},
	}
	for _, rt := range routes {
		for _, who := range []string{"viewer", "operator", "approver", "admin"} {
			r := serve(t, h, rt.method, rt.path, "Authorization", "Bearer "+who)
			allowed := configsRank(who) >= configsRank(rt.needs)
			switch {
			case allowed && r.code != 200:
				t.Errorf("%s %s as %s: got %d %s, want 200", rt.method, rt.path, who, r.code, r.body)
			case !allowed && (r.code != 403 || !strings.Contains(r.body, "needs role "+rt.needs)):
				t.Errorf("%s %s as %s: got %d %s, want 403 needing %s", rt.method, rt.path, who, r.code, r.body, rt.needs)
			case !allowed && r.header.Get("WWW-Authenticate") != "":
				t.Errorf("%s %s as %s: a challenge on a 403", rt.method, rt.path, who)
			}
		}
	}
}

// TestScopedOperatorSeesOnlyItsTenants: an operator scoped to acme sees
// neither globex's routing nor its shadow.
func TestScopedOperatorSeesOnlyItsTenants(t *testing.T) {
	h, _, _ := newHandler(t, operatorsConfig())
	for _, tt := range []struct {
		token string
		want  []string
	}{{"scoped", []string{"acme"}}, {"viewer", []string{"acme", "globex"}}} {
		r := serve(t, h, "GET", "/admin/config", "Authorization", "Bearer "+tt.token)
		var view tableView
		if err := json.Unmarshal([]byte(r.body), &view); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, tv := range view.Tenants {
			got = append(got, tv.Name)
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("/admin/config as %s: tenants %v, want %v", tt.token, got, tt.want)
		}
		if tt.token == "scoped" && strings.Contains(r.body, "globex") {
			t.Errorf("/admin/config as the acme operator names globex: %s", r.body)
		}
	}
}

func configsRank(role string) int { return configs.RoleRank(role) }
