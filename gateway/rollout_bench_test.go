package gateway

import (
	"context"
	"sync"
	"testing"
	"time"
)

// The rollout controller (package rollout) is off the request path: it
// reads each version's counters about once per evaluation interval
// (Metrics.VersionCounts) and applies each step as a new snapshot. These
// measure the request path in the routing a rollout sets — a weight step
// (canary 25%) and a shadow step (every request copied to the canary) —
// with the controller's reads running alongside.

// rolloutSteps are the extra model settings of each step's routing
// (health checks off: a probe's allocations would land in the count).
var rolloutSteps = []struct{ name, extra, split string }{
	{"weight_step", "rollout: {canary: v2, steps: [{weight: 25}, {weight: 100}]}\nhealth_check: {disabled: true}", "v1:75"},
	{"shadow_step", "rollout: {canary: v2, steps: [{shadow: {}}, {weight: 100}]}\nshadow: {version: v2, percent: 100, max_queue: 256}\nhealth_check: {disabled: true}", "v1:100"},
}

// readCounts calls VersionCounts for both versions in a loop until stop,
// every 10 ms: 100 times as often as the controller at its default
// interval.
func readCounts(g *Gateway, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		select {
		case <-stop:
			return
		default:
		}
		g.metrics.VersionCounts("acme", "fraud", "v1")
		g.metrics.VersionCounts("acme", "fraud", "v2")
		time.Sleep(10 * time.Millisecond)
	}
}

func rolloutGateway(b testing.TB, extra, split, backend string) *Gateway {
	text := "server:\n  listen: 127.0.0.1:0\n  admin_listen: 127.0.0.1:0\ntenants:\n" +
		tenantYAML("acme", "fraud", extra, split+":"+backend, "v2:25:"+backend)
	if split == "v1:100" {
		text = "server:\n  listen: 127.0.0.1:0\n  admin_listen: 127.0.0.1:0\ntenants:\n" +
			tenantYAML("acme", "fraud", extra, "v1:100:"+backend, "v2:0:"+backend)
	}
	g := newQuietGateway(b, parseConfig(b, text))
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = g.st.shadows.Shutdown(ctx)
	})
	return g
}

// BenchmarkHandlerRollout is BenchmarkHandler in a rollout's routing.
func BenchmarkHandlerRollout(b *testing.B) {
	for _, step := range rolloutSteps {
		b.Run(step.name, func(b *testing.B) {
			g := rolloutGateway(b, step.extra, step.split, startFastBackend(b))
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go readCounts(g, stop, &wg)
			defer func() { close(stop); wg.Wait() }()
			runHandler(b, g)
		})
	}
}

// TestRolloutAllocs: a proxied request allocates nothing in a weight
// step's routing, with the controller's counter reads between the runs.
// The shadow step is measured by BenchmarkHandlerRollout/shadow_step (0
// allocs/op) rather than here: its copies' calls run on the shadow
// workers' goroutines while the requests are measured, and their
// occasional allocations (a native histogram bucket populated for the
// first time, a new upstream connection) land in AllocsPerRun's
// process-wide count.
func TestRolloutAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	step := rolloutSteps[0]
	g := rolloutGateway(t, step.extra, step.split, startFastBackend(t))
	serve := inProcess(t, g, "acme", "/v2/models/fraud/infer")
	for range 200 {
		serve()
	}
	// AllocsPerRun counts every goroutine's allocations, so the
	// controller's reads go between the measured runs, not beside.
	for round := range 5 {
		g.metrics.VersionCounts("acme", "fraud", "v1")
		g.metrics.VersionCounts("acme", "fraud", "v2")
		if n := testing.AllocsPerRun(100, serve); n != 0 {
			t.Errorf("%s, round %d: got %v allocations per proxied request, want 0", step.name, round, n)
		}
	}
}
