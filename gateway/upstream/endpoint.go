package upstream

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/valyala/fasthttp"
)

// Endpoint is one model container replica. Its state (connection pool,
// in-flight count, circuit breaker, health) lives in the Registry keyed by
// URL, so it outlives config reloads: a reload that keeps an endpoint keeps
// its pool, its load, an open breaker and a failed health check.
//
// The request path uses its methods, which read and write atomics only;
// Configure and the health checker run on the reload path and the checker
// goroutine. An Endpoint must not be copied.
type Endpoint struct {
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
	// errCaller and errAt are the caller and time (Unix ns) of the last 500
	// or 503 answer, for Judge. The two are not read together atomically:
	// a race between two answers at once can only misjudge one of them.
	errCaller atomic.Uint64
	errAt     atomic.Int64
	// down is set while active health checks say the endpoint is unhealthy.
	// Only the checker that owns the verdict writes it (setDown).
	down atomic.Bool
	// checker is the running health checker, or nil. Written under
	// Registry.mu.
	checker atomic.Pointer[Checker]
	// verdictOwner is the checker whose results set down: the one Configure
	// started last, or nil. A checker stopped or replaced by a reload may
	// still finish a check; its verdict is then dropped.
	verdictMu    sync.Mutex
	verdictOwner *Checker
}

// newEndpoint creates the endpoint of a validated URL. Answers over
// maxAnswer bytes fail with the cause "answer too large"
// (server.max_answer_bytes); https:// connections are verified against
// roots as they are at each handshake.
func newEndpoint(raw string, log *slog.Logger, maxAnswer int, roots *atomic.Pointer[x509.CertPool]) *Endpoint {
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
	ep := &Endpoint{url: raw, host: []byte(u.Host), scheme: []byte(u.Scheme), log: log.With("endpoint", raw)}
	if tlsOn {
		ep.tls = clientTLSConfig(u.Hostname(), roots)
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
func (ep *Endpoint) dial(addr string, timeout time.Duration) (net.Conn, error) {
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

// Do sends req to the endpoint and reads the answer into resp, by
// deadline. Its error is a fixed cause (causeOf): never the transport's
// text, which can quote what the container sent. Every upstream call —
// traffic, shadow copies, health checks — goes through it.
func (ep *Endpoint) Do(req *fasthttp.Request, resp *fasthttp.Response, deadline time.Time) error {
	req.URI().SetSchemeBytes(ep.scheme)
	if err := ep.client.DoDeadline(req, resp, deadline); err != nil {
		return causeOf(err)
	}
	return nil
}

// setDown records checker c's verdict and reports whether it counted: a
// checker that no longer owns the endpoint's verdict is ignored.
func (ep *Endpoint) setDown(c *Checker, down bool) bool {
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
func (ep *Endpoint) ownVerdict(c *Checker) {
	ep.verdictMu.Lock()
	defer ep.verdictMu.Unlock()
	ep.verdictOwner = c
	if c == nil {
		ep.down.Store(false)
	}
}

// Available reports whether the picker may choose ep at time now (Unix ns):
// it is healthy and its breaker is not open. An open breaker whose open_for
// has passed is available again: the next request through it is the
// half-open probe.
func (ep *Endpoint) Available(now int64) bool {
	return !ep.down.Load() && now >= ep.openUntil.Load()
}

// URL is the endpoint's URL as configured.
func (ep *Endpoint) URL() string { return ep.url }

// Host is host[:port] as written in the URL: set it as the request's Host
// before Do. Read-only.
func (ep *Endpoint) Host() []byte { return ep.host }

// Up reports the health verdict: false while active health checks say the
// endpoint is unhealthy.
func (ep *Endpoint) Up() bool { return !ep.down.Load() }

// Acquire counts a request in flight on the endpoint, until Release; the
// picker prefers endpoints with fewer.
func (ep *Endpoint) Acquire() { ep.inFlight.Add(1) }

// Release ends what Acquire counted.
func (ep *Endpoint) Release() { ep.inFlight.Add(-1) }

// InFlight is the number of requests between Acquire and Release.
func (ep *Endpoint) InFlight() int64 { return ep.inFlight.Load() }

// Checker is the endpoint's running health checker, nil when checks are
// disabled (diagnostics: a reload that keeps the settings keeps it).
func (ep *Endpoint) Checker() *Checker { return ep.checker.Load() }

// ConnectTimeout is the connect timeout Configure set last.
func (ep *Endpoint) ConnectTimeout() time.Duration { return time.Duration(ep.connectTimeout.Load()) }

// BreakerSettings are the settings of the installed circuit breaker;
// ok is false when breakers are disabled.
func (ep *Endpoint) BreakerSettings() (cfg configs.Breaker, ok bool) {
	if b := ep.brk.Load(); b != nil {
		return b.cfg, true
	}
	return configs.Breaker{}, false
}
