package gateway

import (
	"context"
	"log/slog"
	"testing"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/observability"
)

// TestStateKeptAndReleasedByGeneration: every kind of long-lived state a
// config uses is kept by a build of the same config (the same values) and
// released by the commit of a build without it — one generation shape for
// endpoints, shadow pools and stats, metric series and scopes, retry
// budgets, limiters and admission queue series.
func TestStateKeptAndReleasedByGeneration(t *testing.T) {
	st := newState(observability.NewMetrics(), slog.New(slog.DiscardHandler), configs.DefaultMaxAnswerBytes, nil)
	t.Cleanup(func() {
		_ = st.shadows.Shutdown(context.Background())
		st.upstreams.Close()
	})
	globex := tenantYAML("globex", "churn", "health_check: {disabled: true}", "v1:1:http://127.0.0.1:3")
	full := "tenants:\n" + tenantYAML("acme", "fraud",
		"health_check: {disabled: true}\nlimits: {max_in_flight: 4}\nshadow: {version: v2}\nretry: {budget: 0.2}",
		"v1:1:http://127.0.0.1:1", "v2:0:http://127.0.0.1:2") + globex
	small := "tenants:\n" + globex
	apply := func(text string) *snapshot {
		t.Helper()
		cfg, err := configs.Parse([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		gen := st.set.Begin()
		s := st.build(gen, cfg)
		gen.Commit()
		return s
	}
	type sizes struct{ endpoints, series, scopes, budgets, limiters, queues, pools, stats int }
	held := func() sizes {
		pools, stats := st.shadows.Len()
		return sizes{st.upstreams.Len(), st.series.Len(), st.scopes.Len(), st.budgets.Len(), st.limiters.Len(), st.queues.Len(), pools, stats}
	}

	first := apply(full)
	want := sizes{endpoints: 3, series: 3, scopes: 4, budgets: 2, limiters: 1, queues: 1, pools: 1, stats: 1}
	if got := held(); got != want {
		t.Fatalf("after the first build: holding %+v, want %+v", got, want)
	}
	second := apply(full)
	if got := held(); got != want {
		t.Errorf("after the same config again: holding %+v, want %+v", got, want)
	}
	f1, f2 := first.tenants[0].models["fraud"], second.tenants[0].models["fraud"]
	switch {
	case f1.versions[0].endpoints[0] != f2.versions[0].endpoints[0]:
		t.Error("same config: endpoint replaced")
	case f1.versions[0].series != f2.versions[0].series || f1.scope != f2.scope:
		t.Error("same config: metric handles replaced")
	case f1.res.budget != f2.res.budget:
		t.Error("same config: retry budget replaced")
	case f1.admission.model != f2.admission.model:
		t.Error("same config: limiter replaced")
	case f1.shadow.View().Queue.Stopped:
		t.Error("same config: shadow pool stopped")
	}

	apply(small)
	want = sizes{endpoints: 1, series: 1, scopes: 2, budgets: 1}
	if got := held(); got != want {
		t.Errorf("after removing acme: holding %+v, want %+v", got, want)
	}
	if !f2.shadow.View().Queue.Stopped {
		t.Error("after removing acme: its shadow pool still takes copies")
	}
}
