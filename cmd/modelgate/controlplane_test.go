package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelgate/modelgate/audit"
	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/internal/modelserver"
	"github.com/modelgate/modelgate/tenants"
)

// running is one serve started by startServe.
type running struct {
	traffic, admin string
	stop           func() // stops serve and waits for it
	client         *http.Client
	t              *testing.T
}

// startServe runs serve for the config at path with data directory dir
// until stop (or the test's end).
func startServe(t *testing.T, path, dir string) *running {
	t.Helper()
	cfg, err := configs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, path, dir, cfg, io.Discard, func(a listenAddrs) { addrs <- [2]string{a.traffic.String(), a.admin.String()} })
	}()
	var a [2]string
	select {
	case a = <-addrs:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("serve did not start")
	}
	var once sync.Once
	r := &running{traffic: a[0], admin: a[1], client: &http.Client{Timeout: 10 * time.Second}, t: t}
	r.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
			r.client.CloseIdleConnections()
		})
	}
	t.Cleanup(r.stop)
	return r
}

type answer struct {
	code   int
	header http.Header
	body   string
}

// call sends an admin request with token (none if "") and headers.
func (r *running) call(method, path, token, body string, headers ...string) answer {
	r.t.Helper()
	req, _ := http.NewRequest(method, "http://"+r.admin+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := r.client.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

// versionsServed sends n predictions of tenant key and counts the
// versions that answered.
func (r *running) versionsServed(key, model string, n int) map[string]int {
	r.t.Helper()
	out := map[string]int{}
	for range n {
		req, _ := http.NewRequest("POST", "http://"+r.traffic+"/v2/models/"+model+"/infer",
			strings.NewReader(`{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP64","data":[1,2,3,4]}]}`))
		req.Header.Set("X-API-Key", key)
		resp, err := r.client.Do(req)
		if err != nil {
			r.t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			r.t.Fatalf("prediction: got %d", resp.StatusCode)
		}
		out[resp.Header.Get("X-Modelgate-Version")]++
	}
	return out
}

// routes is GET /admin/routes as token, decoded.
func (r *running) routes(token string) (routesBody, answer) {
	r.t.Helper()
	a := r.call("GET", "/admin/routes", token, "")
	var rb routesBody
	if a.code == 200 {
		if err := json.Unmarshal([]byte(a.body), &rb); err != nil {
			r.t.Fatalf("decoding /admin/routes: %v", err)
		}
	}
	return rb, a
}

type routesBody struct {
	Revision uint64 `json:"revision"`
	Drift    bool   `json:"drift"`
	Tenants  []struct {
		Name   string `json:"name"`
		Models []struct {
			Name     string `json:"name"`
			Versions []struct {
				Name         string   `json:"name"`
				Weight       int      `json:"weight"`
				WeightSource string   `json:"weight_source"`
				Endpoints    []string `json:"endpoints"`
			} `json:"versions"`
		} `json:"models"`
	} `json:"tenants"`
}

// weights is "v1=90 v2=10"-like: the running weights of tenant/model.
func (rb routesBody) weights(tenant, model string) string {
	for _, t := range rb.Tenants {
		for _, m := range t.Models {
			if t.Name == tenant && m.Name == model {
				var parts []string
				for _, v := range m.Versions {
					parts = append(parts, v.Name+"="+itoa(v.Weight)+"("+v.WeightSource+")")
				}
				return strings.Join(parts, " ")
			}
		}
	}
	return ""
}

func itoa(n int) string { return strconv.Itoa(n) }

// planeConfig is two tenants (acme: fraud v1 90 / v2 10; globex: churn),
// the admin token "admin-token" and operators vera (viewer), otto and
// olga (operator) and sam (operator scoped to acme); tokens are their names.
func planeConfig(v1, v2 *modelserver.Running, w1, w2 int) string {
	op := func(name, role, scope string) string {
		s := `    - {name: ` + name + `, token_sha256: "` + tenants.HashKey(name) + `", role: ` + role
		if scope != "" {
			s += `, tenants: [` + scope + `]`
		}
		return s + "}\n"
	}
	return `server: {listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0", shutdown_timeout: 5s}
admin:
  token_sha256: "` + tenants.HashKey("admin-token") + `"
  operators:
` + op("vera", "viewer", "") + op("otto", "operator", "") + op("olga", "operator", "") + op("sam", "operator", "acme") + `tenants:
  - name: acme
    api_keys: [{sha256: "` + tenants.HashKey("k-acme") + `"}]
    models:
      - name: fraud
        health_check: {disabled: true}
        versions:
          - {name: v1, weight: ` + itoa(w1) + `, endpoints: ["` + v1.URL + `"]}
          - {name: v2, weight: ` + itoa(w2) + `, endpoints: ["` + v2.URL + `"]}
  - name: globex
    api_keys: [{sha256: "` + tenants.HashKey("k-globex") + `"}]
    models:
      - name: fraud
        health_check: {disabled: true}
        versions:
          - {name: v1, weight: 1, endpoints: ["` + v1.URL + `"]}
`
}

// TestControlPlaneWeightsRollbackRoles drives the control plane through
// the real admin listener, with traffic through the real traffic listener
// to real model containers.
func TestControlPlaneWeightsRollbackRoles(t *testing.T) {
	v1, v2 := startModel(t, "v1", 0), startModel(t, "v2", 0)
	path, _ := writeConfig(t, planeConfig(v1, v2, 90, 10))
	dir := t.TempDir()
	gw := startServe(t, path, dir)

	rb, a := gw.routes("vera")
	if a.code != 200 || rb.Revision != 1 || a.header.Get("ETag") != `"1"` || rb.Drift ||
		rb.weights("acme", "fraud") != "v1=90(file) v2=10(file)" {
		t.Fatalf("first routes: %d %s", a.code, a.body)
	}
	put := func(token, tenant, body string, headers ...string) answer {
		return gw.call("PUT", "/admin/tenants/"+tenant+"/models/fraud/weights", token, body, headers...)
	}
	allV2 := `{"weights": {"v1": 0, "v2": 100}, "reason": "canary looks good"}`

	t.Run("roles", func(t *testing.T) {
		if a := put("", "acme", allV2); a.code != 401 {
			t.Errorf("no token: got %d", a.code)
		}
		if a := put("vera", "acme", allV2); a.code != 403 || !strings.Contains(a.body, "needs role operator") {
			t.Errorf("viewer: got %d %s, want 403 needing operator", a.code, a.body)
		}
		if a := gw.call("POST", "/admin/rollback", "vera", `{"to": 1}`); a.code != 403 {
			t.Errorf("viewer rollback: got %d", a.code)
		}
		if a := gw.call("GET", "/admin/revisions", "", ""); a.code != 401 {
			t.Errorf("revisions without a token: got %d", a.code)
		}
	})

	// An operator moves all of acme's traffic to v2.
	a = put("otto", "acme", allV2, "If-Match", `"1"`)
	if a.code != 200 || a.header.Get("ETag") != `"2"` {
		t.Fatalf("weights: got %d %s", a.code, a.body)
	}
	if got := gw.versionsServed("k-acme", "fraud", 20); got["v2"] != 20 {
		t.Errorf("after v1=0 v2=100: versions served %v, want all v2", got)
	}
	if got := gw.versionsServed("k-globex", "fraud", 5); got["v1"] != 5 {
		t.Errorf("globex untouched: versions served %v", got)
	}
	rb, _ = gw.routes("vera")
	if rb.Revision != 2 || !rb.Drift || rb.weights("acme", "fraud") != "v1=0(api) v2=100(api)" {
		t.Errorf("after the change: revision %d drift %v weights %s", rb.Revision, rb.Drift, rb.weights("acme", "fraud"))
	}

	t.Run("stale If-Match", func(t *testing.T) {
		if a := put("olga", "acme", `{"weights": {"v1": 50, "v2": 50}}`, "If-Match", `"1"`); a.code != 412 {
			t.Errorf("If-Match of revision 1 after 2: got %d %s, want 412", a.code, a.body)
		}
		// Two operators at once, both from revision 2: one wins.
		codes := make(chan int, 2)
		for _, who := range []string{"otto", "olga"} {
			go func() {
				codes <- put(who, "acme", `{"weights": {"v1": 10, "v2": 90}, "reason": "`+who+`"}`, "If-Match", `"2"`).code
			}()
		}
		got := []int{<-codes, <-codes}
		if !(got[0] == 200 && got[1] == 412 || got[0] == 412 && got[1] == 200) {
			t.Errorf("concurrent changes from one revision: got %v, want one 200 and one 412", got)
		}
	})

	t.Run("validation", func(t *testing.T) {
		for body, field := range map[string]string{
			`{"weights": {"v1": 1, "v2": 1, "v9": 1}}`: "weights.v9",
			`{"weights": {"v1": 1}}`:                   "weights.v2",
			`{"weights": {"v1": -1, "v2": 2}}`:         "weights.v1",
			`{"weights": {"v1": 0, "v2": 0}}`:          "weights",
		} {
			a := put("otto", "acme", body)
			var e struct{ Path string }
			_ = json.Unmarshal([]byte(a.body), &e)
			if a.code != 422 || e.Path != field {
				t.Errorf("%s: got %d %s, want 422 at %s", body, a.code, a.body, field)
			}
		}
		if a := put("otto", "acme", `{"weights": {"v1": 1, "v2": 1}, "extra": 1}`); a.code != 400 {
			t.Errorf("unknown field: got %d %s, want 400", a.code, a.body)
		}
	})

	t.Run("tenant scope", func(t *testing.T) {
		if a := put("sam", "globex", `{"weights": {"v1": 1}}`); a.code != 404 {
			t.Errorf("acme's operator changing globex: got %d %s, want 404", a.code, a.body)
		}
		rb, a := gw.routes("sam")
		if a.code != 200 || len(rb.Tenants) != 1 || rb.Tenants[0].Name != "acme" || strings.Contains(a.body, "globex") {
			t.Errorf("acme's operator: routes %s, want acme only", a.body)
		}
		if a := gw.call("POST", "/admin/reload", "sam", ""); a.code != 403 {
			t.Errorf("scoped reload: got %d, want 403", a.code)
		}
		if a := gw.call("GET", "/admin/audit?tenant=globex", "sam", ""); a.code != 200 || strings.Contains(a.body, "globex") {
			t.Errorf("acme's operator reading globex's audit: got %d %s", a.code, a.body)
		}
	})

	// Rollback to revision 1 restores the file's weights exactly.
	a = gw.call("POST", "/admin/rollback", "otto", `{"to": 1, "reason": "back to the file"}`)
	if a.code != 200 {
		t.Fatalf("rollback: got %d %s", a.code, a.body)
	}
	rb, _ = gw.routes("vera")
	if rb.Drift || rb.weights("acme", "fraud") != "v1=90(file) v2=10(file)" {
		t.Errorf("after the rollback: drift %v weights %s, want the file's", rb.Drift, rb.weights("acme", "fraud"))
	}
	if got := gw.versionsServed("k-acme", "fraud", 200); got["v1"] < 150 || got["v2"] == 0 {
		t.Errorf("after the rollback: versions served %v, want about 90%% v1", got)
	}

	a = gw.call("GET", "/admin/revisions", "vera", "")
	var list struct {
		Revisions []struct {
			N       uint64   `json:"n"`
			Source  string   `json:"source"`
			Actor   string   `json:"actor"`
			Changes []string `json:"changes"`
		} `json:"revisions"`
	}
	if err := json.Unmarshal([]byte(a.body), &list); err != nil || len(list.Revisions) < 4 {
		t.Fatalf("revisions: %d %s", a.code, a.body)
	}
	if r := list.Revisions[0]; r.Source != "rollback" || r.Actor != "otto" {
		t.Errorf("newest revision %+v, want otto's rollback", r)
	}
	if a := gw.call("GET", "/admin/revisions/2/diff?from=1", "vera", ""); !strings.Contains(a.body, "acme/fraud: weight v2 10 → 100") {
		t.Errorf("diff 1 → 2: %s", a.body)
	}
	if a := gw.call("GET", "/admin/revisions/999", "vera", ""); a.code != 404 {
		t.Errorf("unknown revision: got %d", a.code)
	}

	// The audit log holds the mutations, refused ones included, and its
	// chain verifies.
	a = gw.call("GET", "/admin/audit", "vera", "")
	for _, want := range []string{`"action":"weights"`, `"status":412`, `"status":422`, `"status":403`, `"action":"rollback"`, `"actor":"otto"`} {
		if !strings.Contains(a.body, want) {
			t.Errorf("audit log lacks %s:\n%s", want, a.body)
		}
	}
	for _, secret := range []string{"admin-token", tenants.HashKey("otto"), "k-acme", tenants.HashKey("k-acme")} {
		if strings.Contains(a.body, secret) {
			t.Errorf("the audit log holds a secret: %q", secret)
		}
	}
	gw.stop()
	f, err := os.Open(filepath.Join(dir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := audit.Verify(f)
	if err != nil || rep.Gaps != 0 || rep.Entries < 8 {
		t.Errorf("audit verify: %+v, %v; want a complete chain", rep, err)
	}
}

// TestControlPlaneRestart: a restart with the file unchanged resumes the
// latest revision (API changes survive); with the file changed while the
// gateway was down, the file wins and names what it overrode.
func TestControlPlaneRestart(t *testing.T) {
	v1, v2 := startModel(t, "v1", 0), startModel(t, "v2", 0)
	path, _ := writeConfig(t, planeConfig(v1, v2, 90, 10))
	dir := t.TempDir()

	gw := startServe(t, path, dir)
	if a := gw.call("PUT", "/admin/tenants/acme/models/fraud/weights", "otto", `{"weights": {"v1": 0, "v2": 1}}`); a.code != 200 {
		t.Fatalf("weights: %d %s", a.code, a.body)
	}
	gw.stop()

	gw = startServe(t, path, dir)
	rb, _ := gw.routes("vera")
	if rb.Revision != 2 || !rb.Drift || rb.weights("acme", "fraud") != "v1=0(api) v2=1(api)" {
		t.Errorf("restart, file unchanged: revision %d drift %v weights %s; want revision 2 resumed", rb.Revision, rb.Drift, rb.weights("acme", "fraud"))
	}
	if got := gw.versionsServed("k-acme", "fraud", 10); got["v2"] != 10 {
		t.Errorf("resumed revision: versions served %v, want all v2", got)
	}
	gw.stop()

	if err := os.WriteFile(path, []byte(planeConfig(v1, v2, 50, 50)), 0o600); err != nil {
		t.Fatal(err)
	}
	gw = startServe(t, path, dir)
	rb, _ = gw.routes("vera")
	if rb.Revision != 3 || rb.Drift || rb.weights("acme", "fraud") != "v1=50(file) v2=50(file)" {
		t.Errorf("restart, file changed: revision %d drift %v weights %s; want a file revision 3", rb.Revision, rb.Drift, rb.weights("acme", "fraud"))
	}
	a := gw.call("GET", "/admin/revisions/3", "vera", "")
	if !strings.Contains(a.body, `"source": "file"`) || !strings.Contains(a.body, "weight v2 1 → 50") {
		t.Errorf("revision 3: %s", a.body)
	}
}
