package gateway

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/llmserver"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// dashboardPanel is the part of a Grafana panel the test reads.
type dashboardPanel struct {
	ID      int              `json:"id"`
	Title   string           `json:"title"`
	Type    string           `json:"type"`
	Panels  []dashboardPanel `json:"panels"` // collapsed rows
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

var metricName = regexp.MustCompile(`\bmodelgate_[a-zA-Z0-9_]+`)

// exposedNames scrapes the gateway and returns every sample name it exports
// (histograms as _bucket, _sum and _count).
func exposedNames(h *harness) map[string]bool {
	h.t.Helper()
	r := h.doAdmin("GET", "/metrics", "")
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(r.body))
	if err != nil {
		h.t.Fatal(err)
	}
	names := map[string]bool{}
	for name, f := range fams {
		if len(f.GetMetric()) == 0 {
			continue
		}
		names[name] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			names[name+"_bucket"], names[name+"_sum"], names[name+"_count"] = true, true, true
		}
	}
	return names
}

// TestDashboardMetricsExist parses deploy/grafana/modelgate.json and checks
// every metric name its queries (panels and template variables) use is in
// the exposition of a gateway that served traffic.
func TestDashboardMetricsExist(t *testing.T) {
	raw, err := os.ReadFile("../deploy/grafana/modelgate.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID        string           `json:"uid"`
		Panels     []dashboardPanel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard is not valid JSON: %v", err)
	}
	if dash.UID != "modelgate" {
		t.Errorf("uid: got %q, want modelgate", dash.UID)
	}
	type query struct{ where, expr string }
	var queries []query
	ids := map[int]bool{}
	var walk func([]dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel id %d used twice", p.ID)
			}
			ids[p.ID] = true
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				queries = append(queries, query{"panel " + p.Title, tg.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	for _, v := range dash.Templating.List {
		if q, ok := v.Query.(map[string]any); ok {
			s, _ := q["query"].(string)
			queries = append(queries, query{"variable " + v.Name, s})
		}
	}
	if len(queries) < 12 {
		t.Fatalf("found %d queries, want at least 12", len(queries))
	}

	// A shadowed model, so the shadow series exist too.
	m := startModel(t, "fraud", "v1")
	m2 := startModel(t, "fraud", "v2")
	// And an OpenAI model, streamed to, so the LLM series exist.
	llm := startLLM(t, llmserver.Options{ReplyTokens: 3})
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud", "shadow: {version: v2, percent: 100}", "v1:1:"+m.URL, "v2:0:"+m2.URL)+
		tenantYAML("llm", "chat", "health_check: {disabled: true}", "v1:1:"+llm.URL))
	key, _ := testKey("acme")
	h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key)
	h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", "wrong")
	llmKey, _ := testKey("llm")
	if r := h.do("POST", "/openai/v1/chat/completions", `{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]}`,
		"Authorization", "Bearer "+llmKey); r.code != 200 || !strings.Contains(r.body, "[DONE]") {
		t.Fatalf("streamed chat: got %d %s", r.code, r.body)
	}
	// The shadow worker records its metrics one after the other, after
	// the client's answer: wait until every name the queries use is
	// exported (or time out and name the missing ones).
	missing := func(exposed map[string]bool) []string {
		var out []string
		for _, q := range queries {
			for _, n := range metricName.FindAllString(q.expr, -1) {
				if strings.HasPrefix(n, "modelgate_rollout_") {
					continue // the rollout controller's, checked by package rollout's TestDashboardRolloutPanels
				}
				if !exposed[n] {
					out = append(out, q.where+": metric "+n+" is not exported by the gateway")
				}
			}
		}
		return out
	}
	var left []string
	deadline := time.Now().Add(10 * time.Second)
	for left = missing(exposedNames(h)); len(left) > 0 && time.Now().Before(deadline); left = missing(exposedNames(h)) {
		time.Sleep(10 * time.Millisecond) // polling for the condition, bounded by deadline
	}
	for _, l := range left {
		t.Error(l)
	}
	for _, q := range queries {
		if len(metricName.FindAllString(q.expr, -1)) == 0 {
			t.Errorf("%s: no modelgate metric in %q", q.where, q.expr)
		}
	}
}
