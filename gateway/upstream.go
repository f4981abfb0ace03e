package gateway

import (
	"crypto/tls"
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
	host   []byte      // host[:port] as written in the URL, sent as Host
	scheme []byte      // "http" or "https", set on each request (HostClient refuses another)
	tls    *tls.Config // nil for http://
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
	// Only the checker that owns the verdict writes it (setDown).
	down atomic.Bool
	// checker is the running health checker, or nil. Guarded by registry.mu.
	checker *healthChecker
	// verdictOwner is the checker whose results set down: the one configure
	// started last, or nil. A checker stopped or replaced by a reload may
	// still finish a check; its verdict is then dropped.
	verdictMu    sync.Mutex
	verdictOwner *healthChecker
}

// newEndpoint creates the endpoint of a validated URL. Answers over
// maxAnswer bytes fail with ErrBodyTooLarge (server.max_answer_bytes).
func newEndpoint(raw string, log *slog.Logger, maxAnswer int) *endpoint {
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
	ep := &endpoint{url: raw, host: []byte(u.Host), scheme: []byte(u.Scheme), log: log.With("endpoint", raw)}
	if tlsOn {
		ep.tls = upstreamTLSConfig(u.Hostname())
	}
	ep.connectTimeout.Store(int64(configs.DefaultConnectTimeout))
	ep.client = &fasthttp.HostClient{
		Addr:                          addr,
		Name:                          "modelgate",
		IsTLS:                         tlsOn,
		TLSConfig:                     ep.tls, // unused: dial returns a TLS connection already
		NoDefaultUserAgentHeader:      true,
		DisableHeaderNamesNormalizing: false,
		DisablePathNormalizing:        true, // the gateway sends an already-normalized path
		MaxConns:                      configs.DefaultMaxConnsPerHost,
		// Wait for a free connection (bounded by the request deadline)
		// instead of failing at once with ErrNoFreeConns.
		MaxConnWaitTimeout:  30 * time.Second,
		MaxIdleConnDuration: 30 * time.Second,
		ReadBufferSize:      16 << 10,
		MaxResponseBodySize: maxAnswer,
		// Parse errors without a copy of the answer in their text (causeOf
		// maps every error to a fixed cause anyway).
		SecureErrorLogMessage: true,
		DialTimeout:           ep.dial,
		RetryIfErr:            retryOnFreshConn,
	}
	return ep
}

// dial connects to the container, with the TLS handshake for https://,
// within the connect timeout or what is left of the request's budget,
// whichever is shorter, and wraps the connection in an upstreamConn.
func (ep *endpoint) dial(addr string, timeout time.Duration) (net.Conn, error) {
	d := time.Duration(ep.connectTimeout.Load())
	if timeout > 0 && timeout < d {
		d = timeout
	}
	deadline := time.Now().Add(d)
	conn, err := fasthttp.DialTimeout(addr, d)
	if err != nil {
		return nil, err
	}
	return newUpstreamConn(conn, ep.tls, deadline)
}

// do sends req to the endpoint and reads the answer into resp, by
// deadline. Its error is a fixed cause (causeOf): never the transport's
// text, which can quote what the container sent. Every upstream call —
// traffic, shadow copies, health checks — goes through it.
func (ep *endpoint) do(req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time) error {
	req.URI().SetSchemeBytes(ep.scheme)
	if err := ep.client.DoDeadline(req, resp, deadline); err != nil {
		return causeOf(err)
	}
	return nil
}

// setDown records checker c's verdict and reports whether it counted: a
// checker that no longer owns the endpoint's verdict is ignored.
func (ep *endpoint) setDown(c *healthChecker, down bool) bool {
	ep.verdictMu.Lock()
	defer ep.verdictMu.Unlock()
	if ep.verdictOwner != c {
		return false
	}
	ep.down.Store(down)
	return true
}

// ownVerdict gives the endpoint's health verdict to c (nil: no checker,
// and the endpoint is up).
func (ep *endpoint) ownVerdict(c *healthChecker) {
	ep.verdictMu.Lock()
	defer ep.verdictMu.Unlock()
	ep.verdictOwner = c
	if c == nil {
		ep.down.Store(false)
	}
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
	log       *slog.Logger
	maxAnswer int // server.max_answer_bytes, static
	mu        sync.Mutex
	eps       map[string]*endpoint
}

func newRegistry(log *slog.Logger, maxAnswer int) *registry {
	return &registry{log: log, maxAnswer: maxAnswer, eps: map[string]*endpoint{}}
}

// get returns the endpoint for url, creating it if new. A new endpoint is
// healthy and its breaker closed until configure and traffic say otherwise.
func (r *registry) get(url string) *endpoint {
	r.mu.Lock()
	defer r.mu.Unlock()
	ep, ok := r.eps[url]
	if !ok {
		ep = newEndpoint(url, r.log, r.maxAnswer)
		r.eps[url] = ep
	}
	return ep
}

// configure applies each endpoint's settings: connect timeout, breaker
// (kept with its state when its settings did not change, replaced by a new
// closed one when they did) and health checker (kept when unchanged,
// restarted otherwise; the last verdict is kept). A stopped checker may
// still be finishing a check: it no longer owns the verdict, so what it
// finds is dropped.
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
			ep.ownVerdict(nil)
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
				ep.ownVerdict(nil)
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

// maxCandidates bounds the endpoints of a version, so the candidate lists
// stay on the stack and tried endpoints fit a 64-bit set; validation
// refuses a version with more.
const maxCandidates = configs.MaxEndpointsPerVersion

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
