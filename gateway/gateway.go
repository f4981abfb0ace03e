// Package gateway is modelgate's I/O: the fiber traffic listener that proxies
// prediction requests to model containers, the admin listener, and the
// reload loop that swaps routing snapshots. Routing decisions come from the
// router package; tenant identity from tenants; metrics from observability.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/gofiber/fiber/v2"
	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/observability"
)

// Gateway serves prediction traffic for the snapshot it holds. Create it
// with New; Apply swaps in a new config; Serve runs the listener until
// Shutdown.
type Gateway struct {
	snap      atomic.Pointer[snapshot]
	upstreams *registry
	metrics   *observability.Metrics
	log       *slog.Logger
	static    configs.Server // listener settings fixed at New
	app       *fiber.App
	draining  atomic.Bool
	shadows   *shadows                              // shadow pools, stats and series (shadowpool.go)
	tracing   atomic.Pointer[observability.Tracing] // nil: not traced; see UseTracing

	applyMu   sync.Mutex         // serializes Apply
	series    map[seriesKey]bool // metric series in use, owned by Apply
	admission *admission         // limiters kept across reloads, owned by Apply
	tls       tlsState           // listener certificates, reloaded by the Reloader
}

// New builds a gateway for a validated config. It does not listen yet.
func New(cfg *configs.Config, m *observability.Metrics, log *slog.Logger) *Gateway {
	g := &Gateway{
		upstreams: newRegistry(log),
		metrics:   m,
		log:       log,
		static:    cfg.Server,
	}
	g.app = fiber.New(fiber.Config{
		AppName:                      "modelgate",
		DisableStartupMessage:        true,
		Network:                      "tcp",
		BodyLimit:                    int(cfg.Server.MaxBodyBytes),
		ReadBufferSize:               cfg.Server.MaxHeaderBytes,
		ReadTimeout:                  cfg.Server.ReadTimeout,
		WriteTimeout:                 cfg.Server.WriteTimeout,
		IdleTimeout:                  cfg.Server.IdleTimeout,
		DisablePreParseMultipartForm: true,
		ErrorHandler:                 g.fiberError,
		// One handler takes every path and router.ParsePath decides; these
		// spare fiber a lowercased and trimmed copy of each path that
		// nothing would read.
		CaseSensitive: true,
		StrictRouting: true,
	})
	g.app.Use(g.observe) // handle, inside the span and access log when on
	g.shadows = newShadows(m, log, g.runShadow)
	g.initTLS(cfg) // errors are reported by Listen
	g.Apply(cfg)
	m.Resilience.SetEndpointSource(g.endpointSamples)
	return g
}

// Apply builds the routing snapshot for cfg in full, swaps it in atomically,
// then releases endpoints and metric series the new config no longer uses.
// Requests already running finish on the snapshot they started with.
// Listener settings (cfg.Server) are not applied; they need a restart.
func (g *Gateway) Apply(cfg *configs.Config) {
	g.applyMu.Lock()
	defer g.applyMu.Unlock()
	snap, urls, series := buildSnapshot(cfg, g.upstreams, g.metrics)
	carryOver(g.snap.Load(), snap)
	retired := g.shadows.apply(snap)
	g.attachAdmission(cfg, snap)
	g.snap.Store(snap)
	g.shadows.retire(retired)
	g.upstreams.retain(urls)
	forgetSeries(g.metrics, g.series, series)
	g.series = series
}

// Config returns the config now serving. Read-only.
func (g *Gateway) Config() *configs.Config { return g.snap.Load().cfg }

// Listen opens the traffic listener on the configured address, with TLS
// when server.tls is set.
func (g *Gateway) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", g.static.Listen)
	if err != nil {
		return nil, fmt.Errorf("listening for traffic on %s: %w", g.static.Listen, err)
	}
	return g.wrapTLS(ln)
}

// Serve serves prediction traffic on ln until Shutdown. It returns nil after
// a graceful shutdown.
func (g *Gateway) Serve(ln net.Listener) error {
	err := g.app.Listener(ln)
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting connections, waits for in-flight requests until
// ctx is done, stops the shadow workers (queued copies are dropped; calls in
// progress are waited for until ctx is done), then releases upstream
// connections.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.draining.Store(true)
	err := g.app.ShutdownWithContext(ctx)
	err = errors.Join(err, g.shadows.shutdown(ctx))
	g.upstreams.closeAll()
	return err
}
