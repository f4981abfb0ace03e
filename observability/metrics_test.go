package observability

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestMetricsExposition checks the exposition passes client_golang's linter
// (the promtool check metrics rules), carries the role label, and has
// classic buckets 1 ms … 30 s alongside native histograms.
func TestMetricsExposition(t *testing.T) {
	m := NewMetrics()
	m.Reloaded(true, "abc123", 1)
	m.Rejected("acme", "fraud", ReasonRateLimited)
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
