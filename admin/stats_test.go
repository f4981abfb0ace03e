package admin

import (
	"encoding/json"
	"iter"
	"slices"
	"testing"
	"time"

	"github.com/modelgate/modelgate/observability"
	"github.com/prometheus/client_golang/prometheus"
)

// gatewayStats is a Stats over real metrics, with the endpoint states the
// test sets (the gateway's come from its health checks and breakers).
type gatewayStats struct {
	*observability.Metrics
	endpoints []observability.EndpointSample
}

func (s *gatewayStats) EndpointSamples() iter.Seq[observability.EndpointSample] {
	return slices.Values(s.endpoints)
}

func statsHandler(t *testing.T) (*gatewayStats, func(token string) (int, statsView)) {
	t.Helper()
	src := newSource(t, operatorsConfig())
	st := &gatewayStats{Metrics: observability.NewMetrics()}
	h := Handler(src, &parseReloader{src: src}, prometheus.NewRegistry(), WithStats(st))
	return st, func(token string) (int, statsView) {
		t.Helper()
		r := serve(t, h, "GET", "/admin/stats", "Authorization", "Bearer "+token)
		var v statsView
		if r.code == 200 {
			if err := json.Unmarshal([]byte(r.body), &v); err != nil {
				t.Fatalf("GET /admin/stats: %v in %s", err, r.body)
			}
		}
		return r.code, v
	}
}

func findVersion(v statsView, tenant, model, version string) *versionStatsView {
	for i := range v.Versions {
		if vs := &v.Versions[i]; vs.Tenant == tenant && vs.Model == model && vs.Version == version {
			return vs
		}
	}
	return nil
}

// TestStatsScope: every role may read the stats; a scoped operator sees
// only its tenant's versions; a wrong token is 401.
func TestStatsScope(t *testing.T) {
	_, get := statsHandler(t)
	for _, tt := range []struct {
		token string
		code  int
		want  []string
	}{
		{"viewer", 200, []string{"acme/fraud/v1", "acme/fraud/v2", "globex/churn/v1", "globex/churn/v2"}},
		{"admin", 200, []string{"acme/fraud/v1", "acme/fraud/v2", "globex/churn/v1", "globex/churn/v2"}},
		{"scoped", 200, []string{"acme/fraud/v1", "acme/fraud/v2"}},
		{"wrong", 401, nil},
	} {
		code, v := get(tt.token)
		var got []string
		for _, vs := range v.Versions {
			got = append(got, vs.Tenant+"/"+vs.Model+"/"+vs.Version)
		}
		if code != tt.code || !slices.Equal(got, tt.want) {
			t.Errorf("as %s: %d %v, want %d %v", tt.token, code, got, tt.code, tt.want)
		}
	}
}

// TestStatsWithout: without WithStats there is no such path.
func TestStatsWithout(t *testing.T) {
	h, _, _ := newHandler(t, operatorsConfig())
	if r := serve(t, h, "GET", "/admin/stats", "Authorization", "Bearer viewer"); r.code != 404 {
		t.Errorf("GET /admin/stats without WithStats: %d %s, want 404", r.code, r.body)
	}
}

// TestStatsCounts: totals, the window since the previous reading, the
// error share, p99 and the endpoints' state, from real metrics.
func TestStatsCounts(t *testing.T) {
	st, get := statsHandler(t)
	st.endpoints = []observability.EndpointSample{
		{Tenant: "acme", Model: "fraud", Version: "v2", Endpoint: "http://127.0.0.1:8002", Up: true, BreakerState: observability.BreakerOpen, InFlight: 3},
		{Tenant: "acme", Model: "fraud", Version: "v2", Endpoint: "http://127.0.0.1:8003", Up: false, BreakerState: observability.BreakerHalfOpen},
		{Tenant: "globex", Model: "churn", Version: "v1", Endpoint: "http://127.0.0.1:8011", Up: true},
	}
	v1 := st.Series("acme", "fraud", "v1", observability.RolePrimary)
	for i := range 100 {
		code := 200
		if i < 2 {
			code = 503
		}
		v1.Request(code)
		v1.Duration.Observe(0.010) // 10 ms, one at 1 s: p99 well below 1 s
	}
	v1.Duration.Observe(1)

	_, first := get("viewer")
	vs := findVersion(first, "acme", "fraud", "v1")
	switch {
	case vs == nil:
		t.Fatalf("acme/fraud/v1 missing: %+v", first)
	case vs.Total.Requests != 100 || vs.Total.Errors != 2 || vs.Total.ErrorShare == nil || *vs.Total.ErrorShare != 0.02:
		t.Errorf("total %+v, want 100 requests, 2 errors, error share 0.02", vs.Total)
	case vs.Total.P99Seconds == nil || *vs.Total.P99Seconds < 0.009 || *vs.Total.P99Seconds > 0.0115:
		t.Errorf("total p99 %v, want about 10 ms (native buckets)", vs.Total.P99Seconds)
	case vs.Window != nil || first.WindowSeconds != 0:
		t.Errorf("window on the first reading: %+v (%gs), want none", vs.Window, first.WindowSeconds)
	}
	if w := findVersion(first, "globex", "churn", "v2"); w == nil || w.Total.Requests != 0 || w.Total.ErrorShare != nil || w.Total.P99Seconds != nil {
		t.Errorf("an idle version: %+v, want zero counts and null shares", w)
	}

	for range 10 {
		v1.Request(500)
	}
	_, second := get("viewer")
	vs = findVersion(second, "acme", "fraud", "v1")
	switch {
	case second.WindowSeconds <= 0:
		t.Errorf("second reading: window %gs, want > 0", second.WindowSeconds)
	case vs.Window == nil:
		t.Errorf("second reading: no window")
	case vs.Window.Requests != 10 || vs.Window.Errors != 10 || *vs.Window.ErrorShare != 1 || vs.Window.P99Seconds != nil:
		t.Errorf("window %+v, want the 10 errors since the first reading, no latency", vs.Window)
	case vs.Window.RequestRate == nil || *vs.Window.RequestRate <= 0:
		t.Errorf("window rate %v, want > 0", vs.Window.RequestRate)
	case vs.Total.Requests != 110:
		t.Errorf("total requests %d, want 110", vs.Total.Requests)
	}
	eps := findVersion(second, "acme", "fraud", "v2").Endpoints
	want := []endpointView{{URL: "http://127.0.0.1:8002", Up: true, Breaker: "open", InFlight: 3}, {URL: "http://127.0.0.1:8003", Breaker: "half_open"}}
	if !slices.Equal(eps, want) {
		t.Errorf("acme/fraud/v2 endpoints %+v, want %+v", eps, want)
	}
	if eps := findVersion(second, "acme", "fraud", "v1").Endpoints; eps == nil || len(eps) != 0 {
		t.Errorf("a version without samples: endpoints %#v, want []", eps)
	}

	// A reload that forgot the version recreates its series: its counts
	// restart, and the window across that is none rather than negative.
	st.Forget("acme", "fraud", "v1")
	st.Series("acme", "fraud", "v1", observability.RolePrimary).Request(200)
	_, third := get("viewer")
	if vs := findVersion(third, "acme", "fraud", "v1"); vs.Total.Requests != 1 || vs.Window != nil {
		t.Errorf("after the series were recreated: total %+v, window %+v; want 1 request and no window", vs.Total, vs.Window)
	}
}

// TestStatsWindowSpan: readings older than statsWindowSpan are dropped,
// and readings closer than statsReadingEvery are not kept.
func TestStatsWindowSpan(t *testing.T) {
	var w statsWindow
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) statsReading { return statsReading{at: t0.Add(d)} }
	if _, ok := w.add(at(0)); ok {
		t.Fatal("a window from the first reading alone")
	}
	for _, tt := range []struct {
		now, wantStart time.Duration
		kept           int
	}{
		{now: 500 * time.Millisecond, wantStart: 0, kept: 1}, // too close: not kept, window from 0
		{now: 10 * time.Second, wantStart: 0, kept: 2},
		{now: 30 * time.Second, wantStart: 0, kept: 3},
		{now: 31 * time.Second, wantStart: 10 * time.Second, kept: 3}, // 0 is over 30 s old
		{now: 2 * time.Minute, wantStart: 0, kept: 1},                 // all too old: no window
	} {
		start, ok := w.add(at(tt.now))
		switch {
		case tt.now == 2*time.Minute && ok:
			t.Errorf("at %v: window from %v, want none", tt.now, start.at.Sub(t0))
		case tt.now != 2*time.Minute && (!ok || start.at.Sub(t0) != tt.wantStart):
			t.Errorf("at %v: window from %v (%v), want %v", tt.now, start.at.Sub(t0), ok, tt.wantStart)
		}
		if len(w.readings) != tt.kept {
			t.Errorf("at %v: %d readings kept, want %d", tt.now, len(w.readings), tt.kept)
		}
	}
}
