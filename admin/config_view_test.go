package admin

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestConfigShowsNoSecrets: GET /admin/config shows the routing table
// (shares, key counts, the shadow) and none of the keys, key hashes or the
// admin token hash, to a viewer (the admin token here).
func TestConfigShowsNoSecrets(t *testing.T) {
	h, src, _ := newHandler(t, configYAML(withToken))
	r := serve(t, h, "GET", "/admin/config", "Authorization", "Bearer "+adminToken)
	if r.code != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("got %d %q, want 200 JSON", r.code, r.header.Get("Content-Type"))
	}
	var view tableView
	if err := json.Unmarshal([]byte(r.body), &view); err != nil {
		t.Fatalf("decoding /admin/config: %v", err)
	}
	if view.Hash != src.Config().Hash || len(view.Tenants) != 1 || view.Tenants[0].Name != "acme" || view.Tenants[0].APIKeys != 1 {
		t.Fatalf("got view %+v, want the serving config's hash and acme with one key", view)
	}
	m := view.Tenants[0].Models[0]
	if m.Name != "fraud" || m.StickyHeader != "X-User-ID" || len(m.Versions) != 2 ||
		m.Versions[0].Share != 75 || m.Versions[1].Share != 25 || len(m.Versions[1].Endpoints) != 2 ||
		m.Versions[0].ContainerVersion != "" || m.Versions[1].ContainerVersion != "2" {
		t.Errorf("got model %+v, want fraud sticky by X-User-ID, v1 at 75%% and v2 (container version 2) at 25%% with two endpoints", m)
	}
	if m.Shadow == nil || m.Shadow.Version != "v2" || m.Shadow.Percent != 10 {
		t.Errorf("got shadow %+v, want v2 at 10%%", m.Shadow)
	}
	for _, secret := range []string{sha256Hex("key-acme"), "key-acme", adminToken, src.Config().Admin.TokenSHA256} {
		if strings.Contains(r.body, secret) {
			t.Errorf("/admin/config shows a secret: %q", secret)
		}
	}
}

// TestConfigViewZeroWeights: a model whose weights are all 0 shows 0%
// shares rather than dividing by zero.
func TestConfigViewZeroWeights(t *testing.T) {
	cfg := mustParse(t, configYAML(""))
	for i := range cfg.Tenants[0].Models[0].Versions {
		cfg.Tenants[0].Models[0].Versions[i].Weight = 0
	}
	for _, v := range configView(cfg, func(string) bool { return true }).Tenants[0].Models[0].Versions {
		if v.Share != 0 {
			t.Errorf("version %s: share %v, want 0", v.Name, v.Share)
		}
	}
}
