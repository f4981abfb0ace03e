package tenants

import (
	"math"
	"sync"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/internal/keyed"
	"golang.org/x/time/rate"
)

// Outcome is what a Limiter decided about one request.
type Outcome uint8

// The outcomes of Limiter.Acquire.
const (
	// Admitted: the request holds a slot until Release.
	Admitted Outcome = iota
	// RateLimited: the token bucket is empty; retry after Decision.RetryAfter.
	RateLimited
	// Concurrency: MaxInFlight requests are running and the queue is full,
	// or the request waited MaxQueueWait in the queue without getting a slot.
	Concurrency
)

// Decision is the result of Limiter.Acquire.
type Decision struct {
	Outcome Outcome
	// RetryAfter, for RateLimited, is how long until a token is available.
	RetryAfter time.Duration
	// Queued reports that the request waited in the FIFO queue; Waited is
	// how long (whatever the outcome).
	Queued bool
	Waited time.Duration
}

// RetryAfterSeconds is RetryAfter rounded up to whole seconds, at least 1:
// the value of a Retry-After header.
func (d Decision) RetryAfterSeconds() int64 {
	s := int64(math.Ceil(d.RetryAfter.Seconds()))
	return max(s, 1)
}

// Limiter is the admission control of one tenant or one tenant's model: a
// token bucket (requests_per_second, burst), a concurrency cap
// (max_in_flight) with a bounded FIFO wait queue (max_queue,
// max_queue_wait), and a budget of LLM tokens (tokens_per_minute,
// TokenBucket, taken by Grant.ReserveTokens). Zero limits mean unlimited. Safe for concurrent use; must
// not be copied.
type Limiter struct {
	limits configs.Limits
	bucket *rate.Limiter // nil: no local rate limit
	tokens *TokenBucket  // nil: no tokens_per_minute (tokens.go); always this replica's
	// shared, for a global-scope rate limit, is the bucket every replica
	// shares; fallback decides while it is unavailable.
	shared   SharedBucket
	fallback *fallbackBucket

	queued Gauge // told the queue length; never nil

	mu       sync.Mutex
	inFlight int
	queue    []*waiter // FIFO; waiters removed on grant or timeout
}

// Gauge is told a Limiter's queue length (a Prometheus gauge fits).
type Gauge interface {
	Inc()
	Dec()
}

type noGauge struct{}

func (noGauge) Inc() {}
func (noGauge) Dec() {}

type waiter struct {
	ready   chan struct{} // closed when granted a slot
	granted bool          // guarded by Limiter.mu
}

// NewLimiter returns a limiter for l (defaults applied). queued, if not nil,
// follows the length of its wait queue.
func NewLimiter(l configs.Limits, queued Gauge) *Limiter {
	if queued == nil {
		queued = noGauge{}
	}
	lim := &Limiter{limits: l, queued: queued}
	if l.RequestsPerSecond > 0 {
		lim.bucket = rate.NewLimiter(rate.Limit(l.RequestsPerSecond), max(l.Burst, 1))
	}
	if l.TokensPerMinute > 0 {
		lim.tokens = NewTokenBucket(l.TokensPerMinute)
	}
	return lim
}

// NewSharedLimiter is NewLimiter for global-scope limits: the rate limit
// is shared's (a bucket of every replica), falling back to a local rule
// when shared is unavailable (SharedBucket.Unavailable); the concurrency
// cap and queue stay this replica's own. A nil shared makes it NewLimiter.
func NewSharedLimiter(l configs.Limits, queued Gauge, shared SharedBucket) *Limiter {
	lim := NewLimiter(l, queued)
	if shared != nil && lim.bucket != nil {
		lim.bucket = nil
		lim.shared = shared
		lim.fallback = newFallbackBucket(l)
	}
	return lim
}

// Limits returns the limits the limiter enforces.
func (l *Limiter) Limits() configs.Limits { return l.limits }

// InFlight returns how many requests hold a slot now.
func (l *Limiter) InFlight() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inFlight
}

// TakeToken takes one token from the bucket at now. If the bucket is empty it
// takes nothing and returns false with the time until a token is available.
// A local bucket does not allocate; a shared one (NewSharedLimiter) makes
// one call to its store, or none while the store is known down.
func (l *Limiter) TakeToken(now time.Time) (bool, time.Duration) {
	if l.shared != nil {
		return l.takeShared(now)
	}
	if l.bucket == nil || l.bucket.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - l.bucket.TokensAt(now)
	return false, time.Duration(missing / float64(l.bucket.Limit()) * float64(time.Second))
}

// Acquire decides on one request: a token from the bucket, then a
// concurrency slot, waiting in FIFO order up to MaxQueueWait if MaxInFlight
// requests run and fewer than MaxQueue wait. An Admitted request must call
// Release exactly once when done; any other outcome holds nothing.
func (l *Limiter) Acquire(now time.Time) Decision {
	if ok, wait := l.TakeToken(now); !ok {
		return Decision{Outcome: RateLimited, RetryAfter: wait}
	}
	return l.AcquireSlot()
}

// AcquireSlot is Acquire without the token bucket: it takes (or waits for) a
// concurrency slot only.
func (l *Limiter) AcquireSlot() Decision {
	max := l.limits.MaxInFlight
	if max <= 0 {
		return Decision{}
	}
	l.mu.Lock()
	if l.inFlight < max && len(l.queue) == 0 {
		l.inFlight++
		l.mu.Unlock()
		return Decision{}
	}
	if len(l.queue) >= l.limits.MaxQueue || l.limits.MaxQueueWait <= 0 {
		l.mu.Unlock()
		return Decision{Outcome: Concurrency}
	}
	w := &waiter{ready: make(chan struct{})}
	l.queue = append(l.queue, w)
	l.queued.Inc()
	l.mu.Unlock()

	start := time.Now()
	timer := time.NewTimer(l.limits.MaxQueueWait)
	defer timer.Stop()
	select {
	case <-w.ready:
		return Decision{Queued: true, Waited: time.Since(start)}
	case <-timer.C:
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if w.granted {
		// Granted as the timer fired: the slot is ours.
		return Decision{Queued: true, Waited: time.Since(start)}
	}
	for i, q := range l.queue {
		if q == w {
			l.queue = append(l.queue[:i], l.queue[i+1:]...)
			l.queued.Dec()
			break
		}
	}
	return Decision{Outcome: Concurrency, Queued: true, Waited: time.Since(start)}
}

// Release frees the slot of an Admitted request, handing it to the oldest
// waiter if any.
func (l *Limiter) Release() {
	if l.limits.MaxInFlight <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.queue) > 0 {
		w := l.queue[0]
		l.queue[0] = nil
		l.queue = l.queue[1:]
		w.granted = true
		l.queued.Dec()
		close(w.ready) // the slot passes on: inFlight unchanged
		return
	}
	l.inFlight--
}

// Grant is what a request admitted by a tenant's and a model's limiters
// holds: their concurrency slots (nil: none), and the limiters whose
// token budgets it may reserve from (ReserveTokens). Release it exactly once when
// the request is done. The zero Grant holds nothing.
type Grant struct{ Tenant, Model *Limiter }

// Release frees the slots of g.
func (g Grant) Release() {
	if g.Tenant != nil {
		g.Tenant.Release()
	}
	if g.Model != nil {
		g.Model.Release()
	}
}

// Admission holds the limiters of every tenant and every model with
// limits, in a store of the gateway's keyed.Set, keyed by name and limits.
// Build makes the set for a new config in a generation, keeping the
// limiter (bucket state, in-flight count, queue) of each tenant or model
// whose limits did not change; the generation's Commit drops the others.
// Build must not be called concurrently; the limiters it returns are safe
// for concurrent use.
type Admission struct {
	byKey *keyed.Store[admissionKey, *Limiter]
	// QueueGauge, if set, returns the gauge a new limiter reports its queue
	// length to (model "" for a tenant's limiter).
	QueueGauge func(tenant, model string) Gauge
	// Shared, if set, holds the buckets of global-scope limits. Nil: a
	// global-scope limit is enforced by each replica alone, as local.
	Shared SharedStore
}

// admissionKey names a limiter: model "" for the tenant itself. Limits are
// part of the key, so changed limits make a new limiter.
type admissionKey struct {
	tenant, model string
	limits        configs.Limits
}

// NewAdmission returns an empty set whose limiters live in a store of set.
func NewAdmission(set *keyed.Set) *Admission {
	return &Admission{byKey: keyed.Register[admissionKey, *Limiter](set, nil)}
}

// Len is the number of limiters held.
func (a *Admission) Len() int { return a.byKey.Len() }

// Build returns the limiters for cfg, taken in generation gen: Tenant(i)
// and Model(i, j) on the result. A tenant or model without limits (all
// zero) gets none. Limiters of unchanged limits are carried over; the
// others start fresh (requests still holding a slot of a replaced limiter
// release it there).
func (a *Admission) Build(gen *keyed.Gen, cfg *configs.Config) *Limiters {
	out := &Limiters{tenants: make([]*Limiter, len(cfg.Tenants)), models: make([][]*Limiter, len(cfg.Tenants))}
	get := func(k admissionKey) *Limiter {
		if k.limits.Unlimited() {
			return nil
		}
		return keyed.Get(a.byKey, gen, k, func() *Limiter {
			var g Gauge
			if a.QueueGauge != nil {
				g = a.QueueGauge(k.tenant, k.model)
			}
			if a.Shared != nil && k.limits.Global() && k.limits.RequestsPerSecond > 0 {
				name := k.tenant
				if k.model != "" {
					name += "/" + k.model
				}
				return NewSharedLimiter(k.limits, g, a.Shared.Bucket(name, k.limits.RequestsPerSecond, max(k.limits.Burst, 1)))
			}
			return NewLimiter(k.limits, g)
		})
	}
	for i := range cfg.Tenants {
		t := &cfg.Tenants[i]
		out.tenants[i] = get(admissionKey{tenant: t.Name, limits: t.Limits})
		out.models[i] = make([]*Limiter, len(t.Models))
		for j := range t.Models {
			if ml := t.Models[j].Limits; ml != nil {
				out.models[i][j] = get(admissionKey{t.Name, t.Models[j].Name, *ml})
			}
		}
	}
	return out
}

// Limiters is the result of Admission.Build, indexed like cfg.Tenants.
type Limiters struct {
	tenants []*Limiter
	models  [][]*Limiter
}

// Tenant returns tenant i's limiter, nil if it has no limits.
func (ls *Limiters) Tenant(i int) *Limiter { return ls.tenants[i] }

// Model returns the limiter of tenant i's model j, nil if it has no limits.
func (ls *Limiters) Model(i, j int) *Limiter { return ls.models[i][j] }
