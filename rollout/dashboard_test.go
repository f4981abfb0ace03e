package rollout_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/rollout"
)

// TestDashboardRolloutPanels checks that every modelgate_rollout_ metric
// the Grafana dashboard's queries use is exported by a gateway running a
// rollout that has judged a look (the gateway's own dashboard test
// checks the rest).
func TestDashboardRolloutPanels(t *testing.T) {
	raw, err := os.ReadFile("../deploy/grafana/modelgate.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`\bmodelgate_rollout_[a-z_]+`)
	used := map[string]string{}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, n := range name.FindAllString(tg.Expr, -1) {
				used[n] = p.Title
			}
		}
	}
	if len(used) < 5 {
		t.Fatalf("the dashboard uses %d rollout metrics, want its rollout panels (at least 5)", len(used))
	}
	ms := startModels(t, goodWeights)
	s := startStack(t, configText(ms, `canary: v2
interval: 20ms
steps:
  - shadow: {min_requests: 100000}
  - weight: 100
`), "")
	s.drive(30*time.Second, "a judged look", func() bool {
		st, ok := s.ctrl.Get("acme", "fraud")
		return ok && st.Looks > 0 && st.Phase == rollout.Running
	})
	code, body := s.admin("GET", "/metrics", tokVic, "")
	if code != 200 {
		t.Fatalf("metrics: %d", code)
	}
	for n, panel := range used {
		if !strings.Contains(body, "\n"+n+"{") {
			t.Errorf("panel %q: %s is not exported", panel, n)
		}
	}
	if !strings.Contains(body, `modelgate_rollout_state{model="fraud",state="running",tenant="acme"} 1`) {
		t.Error("modelgate_rollout_state does not show the running rollout")
	}
}
