package gateway

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/await"
)

// metricLines returns the sample lines of the admin /metrics exposition
// that contain every one of subs.
func (h *harness) metricLines(subs ...string) []string {
	h.t.Helper()
	r := h.doAdmin("GET", "/metrics", "")
	if r.code != 200 {
		h.t.Fatalf("/metrics: got %d", r.code)
	}
	var out []string
next:
	for line := range strings.SplitSeq(r.body, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		for _, s := range subs {
			if !strings.Contains(line, s) {
				continue next
			}
		}
		out = append(out, line)
	}
	return out
}

// TestRemovedTenantLeavesNoSeries: tenant bravo gets every kind of
// per-tenant series (each rejection reason that names a tenant or model,
// admission queue, fallback, shadow and role="shadow" series, request
// series); after a reload without bravo, no series in /metrics names it.
func TestRemovedTenantLeavesNoSeries(t *testing.T) {
	live := startModel(t, "fraud", "v1")
	live2 := startModel(t, "fraud", "v2")
	limited := startModel(t, "limited", "v1")
	down2 := startModel(t, "down", "v2")
	slow := startModel(t, "slow", "v1")
	slow.Server.SetDelay(400 * time.Millisecond)
	dead := deadURL(t)
	acme := tenantYAML("acme", "fraud", "", "v1:1:"+live.URL)
	_, bravoHash := testKey("bravo")
	bravo := fmt.Sprintf(`  - name: bravo
    api_keys: [{sha256: %q}]
    limits: {max_in_flight: 1, max_queue: 1, max_queue_wait: 50ms}
    models:
      - name: fraud
        shadow: {version: v2, percent: 100}
        versions:
          - {name: v1, weight: 1, endpoints: [%q]}
          - {name: v2, weight: 0, endpoints: [%q]}
      - name: slow
        versions: [{name: v1, weight: 1, endpoints: [%q]}]
      - name: limited
        limits: {requests_per_second: 0.001, burst: 1}
        versions: [{name: v1, weight: 1, endpoints: [%q]}]
      - name: down
        fallback: v2
        %s
        versions:
          - {name: v1, weight: 1, endpoints: [%q]}
          - {name: v2, weight: 0, endpoints: [%q]}
      - name: gone
        %s
        versions: [{name: v1, weight: 1, endpoints: [%q]}]
`, bravoHash, live.URL, live2.URL, slow.URL, limited.URL, fastHealth, dead, down2.URL, fastHealth, dead)
	h := startGateway(t, "tenants:\n"+acme+bravo)
	key, _ := testKey("bravo")
	await.Until(t, 10*time.Second, "the dead endpoint marked down", func() bool { return !h.endpoint(dead).Up() })

	for _, tc := range []struct {
		desc, method, path string
		want               int
	}{
		{"served and shadowed", "POST", "/v2/models/fraud/infer", 200},
		{"unknown model", "POST", "/v2/models/nope/infer", 404},
		{"unknown version", "POST", "/v2/models/fraud/versions/v9/infer", 404},
		{"rate limit: first", "POST", "/v2/models/limited/infer", 200},
		{"rate limit: second", "POST", "/v2/models/limited/infer", 429},
		{"fallback", "POST", "/v2/models/down/infer", 200},
		{"no endpoint", "POST", "/v2/models/gone/infer", 503},
		{"wrong method", "GET", "/v2/models/fraud/infer", 405},
	} {
		if r := h.do(tc.method, tc.path, inferBody, "X-API-Key", key); r.code != tc.want {
			t.Fatalf("%s: got %d %s, want %d", tc.desc, r.code, r.body, tc.want)
		}
	}
	// Concurrency: one request holds bravo's only slot, the next waits
	// 50 ms in the queue and is refused.
	held := make(chan response, 1)
	go func() { held <- h.do("POST", "/v2/models/slow/infer", inferBody, "X-API-Key", key) }()
	lim := h.gw.snap.Load().tenants[1].models["slow"].admission.tenant
	await.Until(t, 10*time.Second, "the slow request to hold the slot", func() bool { return lim.InFlight() == 1 })
	if r := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key); r.code != 429 {
		t.Errorf("over max_in_flight: got %d %s, want 429", r.code, r.body)
	}
	if r := <-held; r.code != 200 {
		t.Errorf("slow request: got %d %s, want 200", r.code, r.body)
	}
	await.Until(t, 10*time.Second, "the shadow comparison recorded", func() bool {
		return len(h.metricLines("modelgate_shadow_requests_total", `tenant="bravo"`, `outcome="match"`, " 1")) == 1
	})

	for _, want := range [][]string{
		{`modelgate_rejected_requests_total{`, `model=""`, `reason="not_found"`},
		{`modelgate_rejected_requests_total{`, `model="fraud"`, `reason="not_found"`},
		{`modelgate_rejected_requests_total{`, `model="limited"`, `reason="rate_limited"`},
		{`modelgate_rejected_requests_total{`, `model="fraud"`, `reason="concurrency"`},
		{`modelgate_rejected_requests_total{`, `model="gone"`, `reason="no_endpoint"`},
		{`modelgate_queue_wait_seconds_count{`, `model=""`},
		{`modelgate_fallbacks_total{`, `model="down"`},
		{`modelgate_requests_total{`, `model="fraud"`, `role="shadow"`},
		{`modelgate_request_duration_seconds_count{`, `model="slow"`},
		{`modelgate_endpoint_up{`, `model="gone"`},
		{`modelgate_endpoint_in_flight{`, `model="fraud"`, `version="v2"`}, // served as the shadow only
	} {
		if len(h.metricLines(append(want, `tenant="bravo"`)...)) == 0 {
			t.Errorf("before the reload: no series with %q for bravo", want)
		}
	}

	if err := h.reload("tenants:\n" + acme); err != nil {
		t.Fatal(err)
	}
	for _, line := range h.metricLines("bravo") {
		t.Errorf("series of removed tenant bravo still exported: %s", line)
	}
}

// TestMethodNotAllowedCounted: a wrong method on a proxied path is refused
// with 405 before authentication and counted as a tenant-less rejection.
func TestMethodNotAllowedCounted(t *testing.T) {
	m := startModel(t, "fraud", "v1")
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud", "", "v1:1:"+m.URL))
	key, _ := testKey("acme")
	for _, path := range []string{"/v2/models/fraud/infer", "/v2/models/fraud/versions/v1/infer", "/v1/models/fraud:predict"} {
		r := h.do("GET", path, "", "X-API-Key", key)
		if r.code != 405 || r.header.Get("Allow") != "POST" {
			t.Fatalf("GET %s: got %d Allow %q, want 405 Allow POST", path, r.code, r.header.Get("Allow"))
		}
	}
	const series = `modelgate_rejected_requests_total{model="",reason="method_not_allowed",tenant=""}`
	if got := h.metricLine(series); got != 3 {
		t.Errorf("%s = %v, want 3", series, got)
	}
}

// TestIdleSeriesBound: a gateway configured with 200 tenants × 5 models
// (2,000 versions, tenant limits) and no traffic exports, of the series
// naming a tenant, only one per configured version endpoint
// (modelgate_endpoint_up) and one per limited tenant
// (modelgate_queued_requests); the first request to a model creates its
// series (and only that model's), within a small bound.
func TestIdleSeriesBound(t *testing.T) {
	m := startModel(t, "m0", "v1")
	h := startGateway(t, manyTenantsYAML(200, 5, m.URL))
	idle := h.metricLines(`tenant="`)
	for _, line := range idle {
		if !strings.HasPrefix(line, "modelgate_endpoint_up{") && !strings.HasPrefix(line, `modelgate_queued_requests{model=""`) {
			t.Errorf("idle config exports %s", line)
			break
		}
	}
	if got, limit := len(idle), 200*5*2+200; got > limit {
		t.Errorf("idle config: got %d series naming a tenant, want at most %d (one endpoint_up per version endpoint, one queue gauge per tenant)", got, limit)
	}

	key, _ := testKey("t0")
	for range 5 {
		if r := h.do("POST", "/v2/models/m0/infer", inferBody, "X-API-Key", key); r.code != 200 {
			t.Fatalf("got %d %s", r.code, r.body)
		}
	}
	used := h.metricLines(`tenant="t0"`, `model="m0"`)
	names := map[string]bool{}
	for _, line := range used {
		names[line[:strings.IndexByte(line, '{')]] = true
	}
	for _, want := range []string{"modelgate_requests_total", "modelgate_request_duration_seconds_count",
		"modelgate_upstream_duration_seconds_bucket", "modelgate_in_flight_requests", "modelgate_endpoint_in_flight"} {
		if !names[want] {
			t.Errorf("after traffic: no %s for t0/m0", want)
		}
	}
	// Two versions at most served (90/10 split): per served version two
	// histograms (10 buckets + +Inf, sum, count), in-flight, retries, a
	// few codes, the fallback counter and three endpoint gauges.
	if got, limit := len(used), 2*(2*13+1+1+3+1+3); got > limit {
		t.Errorf("after traffic: got %d series for t0/m0, want at most %d:\n%s", got, limit, strings.Join(used, "\n"))
	}
	if got := len(h.metricLines(`tenant="t1"`)); got > 5*2+1 {
		t.Errorf("traffic to t0 changed t1's series: got %d, want at most 11", got)
	}
}

// TestHandlerAllocs: a proxied request allocates nothing once its series
// exist (the first request of a version creates them), also with admission
// limits and a fallback configured.
func TestHandlerAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	g := newQuietGateway(t, parseConfig(t, manyTenantsYAML(2, 1, startFastBackend(t))))
	serve := inProcess(t, g, "t0", "/v2/models/m0/infer")
	for range 200 { // both versions of the 90/10 split served
		serve()
	}
	if n := testing.AllocsPerRun(200, serve); n != 0 {
		t.Errorf("got %v allocations per proxied request, want 0", n)
	}
}
