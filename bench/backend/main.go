// Command backend is the stand-in model container of bench/run.sh: a
// fasthttp server that answers every inference call with the same small Open
// Inference Protocol body, so a benchmark measures the proxy in front of it,
// not a model.
//
//	backend -listen 127.0.0.1:18001,127.0.0.1:18002
//
// One process may listen on several addresses (comma-separated), so the
// weighted split, the shadow version and the OTLP sink of the benchmark all
// run in one pinned process. It answers:
//
//	POST /v2/models/{m}/infer, /v2/models/{m}/versions/{v}/infer  200, fixed OIP v2 body
//	POST /v1/models/{m}:predict, /v1/models/{m}/versions/{v}:predict  200, fixed V1 body
//	GET  /v2/health/ready, /v2/health/live, /v2/models/{m}/ready  200 (every model is ready:
//	     the gateway's default health check asks for the model's readiness)
//	POST /v1/traces  200, empty OTLP response (an OTLP/HTTP trace sink)
//
//	GET  /bench/counts  counts of this process, one line per listener:
//	     "ADDR infer=N traces=N" (run.sh checks split, shadow and trace export with it)
//
// Anything else is 404. Request bodies are read (fasthttp does that before
// the handler) and discarded.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/valyala/fasthttp"
)

var (
	oipBody   = []byte(`{"model_name":"fraud","model_version":"v1","id":"bench","outputs":[{"name":"probability","datatype":"FP64","shape":[1,1],"data":[0.67]}]}`)
	v1Body    = []byte(`{"predictions":[[0.67]]}`)
	readyBody = []byte(`{"ready":true}`)

	prefixV2     = []byte("/v2/models/")
	prefixV1     = []byte("/v1/models/")
	suffixInfer  = []byte("/infer")
	suffixPred   = []byte(":predict")
	suffixReady  = []byte("/ready")
	pathReady    = []byte("/v2/health/ready")
	pathLive     = []byte("/v2/health/live")
	pathTraces   = []byte("/v1/traces")
	pathCounts   = []byte("/bench/counts")
	ctJSON       = []byte("application/json")
	ctProtobuf   = []byte("application/x-protobuf")
	emptyJSONObj = []byte("{}")
)

// listener is one listening address with its own request counters.
type listener struct {
	ln            net.Listener
	infer, traces atomic.Int64
}

// handler serves one listener; all is every listener, for /bench/counts.
func handler(self *listener, all []*listener) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		path := ctx.Path()
		post := ctx.IsPost()
		switch {
		case post && bytes.HasPrefix(path, prefixV2) && bytes.HasSuffix(path, suffixInfer):
			self.infer.Add(1)
			ctx.Response.Header.SetContentTypeBytes(ctJSON)
			ctx.SetBody(oipBody)
		case post && bytes.HasPrefix(path, prefixV1) && bytes.HasSuffix(path, suffixPred):
			self.infer.Add(1)
			ctx.Response.Header.SetContentTypeBytes(ctJSON)
			ctx.SetBody(v1Body)
		case post && bytes.Equal(path, pathTraces):
			self.traces.Add(1)
			// An empty ExportTraceServiceResponse: zero bytes in protobuf, {} in JSON.
			if bytes.Equal(ctx.Request.Header.ContentType(), ctJSON) {
				ctx.Response.Header.SetContentTypeBytes(ctJSON)
				ctx.SetBody(emptyJSONObj)
			} else {
				ctx.Response.Header.SetContentTypeBytes(ctProtobuf)
			}
		case bytes.Equal(path, pathReady) || bytes.Equal(path, pathLive) ||
			!post && bytes.HasPrefix(path, prefixV2) && bytes.HasSuffix(path, suffixReady):
			ctx.Response.Header.SetContentTypeBytes(ctJSON)
			ctx.SetBody(readyBody)
		case bytes.Equal(path, pathCounts):
			for _, l := range all {
				fmt.Fprintf(ctx, "%s infer=%d traces=%d\n", l.ln.Addr(), l.infer.Load(), l.traces.Load())
			}
		default:
			ctx.SetStatusCode(fasthttp.StatusNotFound)
		}
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:18001", "comma-separated addresses to listen on")
	flag.Parse()
	var all []*listener
	for addr := range strings.SplitSeq(*listen, ",") {
		ln, err := net.Listen("tcp", strings.TrimSpace(addr))
		if err != nil {
			for _, l := range all {
				l.ln.Close()
			}
			fmt.Fprintf(os.Stderr, "backend: %v\n", err)
			os.Exit(1)
		}
		all = append(all, &listener{ln: ln})
	}
	var wg sync.WaitGroup
	for _, l := range all {
		srv := &fasthttp.Server{
			Handler:                       handler(l, all),
			Name:                          "bench-backend",
			NoDefaultDate:                 true,
			DisableHeaderNamesNormalizing: true,
			Concurrency:                   64 * 1024,
		}
		wg.Go(func() {
			if err := srv.Serve(l.ln); err != nil {
				log.Fatalf("backend: serving %s: %v", l.ln.Addr(), err)
			}
		})
	}
	log.Printf("backend: listening on %s", *listen)
	wg.Wait()
}
