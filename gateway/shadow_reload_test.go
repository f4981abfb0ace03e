package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/gateway/shadow"
	"github.com/modelgate/modelgate/internal/modelserver"
	"go.uber.org/goleak"
)

// verifyNoShadowLeaks checks at the end of the test that no goroutine it started
// is left. Call it first, so its cleanup runs last: after the gateway, the
// reload loop and the model servers have stopped. Goroutines that exist now
// (other tests' leftovers) are not the test's.
func verifyNoShadowLeaks(t *testing.T) {
	existing := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		goleak.VerifyNone(t, existing,
			// fasthttp's own background goroutines: process-wide singletons
			// (server date, dialer address cache) and per-client/per-server
			// cleaners that sleep up to their idle timeout before noticing
			// they have nothing left to clean.
			goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
			goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"),
			goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
			goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"))
	})
}

func TestShadowReload(t *testing.T) {
	verifyNoShadowLeaks(t)
	primary := startModelOpts(t, modelserver.Options{Model: fraudModel("v1", v1Weights)})
	shadowSrv := startModelOpts(t, modelserver.Options{Model: fraudModel("v2", v1Weights), Delay: 300 * time.Millisecond})
	withShadow := func(opts string) string {
		return "tenants:\n" + tenantYAML("acme", "fraud", "shadow: {version: v2, "+opts+"}", "v1:1:"+primary.URL, "v2:0:"+shadowSrv.URL)
	}
	h := startGateway(t, withShadow("max_in_flight: 1, max_queue: 10"))
	key, _ := testKey("acme")
	route := func() *shadow.Route { return h.gw.snap.Load().tenants[0].models["fraud"].shadow }
	send := func(n int) {
		t.Helper()
		for range n {
			if r := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key); r.code != 200 {
				t.Fatalf("got %d, want 200", r.code)
			}
		}
	}

	t.Run("unchanged shadow keeps its pool", func(t *testing.T) {
		before := route()
		send(1)
		eventuallyf(t, 5*time.Second, func() bool { return before.View().Requests == 1 }, "first copy not compared")
		// A change elsewhere in the model (the timeout) is a new config hash
		// but the same shadow pool.
		if err := h.reload(strings.Replace(withShadow("max_in_flight: 1, max_queue: 10"), "models:\n      - name: fraud\n", "models:\n      - name: fraud\n        timeout: 5s\n", 1)); err != nil {
			t.Fatal(err)
		}
		after := route()
		// The same stats (the count goes on), and the old route's pool still
		// takes copies: a replaced pool would have been stopped.
		if after == before || after.View().Requests != 1 || before.View().Queue.Stopped || after.View().Queue.Stopped {
			t.Errorf("got a new pool or stats after a reload that kept the shadow config: before %+v, after %+v", before.View(), after.View())
		}
	})

	t.Run("removed shadow: queued copies dropped, new requests not shadowed", func(t *testing.T) {
		old := route()
		send(6) // 1 in flight (300 ms), 5 queued
		eventuallyf(t, 5*time.Second, func() bool { return len(shadowSrv.Server.Requests()) >= 1 }, "first copy not received")
		if err := h.reload("tenants:\n" + tenantYAML("acme", "fraud", "", "v1:1:"+primary.URL, "v2:0:"+shadowSrv.URL)); err != nil {
			t.Fatal(err)
		}
		if route() != nil {
			t.Fatalf("shadow still routed after removal")
		}
		base := old.View().Requests // the first subtest's copy
		var v shadow.StatsView
		eventuallyf(t, 5*time.Second, func() bool {
			v = old.View()
			return v.Outcomes["match"]+v.Dropped["stopped"]-base == 6
		}, "old shadow: %d matched, %d dropped as stopped; want 6 in all", v.Outcomes["match"]-base, v.Dropped["stopped"])
		if d := v.Dropped["stopped"]; d < 4 {
			t.Errorf("got %d queued copies dropped on removal, want at least 4 of the 5 queued", d)
		}
		received := len(shadowSrv.Server.Requests())
		send(5)
		if got := len(shadowSrv.Server.Requests()); got != received {
			t.Errorf("shadow got %d new calls after its removal, want 0", got-received)
		}
		if r := h.doAdmin("GET", "/admin/shadow", "", "Authorization", "Bearer "+adminToken); !strings.Contains(r.body, `"shadows": []`) {
			t.Errorf("admin view after removal: got %s, want no shadows", r.body)
		}
		if m := h.scrape(); shadowMetric(m, "modelgate_shadow_requests_total", "acme", "fraud", "v2", "outcome=match") != 0 {
			t.Errorf("series of the removed shadow still exported")
		}
	})

	t.Run("changed shadow gets a new pool, the old one stops", func(t *testing.T) {
		if err := h.reload(withShadow("max_in_flight: 2, max_queue: 10")); err != nil {
			t.Fatal(err)
		}
		first := route()
		send(2)
		if err := h.reload(withShadow("max_in_flight: 3, max_queue: 10")); err != nil {
			t.Fatal(err)
		}
		second := route()
		if second.View().Queue.Stopped || second.View().Queue.Workers != 3 {
			t.Fatalf("changed max_in_flight: got queue %+v, want a running pool of 3 workers", second.View().Queue)
		}
		if !first.View().Queue.Stopped {
			t.Errorf("old pool not stopped")
		}
		before := second.View().Outcomes["match"]
		send(3)
		eventuallyf(t, 5*time.Second, func() bool { return second.View().Outcomes["match"] >= before+3 },
			"new pool matched %d, want 3", second.View().Outcomes["match"]-before)
	})
}
