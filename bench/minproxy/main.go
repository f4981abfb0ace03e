// Command minproxy is the framework floor of bench/run.sh: the least a
// fasthttp reverse proxy does — a fasthttp.Server and one fasthttp.HostClient
// per backend, each request copied through as it came, the same 90/10 split
// as the other peers. No auth, limits, metrics, breakers, header rewriting or
// timeouts. The gap between its CPU per request and modelgate's is what
// modelgate's features (and its settings) cost on top of fasthttp.
//
//	minproxy -listen 127.0.0.1:18084 -backends 127.0.0.1:18001,127.0.0.1:18002 -weights 9,1
//
// Like modelgate, it runs with at least 2 Ps (internal/maxprocs), so the
// floor and modelgate differ in their work, not in the runtime's settings.
//
// It answers GET /v2/health/ready itself (run.sh's readiness probe) and
// proxies everything else.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/modelgate/modelgate/internal/maxprocs"
	"github.com/valyala/fasthttp"
)

var pathReady = []byte("/v2/health/ready")

func main() {
	listen := flag.String("listen", "127.0.0.1:18084", "address to listen on")
	backends := flag.String("backends", "127.0.0.1:18001,127.0.0.1:18002", "comma-separated backend addresses")
	weights := flag.String("weights", "9,1", "comma-separated integer weights, one per backend")
	flag.Parse()
	maxprocs.Raise()

	var clients []*fasthttp.HostClient // one entry per unit of weight: a smooth-enough 90/10
	ws := strings.Split(*weights, ",")
	for i, addr := range strings.Split(*backends, ",") {
		w := 1
		if i < len(ws) {
			n, err := strconv.Atoi(strings.TrimSpace(ws[i]))
			if err != nil || n < 0 {
				fmt.Fprintf(os.Stderr, "minproxy: bad weight %q\n", ws[i])
				os.Exit(2)
			}
			w = n
		}
		hc := &fasthttp.HostClient{Addr: strings.TrimSpace(addr), MaxConns: 512}
		for range w {
			clients = append(clients, hc)
		}
	}
	if len(clients) == 0 {
		fmt.Fprintln(os.Stderr, "minproxy: no backend with a positive weight")
		os.Exit(2)
	}
	var next atomic.Uint64
	srv := &fasthttp.Server{
		Name: "minproxy",
		Handler: func(ctx *fasthttp.RequestCtx) {
			if ctx.IsGet() && string(ctx.Path()) == string(pathReady) {
				ctx.SetContentType("application/json")
				ctx.SetBodyString(`{"ready":true}`)
				return
			}
			hc := clients[next.Add(1)%uint64(len(clients))]
			if err := hc.Do(&ctx.Request, &ctx.Response); err != nil {
				ctx.Error(err.Error(), fasthttp.StatusBadGateway)
			}
		},
	}
	log.Printf("minproxy: listening on %s", *listen)
	if err := srv.ListenAndServe(*listen); err != nil {
		log.Fatalf("minproxy: %v", err)
	}
}
