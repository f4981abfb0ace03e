package tenants

import (
	"sync"
	"time"
)

// TokenBucket is a budget of LLM tokens per minute (limits.tokens_per_minute):
// perMinute tokens at most, refilled continuously at perMinute/60 per
// second, starting full. A request reserves its estimate before its call
// (Reserve: all of it or nothing, atomically, so concurrent requests never
// together take more than the bucket holds) and settles its real usage
// after (Settle: the difference refunded or charged; a charge may take the
// level below zero, a debt later requests wait for). Pure: the clock is
// passed in. Safe for concurrent use; must not be copied.
type TokenBucket struct {
	size float64 // tokens per minute: the most the bucket holds
	rate float64 // tokens per second

	mu    sync.Mutex
	level float64
	at    time.Time // of level; zero: full
}

// NewTokenBucket returns a full bucket of perMinute tokens (> 0).
func NewTokenBucket(perMinute int) *TokenBucket {
	return &TokenBucket{size: float64(perMinute), rate: float64(perMinute) / 60, level: float64(perMinute)}
}

// refill brings the level to now. Called with mu held. A now before the
// last one (concurrent callers' clocks) adds nothing.
func (b *TokenBucket) refill(now time.Time) {
	if b.at.IsZero() {
		b.at = now
		return
	}
	if d := now.Sub(b.at); d > 0 {
		b.level = min(b.size, b.level+d.Seconds()*b.rate)
		b.at = now
	}
}

// Reserve takes n tokens (at least 1, at most the bucket's size: a request
// estimated over the whole budget waits for a full bucket) at now, or
// nothing. It returns the tokens reserved, for Settle, or, when the bucket
// holds fewer, false and how long until it holds enough. It does not
// allocate.
func (b *TokenBucket) Reserve(n int, now time.Time) (reserved int, ok bool, retryAfter time.Duration) {
	want := min(float64(max(n, 1)), b.size)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(now)
	if b.level >= want {
		b.level -= want
		return int(want), true, 0
	}
	return 0, false, time.Duration((want - b.level) / b.rate * float64(time.Second))
}

// Settle ends a reservation of reserved tokens (Reserve's result) that
// used used tokens: the difference goes back to the bucket (up to its
// size) or is taken from it (below zero if need be).
func (b *TokenBucket) Settle(reserved, used int, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(now)
	b.level = min(b.size, b.level+float64(reserved-used))
}

// Level is the tokens the bucket holds at now (negative: a debt).
func (b *TokenBucket) Level(now time.Time) float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(now)
	return b.level
}

// TokenHold is what a request holds of its tenant's and model's token
// budgets (Grant.ReserveTokens); Settle it exactly once. The zero
// TokenHold holds nothing.
type TokenHold struct {
	tenant, model *TokenBucket
	tn, mn        int
}

// ReserveTokens reserves n tokens from the budgets of g's limiters that
// have one (tokens_per_minute), the tenant's then the model's, at now:
// from both or from neither. On refusal it returns false and the wait
// until the refusing budget holds enough. It does not allocate.
func (g Grant) ReserveTokens(n int, now time.Time) (TokenHold, bool, time.Duration) {
	var h TokenHold
	if g.Tenant != nil && g.Tenant.tokens != nil {
		r, ok, wait := g.Tenant.tokens.Reserve(n, now)
		if !ok {
			return TokenHold{}, false, wait
		}
		h.tenant, h.tn = g.Tenant.tokens, r
	}
	if g.Model != nil && g.Model.tokens != nil {
		r, ok, wait := g.Model.tokens.Reserve(n, now)
		if !ok {
			if h.tenant != nil {
				h.tenant.Settle(h.tn, 0, now)
			}
			return TokenHold{}, false, wait
		}
		h.model, h.mn = g.Model.tokens, r
	}
	return h, true, 0
}

// Holds reports whether h reserved anything.
func (h TokenHold) Holds() bool { return h.tenant != nil || h.model != nil }

// Settle ends h's reservations with the tokens the request used.
func (h TokenHold) Settle(used int, now time.Time) {
	if h.tenant != nil {
		h.tenant.Settle(h.tn, used, now)
	}
	if h.model != nil {
		h.model.Settle(h.mn, used, now)
	}
}
