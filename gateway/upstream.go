package gateway

import (
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/router/balance"
	"github.com/valyala/fasthttp"
)

// endpoint is one model container replica. Its state (connection pool,
// in-flight count, circuit breaker, health) lives in the registry keyed by
// URL, so it outlives config reloads: a reload that keeps an endpoint keeps
// its pool, its load, an open breaker and a failed health check.
//
// The request path reads the atomics only; configure and the health checker
// run on the reload path and the checker goroutine. An endpoint must not be
// copied.
type endpoint struct {
	url    string
	host   []byte // host[:port] as written in the URL, sent as Host
	client *fasthttp.HostClient
	log    *slog.Logger

	inFlight       atomic.Int64
	connectTimeout atomic.Int64 // nanoseconds; the smallest of the models using it

	// brk is the circuit breaker; nil when the deciding model disables
	// breakers. openUntil is the Unix time in ns until which the breaker is
	// open (0 when closed or half-open), so the picker skips an open
	// endpoint without taking the breaker's lock.
	brk       atomic.Pointer[breaker]
	openUntil atomic.Int64
	// down is set while active health checks say the endpoint is unhealthy.
	down atomic.Bool
	// checker is the running health checker, or nil. Guarded by registry.mu.
	checker *healthChecker
}

func newEndpoint(raw string, log *slog.Logger) *endpoint {
	u, _ := url.Parse(raw) // validated by configs
	tlsOn := u.Scheme == "https"
	addr := u.Host
	if u.Port() == "" {
		if tlsOn {
			addr = net.JoinHostPort(u.Hostname(), "443")
		} else {
			addr = net.JoinHostPort(u.Hostname(), "80")
		}
	}
	ep := &endpoint{url: raw, host: []byte(u.Host), log: log.With("endpoint", raw)}
	ep.connectTimeout.Store(int64(configs.DefaultConnectTimeout))
	ep.client = &fasthttp.HostClient{
		Addr:                          addr,
		Name:                          "modelgate",
		IsTLS:                         tlsOn,
		TLSConfig:                     upstreamTLSConfig(u.Hostname()),
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: false,
		DisablePathNormalizing:        true, // the gateway sends an already-normalized path
		MaxConns:                      configs.DefaultMaxConnsPerHost,
		// Wait for a free connection (bounded by the request deadline)
		// instead of failing at once with ErrNoFreeConns.
		MaxConnWaitTimeout:  30 * time.Second,
		MaxIdleConnDuration: 30 * time.Second,
		ReadBufferSize:      16 << 10,
		// Dialing is bounded by the connect timeout and by what is left of
		// the request's budget, whichever is shorter.
		DialTimeout: func(addr string, timeout time.Duration) (net.Conn, error) {
			d := time.Duration(ep.connectTimeout.Load())
			if timeout > 0 && timeout < d {
				d = timeout
			}
			return fasthttp.DialTimeout(addr, d)
		},
		// A reused keep-alive connection the container closed before any
		// response byte is retried once on a fresh connection (within the
		// request deadline). Everything else is decided by forward.
		RetryIfErr: func(_ *fasthttp.Request, attempts int, _ error) (bool, bool) {
			return false, attempts < 2
		},
	}
	return ep
}

// available reports whether the picker may choose ep at time now (Unix ns):
// it is healthy and its breaker is not open. An open breaker whose open_for
// has passed is available again: the next request through it is the
// half-open probe.
func (ep *endpoint) available(now int64) bool {
	return !ep.down.Load() && now >= ep.openUntil.Load()
}

// settings are the resilience settings an endpoint takes from the config.
// When one URL is listed by several models, breaker and health-check
// settings come from the first model in file order that lists it, and the
// connect timeout is the smallest of them.
type settings struct {
	connect time.Duration
	breaker configs.Breaker
	health  configs.HealthCheck
}

// registry owns every endpoint, keyed by URL. Only the reload path mutates
// it; the request path reaches endpoints through the routing snapshot.
type registry struct {
	log *slog.Logger
	mu  sync.Mutex
	eps map[string]*endpoint
}

func newRegistry(log *slog.Logger) *registry {
	return &registry{log: log, eps: map[string]*endpoint{}}
}

// get returns the endpoint for url, creating it if new. A new endpoint is
// healthy and its breaker closed until configure and traffic say otherwise.
func (r *registry) get(url string) *endpoint {
	r.mu.Lock()
	defer r.mu.Unlock()
	ep, ok := r.eps[url]
	if !ok {
		ep = newEndpoint(url, r.log)
		r.eps[url] = ep
	}
	return ep
}

// configure applies each endpoint's settings: connect timeout, breaker
// (kept with its state when its settings did not change, replaced by a new
// closed one when they did) and health checker (kept when unchanged,
// restarted otherwise; the last verdict is kept).
func (r *registry) configure(plan map[*endpoint]*settings) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for ep, s := range plan {
		ep.connectTimeout.Store(int64(s.connect))
		ep.setBreaker(s.breaker)
		switch c := ep.checker; {
		case s.health.Disabled:
			if c != nil {
				c.stop()
				ep.checker = nil
			}
			ep.down.Store(false)
		case c == nil || c.cfg != s.health:
			if c != nil {
				c.stop()
			}
			ep.checker = startHealthChecker(ep, s.health)
		}
	}
}

// retain releases every endpoint not in keep: its health checker is stopped
// and its idle connections are closed; requests still in flight on an old
// snapshot finish normally.
func (r *registry) retain(keep map[string]bool) []*healthChecker {
	r.mu.Lock()
	defer r.mu.Unlock()
	var stopped []*healthChecker
	for u, ep := range r.eps {
		if !keep[u] {
			if ep.checker != nil {
				ep.checker.stop()
				stopped = append(stopped, ep.checker)
				ep.checker = nil
			}
			ep.client.CloseIdleConnections()
			delete(r.eps, u)
		}
	}
	return stopped
}

// closeAll releases every endpoint (shutdown), waits until every health
// checker goroutine has returned, then closes the connections that checks
// in progress returned to the pools meanwhile.
func (r *registry) closeAll() {
	r.mu.Lock()
	eps := make([]*endpoint, 0, len(r.eps))
	for _, ep := range r.eps {
		eps = append(eps, ep)
	}
	r.mu.Unlock()
	for _, c := range r.retain(nil) {
		<-c.done
	}
	for _, ep := range eps {
		ep.client.CloseIdleConnections()
	}
}

// maxCandidates bounds the endpoints of a version the picker considers
// (the rest are never picked); it keeps the candidate lists on the stack.
const maxCandidates = 64

// picker is the load-balancing policy over a version's available
// endpoints.
var picker balance.P2C

// pickEndpoint chooses, by power of two choices on in-flight requests, an
// available endpoint of eps not marked in tried (bit i for eps[i]). It
// returns the index, or -1 when no endpoint is available.
func pickEndpoint(eps []*endpoint, tried uint64, now int64) int {
	var idx [maxCandidates]int
	var loads [maxCandidates]int64
	n := 0
	for i, ep := range eps {
		if i == maxCandidates {
			break
		}
		if tried&(1<<i) == 0 && ep.available(now) {
			idx[n] = i
			loads[n] = ep.inFlight.Load()
			n++
		}
	}
	j := picker.Pick(loads[:n])
	if j < 0 {
		return -1
	}
	return idx[j]
}
