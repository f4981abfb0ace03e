package gateway

import (
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/valyala/fasthttp"
)

// endpoint is one model container replica. Its state (connection pool,
// in-flight count) lives in the registry keyed by URL, so it outlives config
// reloads: a reload that keeps an endpoint keeps its pool and its load.
type endpoint struct {
	url    string
	host   []byte // host[:port] as written in the URL, sent as Host
	client *fasthttp.HostClient

	inFlight       atomic.Int64
	connectTimeout atomic.Int64 // nanoseconds; the smallest of the models using it
}

func newEndpoint(raw string) *endpoint {
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
	ep := &endpoint{url: raw, host: []byte(u.Host)}
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
		Dial: func(addr string) (net.Conn, error) {
			return fasthttp.DialTimeout(addr, time.Duration(ep.connectTimeout.Load()))
		},
		// A reused keep-alive connection the container closed before any
		// response byte is retried once on a fresh connection (within the
		// request deadline). Nothing else is retried here.
		RetryIfErr: func(_ *fasthttp.Request, attempts int, _ error) (bool, bool) {
			return false, attempts < 2
		},
	}
	return ep
}

// registry owns every endpoint, keyed by URL. Only the reload path mutates
// it; the request path reaches endpoints through the routing snapshot.
type registry struct {
	mu  sync.Mutex
	eps map[string]*endpoint
}

func newRegistry() *registry { return &registry{eps: map[string]*endpoint{}} }

// get returns the endpoint for url, creating it if new.
func (r *registry) get(url string) *endpoint {
	r.mu.Lock()
	defer r.mu.Unlock()
	ep, ok := r.eps[url]
	if !ok {
		ep = newEndpoint(url)
		r.eps[url] = ep
	}
	return ep
}

// retain releases every endpoint not in keep: its idle connections are
// closed; requests still in flight on an old snapshot finish normally.
func (r *registry) retain(keep map[string]bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for u, ep := range r.eps {
		if !keep[u] {
			ep.client.CloseIdleConnections()
			delete(r.eps, u)
		}
	}
}

// closeAll releases every endpoint (shutdown).
func (r *registry) closeAll() { r.retain(nil) }

// pickP2C chooses between two random endpoints the one with fewer requests
// in flight (power of two choices).
func pickP2C(eps []*endpoint) *endpoint {
	switch n := len(eps); n {
	case 0:
		return nil
	case 1:
		return eps[0]
	default:
		i := rand.IntN(n)
		j := rand.IntN(n - 1)
		if j >= i {
			j++
		}
		a, b := eps[i], eps[j]
		if b.inFlight.Load() < a.inFlight.Load() {
			return b
		}
		return a
	}
}
