package grpcproxy

import (
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/gateway/upstream"
	"github.com/sony/gobreaker/v2"
)

// breaker is an endpoint's circuit breaker (sony/gobreaker v2), built from
// the breaker settings of the first model (in config order) listing its
// address, as the REST gateway's endpoints are. What counts as a failure
// is verdict's. It opens after consecutive_failures failures in a row, or
// when at least min_requests calls in the rolling interval failed at
// failure_ratio or more; after open_for one call is let through
// (half-open): success closes it, failure opens it again.
// breaker.server_errors does not apply: gRPC containers answer bad input
// with INVALID_ARGUMENT, so INTERNAL and UNKNOWN are failures.
type breaker struct {
	cfg configs.Breaker
	cb  *gobreaker.CircuitBreaker[struct{}]
}

// setBreaker installs a breaker built from cfg, unless one with the same
// settings is installed already (its state is then kept: a reload does not
// close an open breaker). Called by Apply only.
func (e *endpoint) setBreaker(cfg configs.Breaker) {
	old := e.brk.Load()
	if cfg.Disabled {
		e.brk.Store(nil)
		e.openUntil.Store(0)
		return
	}
	if old != nil && old.cfg.SameTrip(cfg) {
		return
	}
	b := &breaker{cfg: cfg}
	b.cb = gobreaker.NewCircuitBreaker[struct{}](upstream.BreakerSettings(e.addr, cfg, errExcluded, func(from, to gobreaker.State) {
		if to == gobreaker.StateOpen {
			e.openUntil.Store(time.Now().Add(cfg.OpenFor).UnixNano())
			e.log.Warn("gRPC endpoint circuit breaker opened", "from", from.String(), "open_for", cfg.OpenFor.String())
			return
		}
		e.openUntil.Store(0)
		e.log.Info("gRPC endpoint circuit breaker state changed", "from", from.String(), "to", to.String())
	}))
	e.brk.Store(b)
	e.openUntil.Store(0)
}

// guard runs attempt through the endpoint's breaker and reports whether
// the breaker admitted it; attempt returns its verdict. Without a breaker
// every attempt is admitted.
func (e *endpoint) guard(attempt func() error) (admitted bool) {
	b := e.brk.Load()
	if b == nil {
		_ = attempt()
		return true
	}
	_, err := b.cb.Execute(func() (struct{}, error) { return struct{}{}, attempt() })
	return err != gobreaker.ErrOpenState && err != gobreaker.ErrTooManyRequests
}
