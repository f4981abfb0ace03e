package admin

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/control"
	"github.com/modelgate/modelgate/revision"
	"github.com/modelgate/modelgate/router"
	"github.com/prometheus/client_golang/prometheus"
)

// applier applies a control plane's routing to the test source, as the
// gateway does.
type applier struct{ src *source }

func (a applier) Apply(cfg *configs.Config) error { a.src.cfg.Store(cfg); return nil }

// controlHandler serves operatorsConfig with a real control plane over a
// revision store in a temporary directory.
func controlHandler(t *testing.T) (*control.Plane, func(token, method, path, body string) answer) {
	t.Helper()
	src := newSource(t, operatorsConfig())
	store, err := revision.Open(t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	plane := control.New(store, applier{src}, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry(), nil)
	if err := plane.Start(src.Config()); err != nil {
		t.Fatal(err)
	}
	h := Handler(src, &parseReloader{src: src}, prometheus.NewRegistry(), WithControl(plane))
	return plane, func(token, method, path, body string) answer {
		t.Helper()
		return serveReq(t, h, httptest.NewRequest(method, path, strings.NewReader(body)), "Authorization", "Bearer "+token)
	}
}

// TestPlanWeights: the preview of a weights change says what would change
// and the exact share of sticky users that would switch, changes nothing,
// and refuses what PUT would refuse.
func TestPlanWeights(t *testing.T) {
	plane, do := controlHandler(t)
	before := plane.Running().N
	const fraud = "/admin/tenants/acme/models/fraud/weights/plan"
	r := do("viewer", "POST", fraud, `{"weights": {"v1": 1, "v2": 1}}`)
	var v weightsPlanView
	if err := json.Unmarshal([]byte(r.body), &v); r.code != 200 || err != nil {
		t.Fatalf("plan as viewer: %d %s", r.code, r.body)
	}
	run := plane.Running()
	old := &run.Routing[0].Models[0]
	niu := *old
	niu.Versions = []configs.Version{old.Versions[0], old.Versions[1]}
	niu.Versions[0].Weight, niu.Versions[1].Weight = 1, 1
	want := router.StickySwitchShare("acme", old, &niu)
	switch {
	case v.SwitchShare != want || want <= 0:
		t.Errorf("switch share %g, want %g (router.StickySwitchShare) and above 0", v.SwitchShare, want)
	case v.StickyHeader != "X-User-ID" || len(v.Flows) == 0 || v.Flows[0].From != "v1" || v.Flows[0].To != "v2":
		t.Errorf("plan %s: want sticky header X-User-ID and users moving v1 → v2", r.body)
	case len(v.Changes) == 0 || !strings.Contains(strings.Join(v.Changes, "\n"), "acme/fraud"):
		t.Errorf("changes %v, want acme/fraud's weights", v.Changes)
	case run.N != before || v.Running != before:
		t.Errorf("a plan made revision %d (was %d; answer says %d)", run.N, before, v.Running)
	}

	for _, tt := range []struct {
		desc, token, path, body string
		code                    int
		has                     string
	}{
		{"not sticky", "viewer", "/admin/tenants/globex/models/churn/weights/plan", `{"weights": {"v1": 1, "v2": 1}}`, 200, `"switch_share": 0,`},
		{"another tenant's", "scoped", "/admin/tenants/globex/models/churn/weights/plan", `{"weights": {"v1": 1, "v2": 1}}`, 404, "not found"},
		{"its own tenant's", "scoped", fraud, `{"weights": {"v1": 1, "v2": 1}}`, 200, `"sticky_header": "X-User-ID"`},
		{"no such model", "viewer", "/admin/tenants/acme/models/nope/weights/plan", `{"weights": {"v1": 1}}`, 404, "not found"},
		{"unknown version", "viewer", fraud, `{"weights": {"v1": 1, "v2": 1, "v3": 1}}`, 422, `"path": "weights.v3"`},
		{"all zero", "viewer", fraud, `{"weights": {"v1": 0, "v2": 0}}`, 422, "positive weight"},
		{"not JSON", "viewer", fraud, `{"weights":`, 400, "empty or cut short"},
		{"wrong token", "nobody", fraud, `{"weights": {"v1": 1, "v2": 1}}`, 401, "missing or wrong"},
	} {
		r := do(tt.token, "POST", tt.path, tt.body)
		if r.code != tt.code || !strings.Contains(r.body, tt.has) {
			t.Errorf("%s: %d %s, want %d with %q", tt.desc, r.code, r.body, tt.code, tt.has)
		}
		if tt.token == "scoped" && tt.code == 200 && strings.Contains(r.body, "globex") {
			t.Errorf("%s: the answer names globex: %s", tt.desc, r.body)
		}
	}
	if plane.Running().N != before {
		t.Errorf("plans made revision %d (was %d)", plane.Running().N, before)
	}
}

// TestWhoami: the principal as the console needs it to offer what the
// role may do.
func TestWhoami(t *testing.T) {
	_, do := controlHandler(t)
	for _, tt := range []struct {
		token string
		code  int
		want  string
	}{
		{"viewer", 200, `{"name":"vera","role":"viewer","tenants":null}`},
		{"approver", 200, `{"name":"abby","role":"approver","tenants":null}`},
		{"admin", 200, `{"name":"adam","role":"admin","tenants":null}`},
		{"scoped", 200, `{"name":"sam","role":"operator","tenants":["acme"]}`},
		{"nobody", 401, `{"error":"missing or wrong admin token"}`},
	} {
		r := do(tt.token, "GET", "/admin/whoami", "")
		var compact strings.Builder
		var v any
		if err := json.Unmarshal([]byte(r.body), &v); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(v)
		compact.Write(b)
		if r.code != tt.code || compact.String() != tt.want {
			t.Errorf("whoami as %s: %d %s, want %d %s", tt.token, r.code, compact.String(), tt.code, tt.want)
		}
	}
}
