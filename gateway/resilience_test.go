package gateway

import (
	"encoding/json"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/await"
)

// Fault-injection tests: real model containers on loopback, a real gateway,
// each asserting a bound on the errors its callers see.

// fastHealth makes health checks react within a few hundred milliseconds.
const fastHealth = "health_check: {interval: 50ms, timeout: 200ms, unhealthy_after: 1, healthy_after: 1}"

// noRequestStuck fails the test if a request goroutine is still inside an
// upstream call after the callers got their answers.
func noRequestStuck(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1<<20)
	await.Until(t, 5*time.Second, "no goroutine left in an upstream call", func() bool {
		n := runtime.Stack(buf, true)
		return !strings.Contains(string(buf[:n]), "gateway.(*Gateway).tryVersion")
	})
}

// goroutinesIn counts the goroutines whose stack contains fn.
func goroutinesIn(fn string) int {
	buf := make([]byte, 4<<20)
	n := runtime.Stack(buf, true)
	for n == len(buf) { // truncated: every goroutine must be counted
		buf = make([]byte, 2*len(buf))
		n = runtime.Stack(buf, true)
	}
	count := 0
	for _, g := range strings.Split(string(buf[:n]), "\n\n") {
		if strings.Contains(g, fn) {
			count++
		}
	}
	return count
}

func TestReplicaKilledMidLoad(t *testing.T) {
	a, b, c := startModel(t, "fraud", "v1"), startModel(t, "fraud", "v1"), startModel(t, "fraud", "v1")
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud", "timeout: 5s\n"+fastHealth,
		"v1:1:"+a.URL+","+b.URL+","+c.URL))
	key, _ := testKey("acme")
	load := h.startLoad(6, "POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key)
	load.waitFor(0, 150, 20*time.Second)

	load.setPhase(1)
	b.Close() // in-flight requests on b are cut, new connections refused
	await.Until(t, 5*time.Second, "the killed replica marked down", func() bool { return !h.endpoint(b.URL).Up() })
	load.setPhase(2)
	after := load.waitFor(2, 300, 20*time.Second)
	load.stop()

	t.Logf("errors/requests: before kill %d/%d, during detection %d/%d, after %d/%d",
		load.get(0).errors(), load.get(0).total, load.get(1).errors(), load.get(1).total, after.errors(), after.total)
	if before := load.get(0); before.errors() != 0 {
		t.Errorf("before the kill: got %d errors in %d requests (first: %s), want 0", before.errors(), before.total, before.firstErr)
	}
	// Requests cut on b before any answer are retried on a or c.
	if during := load.get(1); during.errors() > 5 {
		t.Errorf("while the kill is detected: got %d errors in %d requests (first: %s), want at most 5", during.errors(), during.total, during.firstErr)
	}
	if after.errors() != 0 {
		t.Errorf("after the replica is marked down: got %d errors in %d requests (first: %s), want 0", after.errors(), after.total, after.firstErr)
	}
	m := h.scrape()
	if up := m["modelgate_endpoint_up|endpoint="+b.URL+"|model=fraud|tenant=acme|version=v1"]; up != 0 {
		t.Errorf("modelgate_endpoint_up of the killed replica: got %v, want 0", up)
	}
	if up := m["modelgate_endpoint_up|endpoint="+a.URL+"|model=fraud|tenant=acme|version=v1"]; up != 1 {
		t.Errorf("modelgate_endpoint_up of a live replica: got %v, want 1", up)
	}
	if r := h.doAdmin("GET", "/readyz", ""); r.code != 200 {
		t.Errorf("/readyz with two of three replicas up: got %d %s, want 200", r.code, r.body)
	}
}

func TestHungBackend(t *testing.T) {
	hung, ok := startModel(t, "fraud", "v1"), startModel(t, "fraud", "v1")
	hung.Server.SetDelay(time.Hour)
	const timeout = 400 * time.Millisecond
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud",
		"timeout: 400ms\nbreaker: {consecutive_failures: 2, open_for: 1m}", "v1:1:"+hung.URL+","+ok.URL))
	key, _ := testKey("acme")

	timeouts, oks := 0, 0
	for range 40 {
		start := time.Now()
		r := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key)
		elapsed := time.Since(start)
		switch r.code {
		case 200:
			oks++
		case 504:
			timeouts++
			if r.body != `{"error":"upstream model container timed out"}` {
				t.Errorf("504 body: got %s", r.body)
			}
			if elapsed < timeout-50*time.Millisecond || elapsed > timeout+1500*time.Millisecond {
				t.Errorf("504 after %v, want it at the %v deadline", elapsed, timeout)
			}
		default:
			t.Errorf("got %d %s, want 200 or 504", r.code, r.body)
		}
	}
	t.Logf("40 sequential requests: %d answers of 504, %d of 200", timeouts, oks)
	// Two timeouts open the breaker; then every request goes to ok.
	if timeouts > 2 {
		t.Errorf("got %d timeouts, want at most 2 (consecutive_failures) before the breaker opens", timeouts)
	}
	if timeouts < 2 {
		t.Fatalf("got %d timeouts in 40 requests, want the hung replica picked twice", timeouts)
	}
	if n := len(ok.Server.Requests()); n != oks {
		t.Errorf("healthy replica got %d requests for %d answers, want no timeout retried there (on_timeout is off)", n, oks)
	}
	m := h.scrape()
	if s := m["modelgate_breaker_state|endpoint="+hung.URL+"|model=fraud|tenant=acme|version=v1"]; s != 2 {
		t.Errorf("breaker of the hung replica: got state %v, want 2 (open)", s)
	}
	if s := m["modelgate_breaker_state|endpoint="+ok.URL+"|model=fraud|tenant=acme|version=v1"]; s != 0 {
		t.Errorf("breaker of the healthy replica: got state %v, want 0 (closed)", s)
	}
	if n, ok := m["modelgate_endpoint_in_flight|endpoint="+hung.URL+"|model=fraud|tenant=acme|version=v1"]; !ok || n != 0 {
		t.Errorf("modelgate_endpoint_in_flight of the hung replica: got %v (present %v), want 0 after the timeouts", n, ok)
	}
	noRequestStuck(t)
}

func TestTimeoutBudgetCoversRetries(t *testing.T) {
	a, b := startModel(t, "fraud", "v1"), startModel(t, "fraud", "v1")
	a.Server.SetDelay(time.Hour)
	b.Server.SetDelay(time.Hour)
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud",
		"timeout: 600ms\nretry: {attempts: 1, on_timeout: true}", "v1:1:"+a.URL+","+b.URL))
	key, _ := testKey("acme")
	start := time.Now()
	r := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key)
	elapsed := time.Since(start)
	if r.code != 504 {
		t.Fatalf("got %d %s, want 504", r.code, r.body)
	}
	// Two attempts share the 600ms budget: the answer comes at the deadline,
	// not after two full timeouts.
	if elapsed < 550*time.Millisecond || elapsed > 1100*time.Millisecond {
		t.Errorf("504 after %v, want it at the 600ms model deadline", elapsed)
	}
	if na, nb := len(a.Server.Requests()), len(b.Server.Requests()); na != 1 || nb != 1 {
		t.Errorf("got %d and %d requests on the two replicas, want 1 each (timeout retried once on the other)", na, nb)
	}
	if got := h.scrape()["modelgate_retries_total|model=fraud|tenant=acme|version=v1"]; got != 1 {
		t.Errorf("modelgate_retries_total: got %v, want 1", got)
	}
	noRequestStuck(t)
}

func TestFailing500sBreakerRecovers(t *testing.T) {
	bad, good := startModel(t, "fraud", "v1"), startModel(t, "fraud", "v1")
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud",
		"breaker: {consecutive_failures: 3, open_for: 300ms, server_errors: failure}", "v1:1:"+bad.URL+","+good.URL))
	key, _ := testKey("acme")
	state := func() float64 {
		return h.scrape()["modelgate_breaker_state|endpoint="+bad.URL+"|model=fraud|tenant=acme|version=v1"]
	}

	t.Run("4xx do not open the breaker", func(t *testing.T) {
		for range 20 {
			if r := h.do("POST", "/v2/models/fraud/infer", `{"inputs":[]}`, "X-API-Key", key); r.code != 400 {
				t.Fatalf("invalid request: got %d, want the model's 400", r.code)
			}
		}
		if s := state(); s != 0 {
			t.Errorf("after 20 answers of 400: breaker state %v, want 0 (closed)", s)
		}
	})

	bad.Server.SetFailStatus(500)
	fives := 0
	for i := 0; state() != 2; i++ {
		if i == 100 {
			t.Fatalf("breaker not open after 100 requests (%d answers of 500)", fives)
		}
		r := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key)
		switch r.code {
		case 500:
			fives++ // the model's own answer, passed through, not retried
		case 200:
		default:
			t.Fatalf("got %d %s, want 200 or the model's 500", r.code, r.body)
		}
	}
	if fives > 3 {
		t.Errorf("callers saw %d answers of 500, want at most 3 (consecutive_failures)", fives)
	}
	bad.Server.SetFailStatus(0)
	bad.Server.ResetRequests()
	// After open_for a request is let through as the half-open probe; its
	// success closes the breaker and the replica gets traffic again.
	await.Until(t, 10*time.Second, "the breaker closed again and the replica serving", func() bool {
		if r := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key); r.code != 200 {
			t.Fatalf("after recovery: got %d %s, want 200", r.code, r.body)
		}
		return state() == 0 && len(bad.Server.Requests()) >= 2
	})
}

func TestCanaryDownFallsBack(t *testing.T) {
	stable1, stable2 := startModel(t, "fraud", "v1"), startModel(t, "fraud", "v1")
	dead1, dead2, dead3 := deadURL(t), deadURL(t), deadURL(t)
	cfg := func(health string, fallbackPinned bool) string {
		extra := "fallback: v1\n" + health
		if fallbackPinned {
			extra += "\nfallback_pinned: true"
		}
		return "tenants:\n" + tenantYAML("acme", "fraud", extra, "v1:50:"+stable1.URL+","+stable2.URL, "v2:50:"+dead1+","+dead2) +
			tenantYAML("globex", "churn", fastHealth, "v1:1:"+dead3)
	}
	// Health checks off first: requests find the canary dead themselves
	// (refused, retried on the other canary endpoint, then fallback) until
	// its breakers open (then straight to the fallback).
	h := startGateway(t, cfg("health_check: {disabled: true}", false))
	key, _ := testKey("acme")

	load := h.startLoad(4, "POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key)
	load.waitFor(0, 300, 20*time.Second)
	load.stop()
	got := load.get(0)
	if got.errors() != 0 || got.versions["v1"] != got.total {
		t.Errorf("got %d errors (first: %s) and versions %v in %d requests, want every request served by v1", got.errors(), got.firstErr, got.versions, got.total)
	}
	m := h.scrape()
	fb := m["modelgate_fallbacks_total|from=v2|model=fraud|tenant=acme|to=v1"]
	t.Logf("%d requests, %d errors, versions %v, %v fallbacks, %v retries", got.total, got.errors(), got.versions, fb,
		m["modelgate_retries_total|model=fraud|tenant=acme|version=v2"])
	if fb < float64(got.total)/4 {
		t.Errorf("modelgate_fallbacks_total{from=v2,to=v1}: got %v for %d requests, want about half", fb, got.total)
	}
	if r := m["modelgate_retries_total|model=fraud|tenant=acme|version=v2"]; r < 1 {
		t.Errorf("modelgate_retries_total{version=v2}: got %v, want the refused canary requests retried on the other canary endpoint", r)
	}
	for _, u := range []string{dead1, dead2} {
		if s := m["modelgate_breaker_state|endpoint="+u+"|model=fraud|tenant=acme|version=v2"]; s != 2 {
			t.Errorf("breaker of dead canary endpoint %s: got state %v, want 2 (open)", u, s)
		}
	}
	if err := h.reload(cfg(fastHealth, false)); err != nil {
		t.Fatal(err)
	}

	t.Run("pinned requests do not fall back", func(t *testing.T) {
		r := h.do("POST", "/v2/models/fraud/versions/v2/infer", inferBody, "X-API-Key", key)
		if r.code != 502 && r.code != 503 || r.header.Get(HeaderVersion) != "v2" || !strings.HasPrefix(r.body, `{"error":`) {
			t.Errorf("got %d (version %q) %s, want a 502/503 JSON error from v2", r.code, r.header.Get(HeaderVersion), r.body)
		}
	})
	t.Run("readyz", func(t *testing.T) {
		var body readiness
		await.Until(t, 5*time.Second, "/readyz listing the model with no healthy endpoint", func() bool {
			r := h.doAdmin("GET", "/readyz", "")
			body = readiness{}
			_ = json.Unmarshal([]byte(r.body), &body)
			return r.code == 503 && len(body.Versions) == 2
		})
		if strings.Join(body.Models, ",") != "globex/churn" || strings.Join(body.Versions, ",") != "acme/fraud/v2,globex/churn/v1" {
			t.Errorf("got /readyz %+v, want globex/churn unavailable and acme/fraud/v2, globex/churn/v1 without a healthy endpoint", body)
		}
	})
	t.Run("fallback_pinned", func(t *testing.T) {
		if err := h.reload(cfg(fastHealth, true)); err != nil {
			t.Fatal(err)
		}
		r := h.do("POST", "/v2/models/fraud/versions/v2/infer", inferBody, "X-API-Key", key)
		if r.code != 200 || r.header.Get(HeaderVersion) != "v1" {
			t.Errorf("got %d (version %q), want 200 served by v1", r.code, r.header.Get(HeaderVersion))
		}
	})
}

func TestRetryResendsBodyByteIdentical(t *testing.T) {
	crashing, ok := startModel(t, "fraud", "v1"), startModel(t, "fraud", "v1")
	crashing.Server.SetResetConnections(true)
	// Budget 1: every request may retry, so the test does not depend on luck.
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud", "breaker: {disabled: true}\nretry: {budget: 1}", "v1:1:"+crashing.URL+","+ok.URL))
	key, _ := testKey("acme")
	// A large body with every byte value JSON allows in a string.
	var pad strings.Builder
	for pad.Len() < 256<<10 {
		for c := 0x20; c < 0x7f; c++ {
			if c != '"' && c != '\\' {
				pad.WriteByte(byte(c))
			}
		}
	}
	body := `{"pad":"` + pad.String() + `","inputs":[{"name":"input","shape":[1,4],"datatype":"FP64","data":[1.0,0.5,-0.3,2.0]}]}`
	for i := 0; i < 12 || len(crashing.Server.Requests()) == 0; i++ {
		if i == 100 {
			t.Fatalf("the crashing replica got no request in 100; want P2C to pick it about half the time")
		}
		if r := h.do("POST", "/v2/models/fraud/infer", body, "X-API-Key", key); r.code != 200 {
			t.Fatalf("got %d %s, want 200 (a reset before any answer is retried on the other replica)", r.code, r.body)
		}
	}
	crashed := crashing.Server.Requests()
	for _, recs := range [][]byte{crashed[0].Body, ok.Server.Requests()[len(ok.Server.Requests())-1].Body} {
		if string(recs) != body {
			t.Errorf("upstream got a body of %d bytes that differs from the %d sent", len(recs), len(body))
		}
	}
	for _, r := range ok.Server.Requests() {
		if string(r.Body) != body {
			t.Errorf("retried body differs: got %d bytes, want the %d sent", len(r.Body), len(body))
		}
	}
	if got := h.scrape()["modelgate_retries_total|model=fraud|tenant=acme|version=v1"]; got < 1 {
		t.Errorf("modelgate_retries_total: got %v, want at least 1", got)
	}
}

func TestReloadsUnderLoad(t *testing.T) {
	v1a, v1b, v2 := startModel(t, "fraud", "v1"), startModel(t, "fraud", "v1"), startModel(t, "fraud", "v2")
	cfg := func(w1, w2 int) string {
		return "tenants:\n" + tenantYAML("acme", "fraud", fastHealth+"\nfallback: v1",
			"v1:"+strconv.Itoa(w1)+":"+v1a.URL+","+v1b.URL, "v2:"+strconv.Itoa(w2)+":"+v2.URL)
	}
	h := startGateway(t, cfg(9, 1))
	key, _ := testKey("acme")
	ep := h.endpoint(v1a.URL)
	checker := ep.Checker()
	load := h.startLoad(4, "POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key)
	load.waitFor(0, 50, 10*time.Second)
	for i := range 50 {
		w1, w2 := 9, 1
		if i%2 == 0 {
			w1, w2 = 1, 9
		}
		if err := h.reload(cfg(w1, w2)); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		// Let some requests run on each config.
		n := load.get(0).total
		load.waitFor(0, n+5, 10*time.Second)
	}
	load.stop()
	got := load.get(0)
	t.Logf("50 reloads: %d requests, versions %v", got.total, got.versions)
	if got.errors() != 0 {
		t.Errorf("got %d errors in %d requests during 50 reloads (first: %s), want 0", got.errors(), got.total, got.firstErr)
	}
	if got.versions["v1"] == 0 || got.versions["v2"] == 0 {
		t.Errorf("got versions %v, want both served", got.versions)
	}
	if h.endpoint(v1a.URL) != ep || ep.Checker() != checker {
		t.Errorf("reloads that kept the endpoint replaced its state or its health checker")
	}
}

func TestEndpointStateSurvivesReload(t *testing.T) {
	bad, good, other := startModel(t, "fraud", "v1"), startModel(t, "fraud", "v1"), startModel(t, "fraud", "v1")
	bad.Server.SetFailStatus(500)
	cfg := func(weight int, breaker string, urls ...string) string {
		return "tenants:\n" + tenantYAML("acme", "fraud", "breaker: "+breaker+"\n"+fastHealth,
			"v1:"+strconv.Itoa(weight)+":"+strings.Join(urls, ","))
	}
	h := startGateway(t, cfg(1, "{consecutive_failures: 1, open_for: 1m, server_errors: failure}", bad.URL, good.URL))
	key, _ := testKey("acme")
	ep := h.endpoint(bad.URL)
	await.Until(t, 10*time.Second, "the failing replica's breaker open", func() bool {
		h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key)
		return ep.BreakerState() == 2
	})
	checker := ep.Checker()

	if err := h.reload(cfg(5, "{consecutive_failures: 1, open_for: 1m, server_errors: failure}", bad.URL, good.URL)); err != nil {
		t.Fatal(err)
	}
	if ep.BreakerState() != 2 || h.endpoint(bad.URL) != ep {
		t.Fatalf("a reload that kept the endpoint and its breaker settings closed the open breaker")
	}
	bad.Server.ResetRequests()
	for range 10 {
		if r := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key); r.code != 200 {
			t.Fatalf("with the breaker open: got %d, want 200 from the other replica", r.code)
		}
	}
	if n := len(bad.Server.Requests()); n != 0 {
		t.Errorf("replica with an open breaker got %d requests after the reload, want 0", n)
	}

	// Different breaker settings: documented to start a new, closed breaker.
	if err := h.reload(cfg(5, "{consecutive_failures: 2, open_for: 1m, server_errors: failure}", bad.URL, good.URL)); err != nil {
		t.Fatal(err)
	}
	if ep.BreakerState() != 0 {
		t.Errorf("after new breaker settings: state %d, want 0 (a new breaker)", ep.BreakerState())
	}

	// Removing the endpoint stops its health checker and drops its series.
	if err := h.reload(cfg(5, "{consecutive_failures: 2, open_for: 1m, server_errors: failure}", good.URL, other.URL)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-checker.Done():
	case <-time.After(5 * time.Second):
		t.Fatalf("health checker of a removed endpoint still running 5s after the reload")
	}
	if n := goroutinesIn("upstream.(*Checker).run"); n != 2 {
		t.Errorf("got %d health checker goroutines for 2 endpoints, want 2", n)
	}
	probes := bad.Server.HealthProbes()
	for series := range h.scrape() {
		if strings.Contains(series, bad.URL) {
			t.Errorf("series of a removed endpoint still exported: %s", series)
		}
	}
	// No more probes reach the removed endpoint (other probes keep coming).
	n := other.Server.HealthProbes()
	await.Until(t, 5*time.Second, "more probes on a kept endpoint", func() bool { return other.Server.HealthProbes() >= n+3 })
	if got := bad.Server.HealthProbes(); got != probes {
		t.Errorf("removed endpoint got %d more health probes after its checker stopped", got-probes)
	}
}
