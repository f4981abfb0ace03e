package gateway

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"syscall"

	"github.com/valyala/fasthttp"
)

// outcome classifies one upstream attempt (or a version's last attempt).
type outcome uint8

const (
	// answered: the model answered (any status but 503); passed through.
	answered outcome = iota
	// unavailable: the model answered 503. Retried; the answer is passed
	// through if it is the last.
	unavailable
	// connFailed: no response byte came back (connection refused or reset,
	// closed before answering, connect timeout). Retried.
	connFailed
	// timedOut: no complete answer by the attempt's deadline. Retried only
	// with retry.on_timeout.
	timedOut
	// busy: the endpoint's connection pool stayed exhausted. Retried; not
	// held against the endpoint's breaker.
	busy
	// failed: a broken answer (malformed, cut mid-body). Not retried.
	failed
	// noEndpoint: the version had no available endpoint to try.
	noEndpoint
)

// classify maps the result of HostClient.Do to an outcome.
func classify(err error, status int) outcome {
	switch {
	case err != nil:
		return classifyErr(err)
	case status == fasthttp.StatusServiceUnavailable:
		return unavailable
	default:
		return answered
	}
}

// classifyErr is classify for a failed call (apart, so the success path
// does not allocate errors.As targets).
func classifyErr(err error) outcome {
	var dialErr *fasthttp.ErrDialWithUpstream
	var dnsErr *net.DNSError
	var ne net.Error
	switch {
	case errors.As(err, &dialErr), errors.As(err, &dnsErr), errors.Is(err, fasthttp.ErrDialTimeout):
		return connFailed
	case errors.Is(err, fasthttp.ErrTimeout), errors.As(err, &ne) && ne.Timeout():
		return timedOut
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return busy
	case errors.Is(err, fasthttp.ErrConnectionClosed), errors.Is(err, io.EOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return connFailed
	default:
		return failed
	}
}

// retryable reports whether another endpoint may be tried after o.
func (o outcome) retryable(onTimeout bool) bool {
	switch o {
	case unavailable, connFailed, busy:
		return true
	case timedOut:
		return onTimeout
	default:
		return false
	}
}

// verdict is what the endpoint's breaker records for o with the answer's
// status: 5xx answers, connection errors, timeouts and broken answers are
// failures; 4xx and other answers are successes; an exhausted pool is
// nobody's fault.
func (o outcome) verdict(status int) error {
	switch o {
	case answered:
		if status >= 500 {
			return errBreakerFailure
		}
		return nil
	case busy:
		return errBreakerExcluded
	default:
		return errBreakerFailure
	}
}

// Retry budget: each request deposits retry.budget tokens (0.2 by default)
// and each retry spends one, so retries add at most that share of upstream
// load once the reserve is spent. The reserve lets a quiet model retry a
// few failures at once (not with budget 0: no retries).
const (
	budgetScale   = 1000 // milli-tokens per token
	budgetReserve = 10   // tokens a model starts with and may hold at most
)

// retryBudget is a model's retry budget. It survives reloads that keep the
// model and its budget ratio. Safe for concurrent use.
type retryBudget struct {
	ratio      float64
	perRequest int64 // milli-tokens
	balance    atomic.Int64
}

// newRetryBudget returns a budget of ratio retries per request with the
// reserve; ratio 0 (retry.budget: 0) never allows a retry, so it gets no
// reserve either.
func newRetryBudget(ratio float64) *retryBudget {
	b := &retryBudget{ratio: ratio, perRequest: int64(ratio * budgetScale)}
	if ratio > 0 {
		b.balance.Store(budgetReserve * budgetScale)
	}
	return b
}

// deposit credits one request.
func (b *retryBudget) deposit() {
	if b.balance.Load() < budgetReserve*budgetScale {
		b.balance.Add(b.perRequest)
	}
}

// withdraw takes one retry's token and reports whether there was one.
func (b *retryBudget) withdraw() bool {
	for {
		v := b.balance.Load()
		if v < budgetScale {
			return false
		}
		if b.balance.CompareAndSwap(v, v-budgetScale) {
			return true
		}
	}
}

// refund returns a token taken for a retry that did not happen.
func (b *retryBudget) refund() { b.balance.Add(budgetScale) }
