// Package retry holds the pure retry decisions of the request path: the
// per-model retry budget. No I/O; safe for concurrent use.
package retry

import "sync/atomic"

// Retry budget: each request deposits retry.budget tokens (0.2 by default)
// and each retry spends one, so retries add at most that share of upstream
// load once the reserve is spent. The reserve lets a quiet model retry a
// few failures at once (not with budget 0: no retries).
const (
	scale   = 1000 // milli-tokens per token
	Reserve = 10   // tokens a model starts with and may hold at most
)

// Budget is a model's retry budget. It survives reloads that keep the
// model and its budget ratio. Safe for concurrent use.
type Budget struct {
	ratio      float64
	perRequest int64 // milli-tokens
	balance    atomic.Int64
}

// New returns a budget of ratio retries per request with the
// reserve; ratio 0 (retry.budget: 0) never allows a retry, so it gets no
// reserve either.
func New(ratio float64) *Budget {
	b := &Budget{ratio: ratio, perRequest: int64(ratio * scale)}
	if ratio > 0 {
		b.balance.Store(Reserve * scale)
	}
	return b
}

// Deposit credits one request.
func (b *Budget) Deposit() {
	if b.balance.Load() < Reserve*scale {
		b.balance.Add(b.perRequest)
	}
}

// Withdraw takes one retry's token and reports whether there was one.
func (b *Budget) Withdraw() bool {
	for {
		v := b.balance.Load()
		if v < scale {
			return false
		}
		if b.balance.CompareAndSwap(v, v-scale) {
			return true
		}
	}
}

// Refund returns a token taken for a retry that did not happen.
func (b *Budget) Refund() { b.balance.Add(scale) }

// Ratio is the configured retry.budget the budget was made with.
func (b *Budget) Ratio() float64 { return b.ratio }
