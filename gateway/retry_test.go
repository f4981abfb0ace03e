package gateway

import (
	"log/slog"
	"testing"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/gateway/upstream"
	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/router/retry"
)

// Pure decisions of the resilience layer, tested without a network.

func TestUpstreamStatus(t *testing.T) {
	tests := []struct {
		o            upstream.Outcome
		pastDeadline bool
		want         int
	}{
		{upstream.ConnFailed, false, 502}, {upstream.Failed, false, 502}, {upstream.TimedOut, false, 504}, {upstream.ConnFailed, true, 504},
		{upstream.Busy, false, 503}, {upstream.NoEndpoint, false, 503}, {upstream.NoEndpoint, true, 503},
		{upstream.TooLarge, false, 502}, {upstream.TooLarge, true, 502}, {upstream.Answered, true, 504},
	}
	for _, tt := range tests {
		if got := upstreamStatus(tt.o, tt.pastDeadline).code; got != tt.want || got != tt.o.Status(tt.pastDeadline) {
			t.Errorf("upstreamStatus(%d, %v): got %d, want %d", tt.o, tt.pastDeadline, got, tt.want)
		}
	}
}

func TestSharedEndpointSettingsAndCarryOver(t *testing.T) {
	const shared = "http://127.0.0.1:1"
	text := func(budget string) string {
		return "tenants:\n" +
			tenantYAML("acme", "fraud", "connect_timeout: 3s\nbreaker: {consecutive_failures: 7}\nhealth_check: {disabled: true, path: /v2/health/ready}\nretry: {budget: "+budget+"}", "v1:1:"+shared) +
			tenantYAML("globex", "churn", "connect_timeout: 1s\nbreaker: {consecutive_failures: 2}\nhealth_check: {disabled: true, path: /v2/health/ready}", "v1:1:"+shared)
	}
	parse := func(s string) *configs.Config {
		cfg, err := configs.Parse([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	st := newState(observability.NewMetrics(), slog.New(slog.DiscardHandler), configs.DefaultMaxAnswerBytes, nil)
	t.Cleanup(st.upstreams.Close)
	build := func(cfg *configs.Config) *snapshot {
		gen := st.set.Begin()
		defer gen.Commit()
		return st.build(gen, cfg)
	}
	old := build(parse(text("0.2")))
	ep := old.tenants[0].models["fraud"].versions[0].endpoints[0]
	if ep.URL() != shared {
		t.Fatalf("first endpoint: got %s, want %s", ep.URL(), shared)
	}
	if brk, _ := ep.BreakerSettings(); brk.ConsecutiveFailures != 7 {
		t.Errorf("shared endpoint's breaker: got consecutive_failures %d, want 7 (first model in file order)", brk.ConsecutiveFailures)
	}
	if got := ep.ConnectTimeout(); got != time.Second {
		t.Errorf("shared endpoint's connect timeout: got %v, want 1s (the smallest)", got)
	}
	budget := old.tenants[0].models["fraud"].res.budget
	same := build(parse(text("0.2")))
	if same.tenants[0].models["fraud"].res.budget != budget {
		t.Errorf("a reload that kept the model and its budget ratio replaced its retry budget")
	}
	changed := build(parse(text("0.5")))
	if changed.tenants[0].models["fraud"].res.budget == budget {
		t.Errorf("a reload that changed the budget ratio kept the old budget")
	}
}

// TestRetryBudgetZero: retry.budget 0 means no retries at all (not even
// from the reserve a model starts with), while attempts allows one.
func TestRetryBudgetZero(t *testing.T) {
	crashing, ok := startModel(t, "fraud", "v1"), startModel(t, "fraud", "v1")
	crashing.Server.SetResetConnections(true)
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud", "breaker: {disabled: true}\nretry: {attempts: 1, budget: 0}", "v1:1:"+crashing.URL+","+ok.URL))
	key, _ := testKey("acme")
	served := 0
	// Fewer requests to the crashing replica than the reserve (retry.Reserve
	// retries) a non-zero budget starts with.
	for i := 0; len(crashing.Server.Requests()) < retry.Reserve/2; i++ {
		if i == 200 {
			t.Fatalf("the crashing replica got %d requests in 200, want P2C to pick it about half the time", len(crashing.Server.Requests()))
		}
		before := len(crashing.Server.Requests())
		r := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key)
		switch hitCrashing := len(crashing.Server.Requests()) > before; {
		case hitCrashing && r.code != 502:
			t.Fatalf("request reset by a replica: got %d %s, want 502 (budget 0: no retry on the other replica)", r.code, r.body)
		case !hitCrashing && r.code != 200:
			t.Fatalf("request to the healthy replica: got %d %s, want 200", r.code, r.body)
		case !hitCrashing:
			served++
		}
	}
	if got := len(ok.Server.Requests()); got != served {
		t.Errorf("healthy replica got %d requests, want %d (only its own, no retries)", got, served)
	}
	if got := h.scrape()["modelgate_retries_total|model=fraud|tenant=acme|version=v1"]; got != 0 {
		t.Errorf("modelgate_retries_total: got %v, want 0", got)
	}
}
