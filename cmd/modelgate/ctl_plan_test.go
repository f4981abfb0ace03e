package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/internal/modelserver"
	"github.com/modelgate/modelgate/router"
)

// stickyConfig is planeConfig with acme/fraud sticky on X-User-ID.
func stickyConfig(t *testing.T, v1, v2 *modelserver.Running, w1, w2 int) string {
	t.Helper()
	const acmeFraud = "  - name: acme\n"
	text := planeConfig(v1, v2, w1, w2)
	i := strings.Index(text, acmeFraud)
	j := strings.Index(text[i:], "        health_check:")
	if i < 0 || j < 0 {
		t.Fatal("planeConfig changed shape: no acme/fraud health_check line to put sticky_header before")
	}
	return text[:i+j] + "        sticky_header: X-User-ID\n" + text[i+j:]
}

// model is tenant/model of cfg.
func model(t *testing.T, cfg *configs.Config, tenant, name string) *configs.Model {
	t.Helper()
	for ti := range cfg.Tenants {
		for mi := range cfg.Tenants[ti].Models {
			if m := &cfg.Tenants[ti].Models[mi]; cfg.Tenants[ti].Name == tenant && m.Name == name {
				return m
			}
		}
	}
	t.Fatalf("no model %s/%s", tenant, name)
	return nil
}

// TestCLIPlanStickyShare is the acceptance check: `modelgate plan`
// of a file that moves a sticky split 90/10 → 75/25 prints the share of
// sticky users that would switch version, and that share equals, within 4
// standard errors, a brute-force count over 100,000 synthetic keys picked
// by the old and the new model's router.Split.
func TestCLIPlanStickyShare(t *testing.T) {
	v1, v2 := startModel(t, "v1", 0), startModel(t, "v2", 0)
	path, oldCfg := writeConfig(t, stickyConfig(t, v1, v2, 90, 10))
	gw := startServe(t, path, t.TempDir())
	newPath, newCfg := writeConfig(t, stickyConfig(t, v1, v2, 75, 25))
	oldM, newM := model(t, oldCfg, "acme", "fraud"), model(t, newCfg, "acme", "fraud")
	if oldM.StickyHeader == "" || oldM.Versions[0].Weight != 90 || newM.Versions[1].Weight != 25 {
		t.Fatalf("configs not as meant: %+v → %+v", oldM, newM)
	}

	const n = 100_000
	before, after := router.NewSplit("acme", oldM), router.NewSplit("acme", newM)
	switched, v1ToV2 := 0, 0
	for i := range n {
		key := []byte("user-" + strconv.Itoa(i))
		from, to := before.Name(before.PickSticky(key)), after.Name(after.PickSticky(key))
		if from != to {
			switched++
		}
		if from == "v1" && to == "v2" {
			v1ToV2++
		}
	}
	p := float64(switched) / n
	se := math.Sqrt(p * (1 - p) / n)
	t.Logf("brute force: %d of %d keys switch (%.3f%% ± %.3f%%), %d v1→v2", switched, n, 100*p, 100*se, v1ToV2)

	r := gw.as("vera", "plan", "--config", newPath)
	r.want(t, 0, "a reload of "+newPath+" would change, against revision 1:\n",
		"\n  acme/fraud: weight v1 90 → 75\n  acme/fraud: weight v2 10 → 25\n")
	m := regexp.MustCompile(`(?m)^acme/fraud: ([0-9.]+)% of sticky users would switch version \(v1→v2 ([0-9.]+)%\)$`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("plan prints no sticky share line for acme/fraud:\n%s", r.stdout)
	}
	t.Logf("plan: %s", m[0])
	share, _ := strconv.ParseFloat(m[1], 64)
	flow, _ := strconv.ParseFloat(m[2], 64)
	// The printed figure has one decimal: it may be off by rounding (0.05
	// points) on top of the sampling error.
	if d := math.Abs(share/100 - p); d > 4*se+0.0005 {
		t.Errorf("plan says %.1f%% of sticky users switch; the brute-force count is %.3f%% ± %.3f%%: off by %.1f standard errors",
			share, 100*p, 100*se, d/se)
	}
	if math.Abs(flow-share) > 0.05 || v1ToV2 != switched {
		t.Errorf("flows: plan v1→v2 %.1f%% of %.1f%%; brute force %d v1→v2 of %d", flow, share, v1ToV2, switched)
	}

	// -o json: the API's figure, unrounded, within 4 standard errors too.
	r = gw.as("vera", "plan", "--config", newPath, "-o", "json")
	var doc planDoc
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != 0 || !doc.Valid || len(doc.Sticky) != 1 {
		t.Fatalf("plan -o json: exit %d %v\n%s", r.code, err, r.stdout)
	}
	if got := doc.Sticky[0].SwitchShare; math.Abs(got-p) > 4*se {
		t.Errorf("plan -o json: switch_share %.5f; brute force %.5f ± %.5f", got, p, se)
	}

	t.Run("unchanged file", func(t *testing.T) {
		gw.as("vera", "plan", "--config", path).want(t, 0, "a reload of "+path+" would change nothing against revision 1\n")
	})
	t.Run("invalid file", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.yaml")
		text := strings.Replace(stickyConfig(t, v1, v2, 75, -25), "http://", "tcp://", 1)
		if err := os.WriteFile(bad, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, output := range []string{"table", "json"} {
			r := gw.as("vera", "plan", "--config", bad, "-o", output)
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if r.code != 1 || lines[0] != bad+": invalid config (a reload would keep revision 1):" ||
				!slices.Contains(lines, "tenants[0].models[0].versions[1].weight: must not be negative") ||
				!slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "tenants[0].models[0].versions[0].endpoints[0]: ") }) {
				t.Errorf("-o %s: got exit %d, stderr:\n%s\nwant 1 and the mistakes with their YAML paths", output, r.code, r.stderr)
			}
			if output == "json" && !strings.Contains(r.stdout, `"valid": false`) {
				t.Errorf("-o json: stdout %s, want the API's answer", r.stdout)
			}
		}
	})
	if rb, _ := gw.routes("vera"); rb.Revision != 1 {
		t.Errorf("plan applied something: running revision %d", rb.Revision)
	}
}
