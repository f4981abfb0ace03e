package gateway

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelgate/modelgate/admin"
	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/observability"
	"github.com/valyala/fasthttp"
)

// manyTenantsYAML renders a config of n tenants ("t0" …) with models models
// each ("m0" …): tenant limits, two versions per model (v1 90 %, v2 10 %,
// fallback v1, health checks off) and one endpoint per version. Tenant t0's
// model m0 points at backend; every other endpoint is a distinct loopback
// port that is never called.
func manyTenantsYAML(n, models int, backend string) string {
	var b strings.Builder
	b.WriteString("server:\n  listen: 127.0.0.1:0\n  admin_listen: 127.0.0.1:0\ntenants:\n")
	port := 20000
	for t := range n {
		_, hash := testKey(fmt.Sprintf("t%d", t))
		fmt.Fprintf(&b, "  - name: t%d\n    api_keys: [{sha256: %q}]\n", t, hash)
		b.WriteString("    limits: {requests_per_second: 1000000, burst: 1000000, max_in_flight: 1000}\n    models:\n")
		for m := range models {
			u1, u2 := fmt.Sprintf("http://127.0.0.1:%d", port), fmt.Sprintf("http://127.0.0.1:%d", port+1)
			port += 2
			if t == 0 && m == 0 {
				u1, u2 = backend, backend
			}
			fmt.Fprintf(&b, "      - name: m%d\n        fallback: v1\n        health_check: {disabled: true}\n        versions:\n", m)
			fmt.Fprintf(&b, "          - {name: v1, weight: 90, endpoints: [%q]}\n", u1)
			fmt.Fprintf(&b, "          - {name: v2, weight: 10, endpoints: [%q]}\n", u2)
		}
	}
	return b.String()
}

func parseConfig(tb testing.TB, text string) *configs.Config {
	tb.Helper()
	cfg, err := configs.Parse([]byte(text))
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// newQuietGateway builds a gateway for cfg without listening; its endpoints
// are closed at cleanup.
func newQuietGateway(tb testing.TB, cfg *configs.Config) *Gateway {
	tb.Helper()
	g := New(cfg, observability.NewMetrics(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	tb.Cleanup(func() { g.st.upstreams.Close() })
	return g
}

// scrapeResult is one GET /metrics through the admin handler.
type scrapeResult struct {
	body    []byte
	series  int           // sample lines
	took    time.Duration // handler time
	alloced uint64        // bytes allocated by the process meanwhile
}

// scrapeAdmin scrapes g's /metrics through its admin handler (the real
// exposition, text format, uncompressed).
func scrapeAdmin(tb testing.TB, g *Gateway) scrapeResult {
	tb.Helper()
	h := admin.Handler(g, NewReloader("", g), g.metrics.Registry)
	rec := httptest.NewRecorder()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	if rec.Code != 200 {
		tb.Fatalf("/metrics: got %d", rec.Code)
	}
	r := scrapeResult{body: rec.Body.Bytes(), took: took, alloced: after.TotalAlloc - before.TotalAlloc}
	for line := range bytes.Lines(r.body) {
		if len(line) > 1 && line[0] != '#' {
			r.series++
		}
	}
	return r
}

// rssBytes returns the process's resident set size (Linux), or 0.
func rssBytes() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func heapAfterGC() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkApplyManyTenants measures a 2,000-tenant × 5-model config (two
// versions per model, one endpoint each, tenant limits, a fallback): ns/op
// is one reload (Apply of the full config); the reported metrics are the
// exported series after the first build, the size, time and allocation of
// one /metrics scrape, and the heap and RSS after the build. Run with
// -benchtime=10x: each reload rebuilds 10,000 model routes.
func BenchmarkApplyManyTenants(b *testing.B) {
	cfg := parseConfig(b, manyTenantsYAML(2000, 5, "http://127.0.0.1:1"))
	heap0 := heapAfterGC()
	g := newQuietGateway(b, cfg)
	heap := heapAfterGC() - heap0
	s := scrapeAdmin(b, g)
	s = scrapeAdmin(b, g) // the second: steady state
	rss := rssBytes()
	b.ReportAllocs()
	for b.Loop() {
		g.Apply(cfg)
	}
	// Reported after the loop: b.Loop resets the timer and the metrics.
	b.ReportMetric(float64(s.series), "series")
	b.ReportMetric(float64(len(s.body))/1e6, "scrape-MB")
	b.ReportMetric(float64(s.took.Milliseconds()), "scrape-ms")
	b.ReportMetric(float64(s.alloced)/1e6, "scrape-alloc-MB")
	b.ReportMetric(float64(heap)/1e6, "heap-MB")
	b.ReportMetric(float64(rss)/1e6, "rss-MB")
}

// BenchmarkHandlerDuringReload runs proxied requests of tenant t0 through
// the handler of a gateway with the 2,000 × 5 config, with ("reloading")
// and without ("steady") a goroutine applying the full config back to back,
// and reports the p50, p99, p99.9 and maximum request latency.
func BenchmarkHandlerDuringReload(b *testing.B) {
	backend := startFastBackend(b)
	cfg := parseConfig(b, manyTenantsYAML(2000, 5, backend))
	for _, reloading := range []bool{false, true} {
		name := "steady"
		if reloading {
			name = "reloading"
		}
		b.Run(name, func(b *testing.B) {
			g := newQuietGateway(b, cfg)
			handler := g.app.Handler()
			key, _ := testKey("t0")
			var req fasthttp.Request
			req.Header.SetMethod("POST")
			req.SetRequestURI("/v2/models/m0/infer")
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			req.SetBodyString(inferBody)
			var ctx fasthttp.RequestCtx
			ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5555}, nil)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			reloads := 0
			if reloading {
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						g.Apply(cfg)
						reloads++
					}
				})
			}
			lat := make([]time.Duration, 0, 1<<16)
			for b.Loop() {
				t0 := time.Now()
				req.CopyTo(&ctx.Request)
				ctx.Response.Reset()
				handler(&ctx)
				lat = append(lat, time.Since(t0))
				if ctx.Response.StatusCode() != 200 {
					b.Fatalf("got %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
				}
			}
			b.StopTimer()
			close(stop)
			wg.Wait()
			slices.Sort(lat)
			q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
			b.ReportMetric(q(0.5), "p50-ms")
			b.ReportMetric(q(0.99), "p99-ms")
			b.ReportMetric(q(0.999), "p99.9-ms")
			b.ReportMetric(q(1), "max-ms")
			b.ReportMetric(float64(reloads), "reloads")
		})
	}
}
