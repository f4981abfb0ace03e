package gateway

import (
	"io"
	"log/slog"
	"net"
	"testing"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/observability"
	"github.com/valyala/fasthttp"
)

// benchResponse is what the stand-in backend answers: a small OIP v2 reply.
var benchResponse = []byte(`{"model_name":"fraud","model_version":"v1","outputs":[{"name":"probability","datatype":"FP64","shape":[1,1],"data":[0.67]}]}`)

// startFastBackend serves benchResponse on loopback with fasthttp, so the
// benchmark measures the gateway, not the example model server.
func startFastBackend(b testing.TB) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetContentType("application/json")
		ctx.SetBody(benchResponse)
	}}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Shutdown() })
	return "http://" + ln.Addr().String()
}

func benchGateway(b *testing.B, extra string, backends ...string) *Gateway {
	b.Helper()
	text := "server:\n  listen: 127.0.0.1:0\n  admin_listen: 127.0.0.1:0\ntenants:\n" +
		tenantYAML("acme", "fraud", extra, "v1:90:"+backends[0], "v2:10:"+backends[len(backends)-1])
	cfg, err := configs.Parse([]byte(text))
	if err != nil {
		b.Fatal(err)
	}
	g := New(cfg, observability.NewMetrics(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	b.Cleanup(func() { g.st.upstreams.Close() })
	return g
}

// BenchmarkHandler runs one proxied request through the full handler (path
// parse, auth, routing, header rewrite, upstream call over loopback,
// metrics) per iteration. Compare with BenchmarkDirect, the same upstream
// call without the gateway.
func BenchmarkHandler(b *testing.B) {
	for _, bc := range []struct {
		name, extra string
		path        string // default /v2/models/fraud/infer
		cv          string // "@" and the versions' container_version, or ""
	}{
		{name: "weighted"},
		{name: "sticky", extra: "sticky_header: X-User-ID"},
		{name: "limited", extra: "limits: {requests_per_second: 1000000000, burst: 1000000000, max_in_flight: 64, max_queue: 8, max_queue_wait: 1s}"},
		{name: "pinned", path: "/v2/models/fraud/versions/v2/infer"},
		{name: "container_version", cv: "@1"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			g := benchGateway(b, bc.extra, startFastBackend(b)+bc.cv)
			path := bc.path
			if path == "" {
				path = "/v2/models/fraud/infer"
			}
			runHandlerPath(b, g, path, "X-User-ID", "user-42")
		})
	}
}

// runHandler drives one POST /v2/models/fraud/infer of tenant acme (plus
// the given header name/value pairs) through g's whole fiber handler per
// iteration, failing on any status but 200. The fasthttp context is set up
// once (Init allocates a fake connection), so allocs/op is the handler's.
func runHandler(b *testing.B, g *Gateway, headers ...string) {
	b.Helper()
	runHandlerPath(b, g, "/v2/models/fraud/infer", headers...)
}

// runHandlerPath is runHandler for a POST to path.
func runHandlerPath(b *testing.B, g *Gateway, path string, headers ...string) {
	b.Helper()
	handler := g.app.Handler()
	key, _ := testKey("acme")
	var req fasthttp.Request
	req.Header.SetMethod("POST")
	req.SetRequestURI(path)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
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

// inProcess returns a function that sends one POST of inferBody to path
// as tenant through g's whole fiber handler, failing tb on any status but
// 200. The fasthttp context is set up once (Init allocates a fake
// connection), so testing.AllocsPerRun of the function counts the
// handler's allocations only.
func inProcess(tb testing.TB, g *Gateway, tenant, path string) func() {
	handler := g.app.Handler()
	key, _ := testKey(tenant)
	var req fasthttp.Request
	req.Header.SetMethod("POST")
	req.SetRequestURI(path)
	req.Header.Set("Authorization", "Bearer "+key)
	req.SetBodyString(inferBody)
	ctx := new(fasthttp.RequestCtx)
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5555}, nil)
	return func() {
		req.CopyTo(&ctx.Request)
		ctx.Response.Reset()
		handler(ctx)
		if ctx.Response.StatusCode() != 200 {
			tb.Fatalf("%s: got %d: %s", path, ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
}

// BenchmarkDirect is the baseline: the same request straight to the backend.
func BenchmarkDirect(b *testing.B) {
	url := startFastBackend(b)
	client := &fasthttp.HostClient{Addr: url[len("http://"):]}
	var req fasthttp.Request
	var resp fasthttp.Response
	req.Header.SetMethod("POST")
	req.SetRequestURI(url + "/v2/models/fraud/infer")
	req.SetBodyString(inferBody)
	b.ReportAllocs()
	for b.Loop() {
		if err := client.Do(&req, &resp); err != nil || resp.StatusCode() != 200 {
			b.Fatalf("direct: %v %d", err, resp.StatusCode())
		}
	}
}
