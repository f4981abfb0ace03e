package upstream

import (
	"crypto/x509"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/internal/keyed"
	"github.com/modelgate/modelgate/router/balance"
)

// Settings are the resilience settings an endpoint takes from the config.
// When one endpoint (URL and health-check path, see Key) is listed by
// several models, breaker and health-check settings come from the first
// model in file order that lists it, and the connect timeout is the
// smallest of them (the snapshot builder decides). Health.Path is the
// endpoint's Key.HealthPath.
type Settings struct {
	Connect time.Duration
	Breaker configs.Breaker
	Health  configs.HealthCheck
}

// Key names an endpoint: a container's URL and the health-check path its
// models probe it with (health_check.path with {model} replaced, whether
// checks are enabled or not). Models that list one URL share an endpoint
// (connection pool, in-flight count, breaker, health verdict) when they
// probe it the same way: always for a server-level path such as
// /v2/health/ready or /ping, and for the model-level default when they
// name the same model (tenants sharing a container of one model). Models
// of a multi-model container (Triton, MLServer) get one endpoint each, so
// one model's unload takes only that model's traffic away.
type Key struct {
	URL, HealthPath string
}

// Registry owns every endpoint, keyed by Key, in a store of the gateway's
// keyed.Set: an endpoint lives while the snapshots built since the last
// commit use it, and a Commit of a generation that did not Get it releases
// it (health checker stopped, idle connections closed; requests still in
// flight on an old snapshot finish normally). Only the reload path (Get,
// Configure, SetRoots, Close, serialized by the caller) mutates it; the
// request path reaches endpoints through the routing snapshot and Pick.
type Registry struct {
	log       *slog.Logger
	maxAnswer int // server.max_answer_bytes, static
	roots     atomic.Pointer[x509.CertPool]
	picker    balance.P2C // concrete: an interface would move Pick's loads to the heap

	mu      sync.Mutex // guards each endpoint's checker and stopped
	stopped []*Checker // stopped checkers that may still be running a check
	eps     *keyed.Store[Key, *Endpoint]
}

// NewRegistry creates an empty registry whose endpoints live in a store of
// set. Answers over maxAnswer bytes fail (server.max_answer_bytes).
func NewRegistry(set *keyed.Set, log *slog.Logger, maxAnswer int) *Registry {
	r := &Registry{log: log, maxAnswer: maxAnswer}
	r.eps = keyed.Register(set, func(_ Key, ep *Endpoint) { r.release(ep) })
	return r
}

// Roots is the pool SetRoots set last.
func (r *Registry) Roots() *x509.CertPool { return r.roots.Load() }

// SetRoots sets the CA pool that https:// endpoints are verified against
// (nil: the system roots), from server.upstream_ca_file. Each new upstream
// connection is verified against the pool current at its handshake;
// established keep-alive connections stay up.
func (r *Registry) SetRoots(pool *x509.CertPool) { r.roots.Store(pool) }

// Get returns the endpoint for k, creating it if new, and marks it used
// by gen. A new endpoint is healthy and its breaker closed until Configure
// and traffic say otherwise.
func (r *Registry) Get(gen *keyed.Gen, k Key) *Endpoint {
	return keyed.Get(r.eps, gen, k, func() *Endpoint {
		return newEndpoint(k.URL, r.log, r.maxAnswer, &r.roots)
	})
}

// Configure applies each endpoint's settings: connect timeout, breaker
// (kept with its state when its settings did not change, replaced by a new
// closed one when they did) and health checker (kept when unchanged,
// restarted otherwise; the last verdict is kept). A stopped checker may
// still be finishing a check: it no longer owns the verdict, so what it
// finds is dropped.
func (r *Registry) Configure(plan map[*Endpoint]*Settings) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for ep, s := range plan {
		ep.connectTimeout.Store(int64(s.Connect))
		ep.setBreaker(s.Breaker)
		switch c := ep.checker.Load(); {
		case s.Health.Disabled:
			if c != nil {
				r.stop(c)
				ep.checker.Store(nil)
			}
			ep.ownVerdict(nil)
		case c == nil || c.cfg != s.Health:
			if c != nil {
				r.stop(c)
			}
			ep.checker.Store(startHealthChecker(ep, s.Health))
		}
	}
}

// stop stops c and keeps it until its goroutine has returned, so Close can
// wait for it. Called with r.mu held.
func (r *Registry) stop(c *Checker) {
	c.stop()
	r.stopped = slices.DeleteFunc(r.stopped, (*Checker).exited)
	r.stopped = append(r.stopped, c)
}

// release stops ep's checker and closes its idle connections: the store's
// release function, called by a Commit that no longer uses ep and by
// Close.
func (r *Registry) release(ep *Endpoint) {
	r.mu.Lock()
	if c := ep.checker.Load(); c != nil {
		r.stop(c)
		ep.checker.Store(nil)
		ep.ownVerdict(nil)
	}
	r.mu.Unlock()
	ep.client.CloseIdleConnections()
}

// Close releases every endpoint (shutdown), waits until every health
// checker goroutine has returned, then closes the connections that checks
// in progress returned to the pools meanwhile. No generation may be open.
func (r *Registry) Close() {
	var eps []*Endpoint
	r.eps.All(func(_ Key, ep *Endpoint) { eps = append(eps, ep) })
	r.eps.Close()
	r.mu.Lock()
	stopped := r.stopped
	r.stopped = nil
	r.mu.Unlock()
	for _, c := range stopped {
		<-c.done
	}
	for _, ep := range eps {
		ep.client.CloseIdleConnections()
	}
}

// Len is the number of endpoints held.
func (r *Registry) Len() int { return r.eps.Len() }

// MaxCandidates bounds the endpoints of a version, so the candidate lists
// stay on the stack and tried endpoints fit a 64-bit set; validation
// refuses a version with more.
const MaxCandidates = configs.MaxEndpointsPerVersion

// Pick chooses, by power of two choices on in-flight requests, an
// available endpoint of eps not marked in tried (bit i for eps[i]). It
// returns the index, or -1 when no endpoint is available. It allocates
// nothing.
func (r *Registry) Pick(eps []*Endpoint, tried uint64, now int64) int {
	var idx [MaxCandidates]int
	var loads [MaxCandidates]int64
	n := 0
	for i, ep := range eps {
		if i == MaxCandidates {
			break
		}
		if tried&(1<<i) == 0 && ep.Available(now) {
			idx[n] = i
			loads[n] = ep.inFlight.Load()
			n++
		}
	}
	j := r.picker.Pick(loads[:n])
	if j < 0 {
		return -1
	}
	return idx[j]
}
