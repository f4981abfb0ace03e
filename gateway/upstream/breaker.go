package upstream

import (
	"errors"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/observability"
	"github.com/sony/gobreaker/v2"
)

// breaker is an endpoint's circuit breaker (sony/gobreaker v2). What
// counts as a failure is Outcome.Verdict's and Endpoint.Judge's: connection
// errors, timeouts, broken answers, 502 and 504 are failures; 4xx, 501 and
// 505 answers are successes (a tenant's bad request must not open it); a
// 500 or 503 only when another tenant's corroborates it (by default); a
// request that found the connection pool exhausted is not counted. It opens after
// consecutive_failures failures in a row, or when at least min_requests
// requests in the rolling interval failed at failure_ratio or more; after
// open_for one request is let through (half-open): success closes it,
// failure opens it again.
type breaker struct {
	cfg configs.Breaker
	cb  *gobreaker.CircuitBreaker[struct{}]
}

// Breaker verdicts other than success (nil): what Outcome.Verdict returns
// and Guard's attempt passes back.
var (
	ErrFailure  = errors.New("upstream failure")
	ErrExcluded = errors.New("not the endpoint's fault")
	// ErrServerError is a 500 or 503 answer before Judge decides whether
	// it counts; Guard never sees it.
	ErrServerError = errors.New("server error answer")
)

// BreakerSettings are the gobreaker settings of an endpoint's breaker,
// REST or gRPC: one half-open probe; cfg.Interval as the rolling window
// in ten buckets; open for cfg.OpenFor; tripping on
// cfg.ConsecutiveFailures failures in a row, or on a share of failures of
// at least cfg.FailureRatio once cfg.MinRequests were seen in the window.
// Errors equal to excluded count neither way. onChange is called with the
// breaker's lock held: it must not call back into the breaker.
func BreakerSettings(name string, cfg configs.Breaker, excluded error, onChange func(from, to gobreaker.State)) gobreaker.Settings {
	return gobreaker.Settings{
		Name:         name,
		MaxRequests:  1,
		Interval:     cfg.Interval,
		BucketPeriod: cfg.Interval / 10,
		Timeout:      cfg.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			if c.ConsecutiveFailures >= cfg.ConsecutiveFailures {
				return true
			}
			done := c.TotalSuccesses + c.TotalFailures
			return c.Requests >= cfg.MinRequests && done > 0 &&
				float64(c.TotalFailures) >= cfg.FailureRatio*float64(done)
		},
		IsExcluded:    func(err error) bool { return err == excluded },
		OnStateChange: func(_ string, from, to gobreaker.State) { onChange(from, to) },
	}
}

// setBreaker installs a breaker built from cfg, unless one with the same
// settings is installed already (its state is then kept). Called by the
// reload path only.
func (ep *Endpoint) setBreaker(cfg configs.Breaker) {
	old := ep.brk.Load()
	if cfg.Disabled {
		ep.brk.Store(nil)
		ep.openUntil.Store(0)
		return
	}
	if old != nil && old.cfg.SameTrip(cfg) {
		return
	}
	b := &breaker{cfg: cfg}
	b.cb = gobreaker.NewCircuitBreaker[struct{}](BreakerSettings(ep.url, cfg, ErrExcluded, func(from, to gobreaker.State) {
		if to == gobreaker.StateOpen {
			ep.openUntil.Store(time.Now().Add(cfg.OpenFor).UnixNano())
			ep.log.Warn("circuit breaker opened", "from", from.String(), "open_for", cfg.OpenFor.String())
			return
		}
		ep.openUntil.Store(0)
		ep.log.Info("circuit breaker state changed", "from", from.String(), "to", to.String())
	}))
	ep.brk.Store(b)
	ep.openUntil.Store(0)
	if old != nil {
		ep.log.Info("circuit breaker settings changed; new breaker starts closed")
	}
}

// Judge is the breaker's verdict on an attempt of caller (a tenant's
// nonzero id) at now (Unix ns) whose Outcome.Verdict is v: v itself,
// except for ErrServerError, which under breaker.server_errors
// "corroborated" is a failure only when Corroborated (the endpoint's
// previous 500 or 503, within the breaker's interval, went to another
// caller) and otherwise ErrExcluded, and under "failure" is a failure.
// Without a breaker it returns v unchanged. It allocates nothing.
func (ep *Endpoint) Judge(v error, caller uint64, now int64) error {
	if v != ErrServerError {
		return v
	}
	b := ep.brk.Load()
	if b == nil || b.cfg.ServerErrors == configs.ServerErrorsFailure {
		return ErrFailure
	}
	prev, prevAt := ep.errCaller.Swap(caller), ep.errAt.Swap(now)
	if Corroborated(prev, prevAt, caller, now, b.cfg.Interval) {
		return ErrFailure
	}
	return ErrExcluded
}

// Guard runs attempt through the endpoint's breaker and reports whether the
// breaker admitted it. attempt returns its verdict for the breaker: nil for
// success, ErrFailure or ErrExcluded. Without a breaker every
// attempt is admitted.
func (ep *Endpoint) Guard(attempt func() error) (admitted bool) {
	b := ep.brk.Load()
	if b == nil {
		_ = attempt()
		return true
	}
	_, err := b.cb.Execute(func() (struct{}, error) { return struct{}{}, attempt() })
	return err != gobreaker.ErrOpenState && err != gobreaker.ErrTooManyRequests
}

// BreakerState returns the state for modelgate_breaker_state.
func (ep *Endpoint) BreakerState() int {
	b := ep.brk.Load()
	if b == nil {
		return observability.BreakerClosed
	}
	switch b.cb.State() {
	case gobreaker.StateOpen:
		return observability.BreakerOpen
	case gobreaker.StateHalfOpen:
		return observability.BreakerHalfOpen
	default:
		return observability.BreakerClosed
	}
}
