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
	snap    atomic.Pointer[snapshot]
	st      *state // long-lived state across reloads (state.go), owned by Apply
	metrics *observability.Metrics
	log     *slog.Logger
	static  configs.Server // listener settings fixed at New
	// staticState is the state section fixed at New (state.redis needs a
	// restart).
	staticState configs.State
	maxBody     int64 // server.max_body_bytes
	// maxAnswer is server.max_answer_bytes: also the bound on one event of
	// a streamed answer (openai_stream.go).
	maxAnswer int
	app       *fiber.App
	draining  atomic.Bool
	tracing   atomic.Pointer[observability.Tracing] // nil: not traced; see UseTracing

	applyMu sync.Mutex // serializes Apply
	tls     tlsState   // listener certificates, reloaded by the Reloader

	closing    atomic.Bool // set under applyMu by Shutdown and Close; Apply refuses then
	release    sync.Once   // Shutdown and Close release once
	releaseErr error
}

// New builds a gateway for a validated config. It does not listen yet.
func New(cfg *configs.Config, m *observability.Metrics, log *slog.Logger) *Gateway {
	g := &Gateway{
		metrics: m,
		log:     log,
		static:  cfg.Server,
		maxBody: cfg.Server.MaxBodyBytes,

		maxAnswer: int(cfg.Server.MaxAnswerBytes),
	}
	g.st = newState(m, log, int(cfg.Server.MaxAnswerBytes), cfg.State.Redis)
	g.staticState = cfg.State
	g.app = fiber.New(fiber.Config{
		AppName:                      "modelgate",
		DisableStartupMessage:        true,
		Network:                      "tcp",
		BodyLimit:                    int(cfg.Server.MaxBodyBytes),
		StreamRequestBody:            true, // bodies are read after admission (body.go)
		Concurrency:                  cfg.Server.MaxConnections,
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
	// fasthttp's own messages about a connection quote request bytes:
	// they never reach the log (see refusedLogger).
	g.app.Server().SecureErrorLogMessage = true
	g.app.Server().Logger = refusedLogger{log}
	g.app.Server().HeaderReceived = g.headerReceived // early.go
	g.app.Use(g.serveRequest)                        // observe → handle
	g.initTLS(cfg)                                   // errors are reported by Listen
	g.Apply(cfg)
	m.Resilience.SetEndpointSource(g.endpointSamples)
	return g
}

// Apply builds the routing snapshot for cfg in full, swaps it in atomically,
// then releases the long-lived state (endpoints, shadow pools, metric
// series, budgets, limiters; see state) the new config no longer uses.
// Requests already running finish on the snapshot they started with.
// Listener settings (cfg.Server) are not applied; they need a restart.
// Once Shutdown or Close began it changes nothing and returns
// ErrShuttingDown (it would create endpoints after their release).
func (g *Gateway) Apply(cfg *configs.Config) error {
	g.applyMu.Lock()
	defer g.applyMu.Unlock()
	if g.closing.Load() {
		return ErrShuttingDown
	}
	gen := g.st.set.Begin()
	snap := g.st.build(gen, cfg)
	g.snap.Store(snap)
	gen.Commit() // releases what snap does not use
	return nil
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

// ErrShuttingDown is returned by Apply and by reloads once the gateway's
// Shutdown or Close began (configs.ErrShuttingDown, which the admin API
// maps to 503).
var ErrShuttingDown = configs.ErrShuttingDown

// Shutdown refuses further Apply calls (waiting for one in progress), stops
// accepting connections, waits for in-flight requests until ctx is done,
// then releases: stops the shadow workers (queued copies are dropped; calls
// in progress are waited for until ctx is done) and the health checkers,
// and closes upstream connections. Stop the reload triggers first (see
// Reloader.Run). Calling it again returns at once.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.beginClose()
	g.draining.Store(true)
	err := g.app.ShutdownWithContext(ctx)
	return errors.Join(err, g.releaseAll(ctx))
}

// Close releases what New started (health checkers, shadow workers,
// upstream connections) for a gateway that does not serve, e.g. when
// Listen failed because the port is taken. After Shutdown it is a no-op.
func (g *Gateway) Close() error {
	g.beginClose()
	return g.releaseAll(context.Background())
}

// beginClose makes Apply refuse from now on; an Apply in progress finishes
// first, so the release below sees every endpoint it created.
func (g *Gateway) beginClose() {
	g.applyMu.Lock()
	g.closing.Store(true)
	g.applyMu.Unlock()
}

// releaseAll stops the shadow workers, then the endpoints (they use the
// endpoints' connections), then the Redis connection (leaving the replica
// set), once.
func (g *Gateway) releaseAll(ctx context.Context) error {
	g.release.Do(func() {
		g.releaseErr = g.st.shadows.Shutdown(ctx)
		g.st.upstreams.Close()
		if g.st.shared != nil {
			g.st.shared.Close()
		}
	})
	return g.releaseErr
}

// serveRequest is the traffic listener's handler: observe (span and access
// log around handle). While draining, every answer tells the client to
// close its connection, so a keep-alive client never sends its next request
// into a connection the gateway is about to close (fiberError does the same
// for error answers, written after this returns).
func (g *Gateway) serveRequest(c *fiber.Ctx) error {
	err := g.observe(c)
	ctx := c.Context()
	if err == nil && g.draining.Load() {
		ctx.SetConnectionClose()
	}
	// The request was read in full (no body, or readBody read all of it):
	// the connection's next head can be checked for bare LFs (clientconn.go).
	if rc, ok := ctx.Conn().(rearmer); ok {
		if cl := ctx.Request.Header.ContentLength(); cl == 0 || cl == -2 ||
			cl > 0 && ctx.Request.BodyStream() == nil && len(ctx.Request.Body()) == cl {
			rc.rearm(int64(max(cl, 0)))
		}
	}
	return err
}
