package grpcproxy

import (
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// endpoint is one upstream gRPC address and its *grpc.ClientConn (HTTP/2,
// plaintext), shared by every version listing the address and kept across
// reloads while any does. A request holds it (acquire … release) for its
// call, so a reload that drops the address closes the connection only
// once the calls on it have ended.
type endpoint struct {
	addr string
	cc   *grpc.ClientConn
	log  *slog.Logger

	// brk is the circuit breaker (breaker.go); nil when the deciding model
	// disables breakers. openUntil is the Unix time in ns until which it
	// is open (0 when closed or half-open), read by the picker without
	// the breaker's lock.
	brk       atomic.Pointer[breaker]
	openUntil atomic.Int64
	// down is set while active health checks (health.go) say the address
	// is unhealthy; only the checker owning the verdict writes it.
	down   atomic.Bool
	health health

	mu      sync.Mutex
	calls   int64 // calls holding it
	retired bool  // no longer configured: closes when calls reaches 0
	closed  bool
}

// acquire reports whether e may carry a call (it is not closed), and
// counts the call until release.
func (e *endpoint) acquire() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	e.calls++
	return true
}

func (e *endpoint) release() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls--
	e.closeIfDone()
}

// load is the calls in flight, for the balancer.
func (e *endpoint) load() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls
}

func (e *endpoint) retire() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.retired = true
	e.closeIfDone()
}

// closeIfDone closes the connection of a retired endpoint without calls.
// Called with e.mu held.
func (e *endpoint) closeIfDone() {
	if e.retired && e.calls == 0 && !e.closed {
		e.closed = true
		e.cc.Close()
	}
}

// endpoints is the registry of upstream connections by address. Only
// Apply (under Proxy.applyMu) and Close use it; requests reach endpoints
// through the snapshot.
type endpoints struct {
	log    *slog.Logger
	maxMsg int // server.max_answer_bytes: the largest answer read
	byAddr map[string]*endpoint
	// stopped are health checkers stopped by a reload whose goroutines
	// may not have returned yet; closeAll waits for them.
	stopped []*checker
}

func newEndpoints(log *slog.Logger, maxAnswer int) *endpoints {
	return &endpoints{log: log, maxMsg: maxAnswer, byAddr: map[string]*endpoint{}}
}

// get returns the endpoint of addr, creating its ClientConn (which dials
// lazily, on the first call) when new.
func (es *endpoints) get(addr string, used map[string]bool) (*endpoint, error) {
	used[addr] = true
	if e := es.byAddr[addr]; e != nil {
		return e, nil
	}
	cc, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{}), grpc.MaxCallRecvMsgSize(es.maxMsg)))
	if err != nil {
		return nil, err
	}
	e := &endpoint{addr: addr, cc: cc, log: es.log.With("grpc_endpoint", addr)}
	es.byAddr[addr] = e
	return e, nil
}

// sweep stops the health checker of every endpoint not in used and
// retires it (it closes once its calls end), and forgets the stopped
// checkers that have returned.
func (es *endpoints) sweep(used map[string]bool) {
	for addr, e := range es.byAddr {
		if !used[addr] {
			delete(es.byAddr, addr)
			e.stopHealth(&es.stopped)
			e.retire()
		}
	}
	es.stopped = slices.DeleteFunc(es.stopped, (*checker).exited)
}

// closeAll retires every endpoint and waits until every health checker's
// goroutine has returned (a check in progress is canceled).
func (es *endpoints) closeAll() {
	es.sweep(nil)
	for _, c := range es.stopped {
		<-c.done
	}
	es.stopped = nil
}
