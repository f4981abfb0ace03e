package grpcproxy

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/await"
	"github.com/modelgate/modelgate/internal/modelserver"
	"github.com/modelgate/modelgate/observability"
	"go.uber.org/goleak"
)

// fastChecks is a model's health_check polling every 20ms, down after 2
// failures, up after 3 successes.
const fastChecks = "        health_check: {interval: 20ms, timeout: 1s, unhealthy_after: 2, healthy_after: 3}"

// gauge returns the value of gauge name with the labels labelSet (as
// counter), and whether it is exported.
func (h *harness) gauge(t *testing.T, name, labelSet string) (float64, bool) {
	t.Helper()
	mfs, err := h.metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if labels(m) == labelSet {
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

// endpointLabels is the label set of fraud v1's gauges for addr.
func endpointLabels(addr string) string {
	return fmt.Sprintf("endpoint=%s%s,model=fraud,tenant=acme,version=v1", EndpointScheme, addr)
}

// up reports modelgate_endpoint_up of fraud v1's addr (false when absent).
func (h *harness) up(t *testing.T, addr string) bool {
	v, ok := h.gauge(t, "modelgate_endpoint_up", endpointLabels(addr))
	return ok && v == 1
}

// TestHealthTakesOutNotReady checks that a container whose ModelReady
// answers false is taken out after unhealthy_after checks, its calls going
// to the other address, and back after healthy_after checks; the gauges
// show it.
func TestHealthTakesOutNotReady(t *testing.T) {
	a := container(t, "fraud", "v1", modelserver.Options{})
	b := container(t, "fraud", "v1", modelserver.Options{})
	h := start(t, config(t, "", oneVersion(fastChecks, a.GRPCAddr, b.GRPCAddr)))
	ctx := withKey(t.Context(), acmeKey)
	await.Until(t, 5*time.Second, "both containers to be probed", func() bool {
		return a.Server.HealthProbes() > 0 && b.Server.HealthProbes() > 0
	})
	if !h.up(t, a.GRPCAddr) || !h.up(t, b.GRPCAddr) {
		t.Fatal("modelgate_endpoint_up is not 1 for both ready addresses")
	}
	// Idle version: only modelgate_endpoint_up is exported.
	if _, ok := h.gauge(t, "modelgate_breaker_state", endpointLabels(a.GRPCAddr)); ok {
		t.Error("modelgate_breaker_state exported before the version served a call")
	}

	before := a.Server.HealthProbes()
	a.Server.SetReady(false)
	await.Until(t, 5*time.Second, "a to be marked down", func() bool { return !h.up(t, a.GRPCAddr) })
	if n := a.Server.HealthProbes() - before; n < 2 {
		t.Errorf("a went down after %d probes, want at least unhealthy_after (2)", n)
	}
	if !h.up(t, b.GRPCAddr) {
		t.Error("b is down, want up")
	}
	a.Server.ResetRequests()
	b.Server.ResetRequests()
	const n = 30
	for range n {
		if _, _, err := h.infer(ctx, inferRequest("fraud")); err != nil {
			t.Fatalf("with a down: %v, want answered by b", err)
		}
	}
	if got := len(a.Server.Requests()); got != 0 {
		t.Errorf("a (not ready) got %d calls, want 0", got)
	}
	if got := len(b.Server.Requests()); got != n {
		t.Errorf("b got %d calls, want %d", got, n)
	}
	if got := h.counter(t, "modelgate_retries_total", "model=fraud,tenant=acme,version=v1"); got != 0 {
		t.Errorf("got %v retries, want 0 (a down address is not tried)", got)
	}
	for _, name := range []string{"modelgate_breaker_state", "modelgate_endpoint_in_flight"} {
		if v, ok := h.gauge(t, name, endpointLabels(a.GRPCAddr)); !ok || v != 0 {
			t.Errorf("%s of a: got %v (exported %v), want 0", name, v, ok)
		}
	}

	before = a.Server.HealthProbes()
	a.Server.SetReady(true)
	await.Until(t, 5*time.Second, "a to be up again", func() bool { return h.up(t, a.GRPCAddr) })
	if n := a.Server.HealthProbes() - before; n < 3 {
		t.Errorf("a came back after %d probes, want at least healthy_after (3)", n)
	}
	for range n {
		if _, _, err := h.infer(ctx, inferRequest("fraud")); err != nil {
			t.Fatal(err)
		}
	}
	// P2C between two idle addresses: a gets none of 30 calls with
	// probability 2^-30.
	if len(a.Server.Requests()) == 0 {
		t.Error("a got no calls after it recovered")
	}
}

// TestHealthAllDown checks that a version whose every address is down
// answers UNAVAILABLE without calling them, and falls back.
func TestHealthAllDown(t *testing.T) {
	a := container(t, "fraud", "v1", modelserver.Options{})
	fb := container(t, "fraud", "v2", modelserver.Options{})
	a.Server.SetReady(false)
	models := fmt.Sprintf(`      - name: fraud
%s
        versions:
          - {name: v1, weight: 1, endpoints: ["http://127.0.0.1:1"], grpc_endpoints: [%q]}
          - {name: v2, weight: 0, endpoints: ["http://127.0.0.1:1"], grpc_endpoints: [%q]}`, fastChecks, a.GRPCAddr, fb.GRPCAddr)
	h := start(t, config(t, "", models))
	await.Until(t, 5*time.Second, "a to be marked down", func() bool { return !h.up(t, a.GRPCAddr) })
	ctx := withKey(t.Context(), acmeKey)
	if _, _, err := h.infer(ctx, inferRequest("fraud")); err == nil || len(a.Server.Requests()) != 0 {
		t.Errorf("no fallback: got %v with %d calls to a, want UNAVAILABLE and none", err, len(a.Server.Requests()))
	}

	withFallback := fmt.Sprintf(`      - name: fraud
        fallback: v2
%s
        versions:
          - {name: v1, weight: 1, endpoints: ["http://127.0.0.1:1"], grpc_endpoints: [%q]}
          - {name: v2, weight: 0, endpoints: ["http://127.0.0.1:1"], grpc_endpoints: [%q]}`, fastChecks, a.GRPCAddr, fb.GRPCAddr)
	if err := h.proxy.Apply(config(t, "", withFallback)); err != nil {
		t.Fatal(err)
	}
	// Same health settings: the checker and its verdict are kept.
	if h.up(t, a.GRPCAddr) {
		t.Fatal("a is up after a reload with unchanged health settings, want its verdict kept")
	}
	_, served, err := h.infer(ctx, inferRequest("fraud"))
	if err != nil || served != "v2" {
		t.Errorf("got version %q, %v; want the fallback v2", served, err)
	}
}

// TestHealthProbeRule checks which readiness call an address gets: a
// model-level health_check.path asks ModelReady with the version's
// container_version (a container without that version is not ready), a
// server-level one asks ServerReady (the version does not matter).
func TestHealthProbeRule(t *testing.T) {
	a := container(t, "fraud", "1", modelserver.Options{})
	models := func(path, containerVersion string) string {
		return fmt.Sprintf(`      - name: fraud
        health_check: {path: %q, interval: 20ms, unhealthy_after: 1, healthy_after: 1}
        versions:
          - {name: v1, weight: 1, container_version: %q, endpoints: ["http://127.0.0.1:1"], grpc_endpoints: [%q]}`, path, containerVersion, a.GRPCAddr)
	}
	tests := []struct {
		desc, path, containerVersion string
		wantUp                       bool
	}{
		{desc: "ModelReady, the served version", path: "/v2/models/{model}/ready", containerVersion: "1", wantUp: true},
		{desc: "ModelReady, a version the container lacks", path: "/v2/models/{model}/ready", containerVersion: "7"},
		{desc: "ModelReady, versioned path", path: "/v2/models/{model}/versions/{version}/ready", containerVersion: "7"},
		{desc: "ServerReady ignores the version", path: "/v2/health/ready", containerVersion: "7", wantUp: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			h := start(t, config(t, "", models(tc.path, tc.containerVersion)))
			before := a.Server.HealthProbes()
			// unhealthy_after and healthy_after 1: after two probes the
			// verdict is the probe's.
			await.Until(t, 5*time.Second, "two probes", func() bool { return a.Server.HealthProbes()-before >= 2 })
			await.Until(t, 5*time.Second, "the verdict", func() bool { return h.up(t, a.GRPCAddr) == tc.wantUp })
		})
	}
}

// TestHealthCheckersStop checks the checkers' lifetime: kept across a
// reload with the same settings, replaced when they change, stopped when
// the address leaves the config and at Shutdown and Close, with no
// goroutine left behind.
func TestHealthCheckersStop(t *testing.T) {
	a := container(t, "fraud", "v1", modelserver.Options{})
	b := container(t, "fraud", "v1", modelserver.Options{})
	ignore := goleak.IgnoreCurrent()

	cfg := config(t, "", oneVersion(fastChecks, a.GRPCAddr, b.GRPCAddr))
	p, err := New(cfg, observability.NewMetrics(), discard(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := p.Listen()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Serve(ln) }()
	checkerOf := func(addr string) *checker {
		p.applyMu.Lock()
		defer p.applyMu.Unlock()
		e := p.eps.byAddr[addr]
		if e == nil {
			return nil
		}
		e.health.mu.Lock()
		defer e.health.mu.Unlock()
		return e.health.checker
	}
	ca, cb := checkerOf(a.GRPCAddr), checkerOf(b.GRPCAddr)
	if ca == nil || cb == nil {
		t.Fatal("no checker started for an address")
	}
	if err := p.Apply(config(t, "", oneVersion(fastChecks+"\n        sticky_header: x-user", a.GRPCAddr, b.GRPCAddr))); err != nil {
		t.Fatal(err)
	}
	if checkerOf(a.GRPCAddr) != ca || checkerOf(b.GRPCAddr) != cb {
		t.Error("a reload with the same health settings replaced a checker")
	}

	// b leaves the config; a's interval changes.
	slower := "        health_check: {interval: 30ms, timeout: 1s, unhealthy_after: 2, healthy_after: 3}"
	if err := p.Apply(config(t, "", oneVersion(slower, a.GRPCAddr))); err != nil {
		t.Fatal(err)
	}
	await.Until(t, 5*time.Second, "b's checker to return", cb.exited)
	await.Until(t, 5*time.Second, "a's old checker to return", ca.exited)
	na := checkerOf(a.GRPCAddr)
	if na == nil || na == ca || na.plan.cfg.Interval != 30*time.Millisecond {
		t.Fatalf("a's checker after the interval changed: %+v, want a new one at 30ms", na)
	}
	// A check b's checker sent just before it was canceled may reach b
	// after the checker returned: count b's probes once a has been probed
	// twice more (30ms apart), then again after two more.
	aProbes := func(n int64) {
		before := a.Server.HealthProbes()
		await.Until(t, 5*time.Second, "a to be probed by its new checker", func() bool { return a.Server.HealthProbes() >= before+n })
	}
	aProbes(2)
	probes := b.Server.HealthProbes()
	aProbes(2)
	if got := b.Server.HealthProbes(); got != probes {
		t.Errorf("b was probed %d times after its checker returned", got-probes)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !na.exited() {
		t.Error("a's checker still runs after Shutdown returned")
	}

	// A proxy closed without serving stops its checkers too.
	q, err := New(cfg, observability.NewMetrics(), discard(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	q.Close()
	goleak.VerifyNone(t, ignore)
}
