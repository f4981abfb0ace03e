package observability

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestMetricsExposition checks the exposition passes client_golang's linter
// (the promtool check metrics rules), carries the role label, and has
// classic buckets 1 ms … 30 s alongside native histograms.
func TestMetricsExposition(t *testing.T) {
	m := NewMetrics()
	m.Reloaded(true, "abc123", 1)
	m.Scope("acme", "fraud").Rejected(ReasonRateLimited)
	for _, role := range []string{RolePrimary, RoleShadow} {
		s := m.Series("acme", "fraud", "v1", role)
		s.InFlight.Inc()
		s.Duration.Observe(0.012)
		s.Upstream.Observe(0.010)
		s.Request(200)
	}
	problems, err := testutil.GatherAndLint(m.Registry)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}

	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, mf := range mfs {
		found[mf.GetName()] = true
		for _, metric := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range metric.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			switch mf.GetName() {
			case "modelgate_requests_total", "modelgate_in_flight_requests":
				if r := labels["role"]; r != RolePrimary && r != RoleShadow {
					t.Errorf("%s: role label %q", mf.GetName(), r)
				}
			case "modelgate_request_duration_seconds", "modelgate_upstream_duration_seconds":
				h := metric.GetHistogram()
				b := h.GetBucket()
				if len(b) != len(LatencyBuckets) || b[0].GetUpperBound() != 0.001 || b[len(b)-1].GetUpperBound() != 30 {
					t.Errorf("%s: classic buckets %v, want 1 ms … 30 s", mf.GetName(), b)
				}
				if h.Schema == nil || len(h.GetPositiveSpan()) == 0 {
					t.Errorf("%s: no native histogram (schema %v)", mf.GetName(), h.Schema)
				}
				if labels["role"] == "" {
					t.Errorf("%s: no role label", mf.GetName())
				}
			}
		}
	}
	for _, name := range []string{"modelgate_config_info", "modelgate_build_info", "modelgate_requests_total",
		"modelgate_in_flight_requests", "modelgate_rejected_requests_total", "modelgate_config_last_reload_successful"} {
		if !found[name] {
			t.Errorf("%s not exported", name)
		}
	}
	m.Forget("acme", "fraud", "v1")
	if n := testutil.CollectAndCount(m.inFlight); n != 0 {
		t.Errorf("after Forget: %d in-flight series left, want 0", n)
	}
}
func TestSeriesAndForget(t *testing.T) {
	m := NewMetrics()
	s := m.Series("acme", "fraud", "v1", RolePrimary)
	for range 3 {
		s.Request(200)
	}
	s.Request(0)   // out of range codes are counted as 0
	s.Request(999) // ditto
	want := `
# HELP modelgate_requests_total Prediction requests answered, by tenant, model, serving version, role (primary or shadow) and HTTP status code.
# TYPE modelgate_requests_total counter
modelgate_requests_total{code="0",model="fraud",role="primary",tenant="acme",version="v1"} 2
modelgate_requests_total{code="200",model="fraud",role="primary",tenant="acme",version="v1"} 3
`
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(want), "modelgate_requests_total"); err != nil {
		t.Error(err)
	}
	m.Forget("acme", "fraud", "v1")
	if n := testutil.CollectAndCount(m.requests); n != 0 {
		t.Errorf("got %d request series after Forget, want 0", n)
	}
	if n := testutil.CollectAndCount(m.inFlight); n != 0 {
		t.Errorf("got %d in-flight series after Forget, want 0", n)
	}
}

func TestReloadedTracksHash(t *testing.T) {
	m := NewMetrics()
	m.Reloaded(true, "aaa", 10)
	m.Reloaded(false, "", 0)
	if got := testutil.ToFloat64(m.reloadOK); got != 0 {
		t.Errorf("got last_reload_successful %v after a failure, want 0", got)
	}
	m.Reloaded(true, "bbb", 20)
	want := `
# HELP modelgate_config_info Always 1; the hash label is the SHA-256 of the config file now serving.
# TYPE modelgate_config_info gauge
modelgate_config_info{hash="bbb"} 1
# HELP modelgate_config_last_reload_successful 1 if the last config load succeeded, 0 if it failed and the previous config still serves.
# TYPE modelgate_config_last_reload_successful gauge
modelgate_config_last_reload_successful 1
# HELP modelgate_config_reloads_total Config loads by result (success or failure).
# TYPE modelgate_config_reloads_total counter
modelgate_config_reloads_total{result="failure"} 1
modelgate_config_reloads_total{result="success"} 2
`
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(want),
		"modelgate_config_info", "modelgate_config_last_reload_successful", "modelgate_config_reloads_total"); err != nil {
		t.Error(err)
	}
}

func TestLoggerLevel(t *testing.T) {
	var b strings.Builder
	l := NewLogger(&b, "warn")
	l.Info("hidden")
	l.Warn("shown", "k", "v")
	l.SetLevel("debug")
	l.Debug("now shown")
	out := b.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, `"msg":"shown","k":"v"`) || !strings.Contains(out, "now shown") {
		t.Errorf("got log output:\n%s", out)
	}
}
