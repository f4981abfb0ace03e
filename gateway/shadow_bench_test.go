package gateway

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// BenchmarkHandlerShadow is BenchmarkHandler with every v1 request shadowed
// to v2 (same stand-in backend): it measures what capture and dispatch add
// to the request path (copies into pooled jobs; the shadow calls run on the
// pool's workers, dropped when the queue is full).
func BenchmarkHandlerShadow(b *testing.B) {
	g := benchGateway(b, "shadow: {version: v2, percent: 100, max_queue: 256}", startFastBackend(b))
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = g.shadows.shutdown(ctx)
	})
	handler := g.app.Handler()
	key, _ := testKey("acme")
	var req fasthttp.Request
	req.Header.SetMethod("POST")
	req.SetRequestURI("/v2/models/fraud/infer")
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.SetBodyString(inferBody)
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5555}, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req.CopyTo(&ctx.Request)
		ctx.Response.Reset()
		handler(&ctx)
		if ctx.Response.StatusCode() != 200 {
			b.Fatalf("got %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
}
