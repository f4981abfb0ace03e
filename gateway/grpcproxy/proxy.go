// Package grpcproxy is modelgate's gRPC traffic listener: the Open
// Inference Protocol's inference.GRPCInferenceService (server.grpc_listen)
// in front of the models' gRPC containers (each version's grpc_endpoints).
//
// It is a raw passthrough: messages stay bytes (a codec that keeps them as
// *frame), only the fields routing needs are read with protowire (the
// model's name and version), and the original bytes are forwarded — with
// the version field set to the chosen version's container_version, as REST
// sends the versioned path — over one *grpc.ClientConn per upstream
// address, kept across reloads. Tenancy, the split, sticky keys and pins
// are decided as on REST: tenants.Directory and router.Split built from
// the same config. Request metrics go to the REST series of the version
// (observability.Series), with the gRPC code counted as an HTTP status
// (httpStatus). Admission limits are the REST gateway's (Admitter); each
// address has a circuit breaker and an active health checker (OIP
// ModelReady or ServerReady, health.go) whose down verdict keeps calls
// away, and calls are retried on UNAVAILABLE and fall back as the model's
// retry and fallback settings say (forward.go). The addresses' breaker,
// health and load are exported as the REST endpoints' gauges, labelled
// grpc://host:port (samples.go).
package grpcproxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/router/retry"
	"github.com/modelgate/modelgate/tenants"
	"golang.org/x/net/netutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// Proxy serves gRPC traffic for the snapshot it holds. Create it with New;
// Apply swaps in a new config (the same reload path as the REST gateway's
// Apply); Serve runs the listener until Shutdown.
type Proxy struct {
	snap     atomic.Pointer[snapshot]
	metrics  *observability.Metrics
	log      *slog.Logger
	listen   string // server.grpc_listen
	maxMsg   int    // server.max_body_bytes
	maxConns int    // server.max_connections (0: no cap)
	srv      *grpc.Server
	admit    Admitter // nil: no admission control

	applyMu  sync.Mutex // serializes Apply, guards eps, budgets and closing
	eps      *endpoints
	budgets  map[budgetKey]*retry.Budget // the models' retry budgets, kept across reloads
	closing  bool
	draining atomic.Bool // ServerReady answers false from Shutdown on

	release      sync.Once
	removeSource func() // of the endpoint gauges' source (samples.go)
}

// Options are the proxy's optional settings.
type Options struct {
	// TLS, when set, serves TLS with it (the traffic listener's settings,
	// gateway.TrafficTLSConfig); nil serves plaintext HTTP/2 (h2c).
	TLS *tls.Config
	// Admission, when set, runs the admission control of every routed
	// call (ModelInfer, ModelReady, ModelMetadata) once its model is
	// known, before its version is chosen — the REST gateway
	// (*gateway.Gateway), so gRPC and REST calls share each tenant's and
	// model's limits. nil admits every call: no limits over gRPC.
	Admission Admitter
}

// Admitter is the admission control the proxy shares with the REST
// gateway (gateway.Gateway.Admit): for a call of tenant's model at now it
// takes the same limiters a REST request would, and either admits it
// (Outcome tenants.Admitted: the proxy releases the Grant when the call
// ends) or refuses it (rate_limited or concurrency, counted by the
// Admitter), with the Retry-After its Decision gives.
type Admitter interface {
	Admit(tenant, model string, now time.Time) (tenants.Grant, tenants.Decision)
}

// New builds a proxy for a validated config; it does not listen yet. The
// server takes request messages up to server.max_body_bytes: larger ones,
// up to twice that, are read and answered INVALID_ARGUMENT; beyond that
// grpc-go refuses them unread, from their length prefix, with its own
// RESOURCE_EXHAUSTED (a handler cannot change the status grpc-go's
// RecvMsg writes). Metadata is taken up to server.max_header_bytes,
// answers from containers up to server.max_answer_bytes.
func New(cfg *configs.Config, m *observability.Metrics, log *slog.Logger, opts Options) (*Proxy, error) {
	p := &Proxy{
		metrics:  m,
		log:      log,
		listen:   cfg.Server.GRPCListen,
		maxMsg:   int(min(cfg.Server.MaxBodyBytes, 1<<31-1)),
		maxConns: cfg.Server.MaxConnections,
		admit:    opts.Admission,
		eps:      newEndpoints(log, int(min(cfg.Server.MaxAnswerBytes, 1<<31-1))),
		budgets:  map[budgetKey]*retry.Budget{},
	}
	sopts := []grpc.ServerOption{
		grpc.ForceServerCodecV2(rawCodec{}),
		grpc.MaxRecvMsgSize(int(min(2*int64(p.maxMsg), 1<<31-1))),
		grpc.MaxHeaderListSize(uint32(cfg.Server.MaxHeaderBytes)),
		// Calls at once on one connection, as nginx's and Envoy's HTTP/2
		// defaults are about: with connections capped at
		// server.max_connections (Listen), this bounds the calls in
		// flight, and a call holds no message before its key is checked.
		grpc.MaxConcurrentStreams(maxStreamsPerConn),
	}
	if opts.TLS != nil {
		sopts = append(sopts, grpc.Creds(credentials.NewTLS(opts.TLS)))
	}
	p.srv = grpc.NewServer(sopts...)
	p.srv.RegisterService(&serviceDesc, p)
	if err := p.Apply(cfg); err != nil {
		p.releaseAll()
		return nil, err
	}
	p.removeSource = m.Resilience.AddEndpointSource(p.endpointSamples)
	return p, nil
}

// Apply builds the routing snapshot for cfg in full, swaps it in, then
// retires the upstream connections the new config no longer lists (each
// closes when its calls in progress end). Calls already running finish on
// the snapshot they started with. Listener settings are not applied (they
// need a restart). Once Shutdown or Close began it returns
// configs.ErrShuttingDown and changes nothing.
func (p *Proxy) Apply(cfg *configs.Config) error {
	p.applyMu.Lock()
	defer p.applyMu.Unlock()
	if p.closing {
		return configs.ErrShuttingDown
	}
	used, usedBudgets := map[string]bool{}, map[budgetKey]bool{}
	snap, plan, err := build(cfg, p.eps, p.budgets, p.metrics, used, usedBudgets)
	if err != nil {
		// A ClientConn that cannot even be created (an address grpc
		// refuses): the old snapshot stays; the next successful Apply
		// sweeps what this one created.
		return fmt.Errorf("grpc proxy: %w", err)
	}
	// Breakers and health checkers are installed before the swap (kept
	// ones keep their state): the new snapshot's first call sees its
	// endpoint's settings.
	for e, ep := range plan {
		e.setBreaker(ep.breaker)
		e.setHealth(ep.health, &p.eps.stopped)
	}
	p.snap.Store(snap)
	p.eps.sweep(used)
	for k := range p.budgets {
		if !usedBudgets[k] {
			delete(p.budgets, k)
		}
	}
	return nil
}

// Listen opens server.grpc_listen.
// The listener accepts at most server.max_connections connections at
// once (more wait in the kernel's backlog until one closes).
func (p *Proxy) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", p.listen)
	if err != nil {
		return nil, fmt.Errorf("listening for gRPC on %s: %w", p.listen, err)
	}
	if p.maxConns > 0 {
		ln = netutil.LimitListener(ln, p.maxConns)
	}
	return ln, nil
}

// maxStreamsPerConn bounds the concurrent calls of one connection.
const maxStreamsPerConn = 128

// Serve serves gRPC on ln until Shutdown; it returns nil after a graceful
// shutdown.
func (p *Proxy) Serve(ln net.Listener) error {
	err := p.srv.Serve(ln)
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// Shutdown refuses further Apply calls, makes ServerReady answer false,
// stops accepting calls and waits for those in progress (GracefulStop)
// until ctx is done, then cuts the rest off (Stop), stops the health
// checkers (waiting for their goroutines) and closes the upstream
// connections. Calling it again returns at once.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.beginClose()
	p.draining.Store(true)
	done := make(chan struct{})
	go func() {
		p.srv.GracefulStop()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		p.srv.Stop()
		<-done
		err = fmt.Errorf("grpc proxy: calls still running at the drain deadline were cut off: %w", ctx.Err())
	}
	p.releaseAll()
	return err
}

// Close stops the server at once, stops the health checkers and closes the
// upstream connections, for
// a proxy that does not serve (another listener failed to open). After
// Shutdown it is a no-op.
func (p *Proxy) Close() error {
	p.beginClose()
	p.srv.Stop()
	p.releaseAll()
	return nil
}

func (p *Proxy) beginClose() {
	p.applyMu.Lock()
	p.closing = true
	p.applyMu.Unlock()
}

// releaseAll stops exporting the endpoint gauges, stops every health
// checker (waiting for their goroutines) and retires every upstream
// connection.
func (p *Proxy) releaseAll() {
	p.release.Do(func() {
		if p.removeSource != nil {
			p.removeSource()
		}
		p.applyMu.Lock()
		defer p.applyMu.Unlock()
		p.eps.closeAll()
	})
}
