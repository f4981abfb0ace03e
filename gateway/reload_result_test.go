package gateway

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestReloadEmptyFileKeepsConfig is an editor's truncate-then-write: the
// reload loop sees the empty file (here via POST /admin/reload, and the
// file watch sees it too). The empty file is refused, the last good config
// keeps serving every request and the admin token, the gauge reads 0, and
// the next valid file reloads through the admin API with the same token.
func TestReloadEmptyFileKeepsConfig(t *testing.T) {
	v1 := startModel(t, "fraud", "v1")
	v2 := startModel(t, "fraud", "v2")
	good1 := "tenants:\n" + tenantYAML("acme", "fraud", "", "v1:1:"+v1.URL, "v2:0:"+v2.URL)
	good2 := "tenants:\n" + tenantYAML("acme", "fraud", "", "v1:0:"+v1.URL, "v2:1:"+v2.URL)
	h := startGateway(t, good1)
	key, _ := testKey("acme")
	const ok = "modelgate_config_last_reload_successful"
	auth := []string{"Authorization", "Bearer " + adminToken}

	load := h.startLoad(4, "POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key)
	load.waitFor(0, 20, 10*time.Second)
	load.setPhase(1)
	// Truncated in place, as an editor does before writing.
	if err := os.WriteFile(h.cfgPath, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r := h.doAdmin("POST", "/admin/reload", "", auth...)
	if r.code != 422 || !strings.Contains(r.body, "tenants: at least one tenant is required") {
		t.Errorf("reload of an empty file: got %d %s, want 422 naming tenants", r.code, r.body)
	}
	if m := h.scrape(); m[ok] != 0 {
		t.Errorf("after the empty file: %s = %v, want 0", ok, m[ok])
	}
	load.waitFor(1, load.get(1).total+20, 10*time.Second)
	load.setPhase(2)
	h.writeConfig(good2)
	r = h.doAdmin("POST", "/admin/reload", "", auth...)
	if r.code != 200 {
		t.Fatalf("reload of the rewritten file with the admin token: got %d %s, want 200", r.code, r.body)
	}
	if m := h.scrape(); m[ok] != 1 {
		t.Errorf("after the valid file: %s = %v, want 1", ok, m[ok])
	}
	load.waitFor(2, 20, 10*time.Second)
	load.stop()
	for p := range 3 {
		if tl := load.get(p); tl.errors() != 0 {
			t.Errorf("phase %d: %d of %d requests failed (first: %s), want none", p, tl.errors(), tl.total, tl.firstErr)
		}
	}
	if got := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key).header.Get(HeaderVersion); got != "v2" {
		t.Errorf("after the valid file: got version %q, want v2", got)
	}
}
