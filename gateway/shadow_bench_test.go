package gateway

import (
	"context"
	"testing"
	"time"
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
		_ = g.st.shadows.Shutdown(ctx)
	})
	runHandler(b, g)
}
