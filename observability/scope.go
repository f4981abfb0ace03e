package observability

import (
	"slices"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// reasons are the rejection reasons a Scope keeps a counter slot for;
// any other reason is counted too, through a slower locked path.
var reasons = [...]string{
	ReasonUnauthorized, ReasonNotFound, ReasonBadRequest, ReasonBodyTooLarge, ReasonHeaderTooLarge,
	ReasonTimeout, ReasonMethod, ReasonRateLimited, ReasonConcurrency, ReasonNoEndpoint, ReasonTokenLimited,
}

func reasonIndex(reason string) int {
	for i, r := range reasons {
		if r == reason {
			return i
		}
	}
	return -1
}

// Scope holds the series of one configured tenant (model "") or one
// tenant's model that are not per version: rejections by reason, the
// admission queue, and (models) fallbacks between its versions. Get it
// from Metrics.Scope; it stays valid until Metrics.ForgetScope. Children
// are created on first use (see series.go).
type Scope struct {
	m             *Metrics
	tenant, model string
	// Guarded by m.mu.
	retired    bool
	other      map[string]prometheus.Counter // reasons not in reasons
	queueEpoch uint32                        // bumped by ForgetQueue

	rejects   [len(reasons)]atomic.Pointer[prometheus.Counter]
	queue     atomic.Pointer[queueHandles]
	fallbacks atomic.Pointer[[]fallbackCounter] // copy-on-write
}

// Rejected counts one request of this scope refused for reason.
func (sc *Scope) Rejected(reason string) {
	if i := reasonIndex(reason); i >= 0 {
		Rejection{sc, i}.Inc()
		return
	}
	sc.otherReason(reason).Inc()
}

// Rejection returns the handle of reason's counter (one of the Reason
// constants), so the request path neither looks up nor hashes.
func (sc *Scope) Rejection(reason string) Rejection {
	i := reasonIndex(reason)
	if i < 0 {
		panic("observability: unknown rejection reason " + reason)
	}
	return Rejection{sc, i}
}

func (sc *Scope) otherReason(reason string) prometheus.Counter {
	sc.m.mu.Lock()
	defer sc.m.mu.Unlock()
	if sc.retired {
		return discardCounter
	}
	c := sc.other[reason]
	if c == nil {
		if sc.other == nil {
			sc.other = map[string]prometheus.Counter{}
		}
		c = sc.m.rejected.WithLabelValues(sc.tenant, sc.model, reason)
		sc.other[reason] = c
	}
	return c
}

// Rejection is one rejection counter of a Scope.
type Rejection struct {
	sc *Scope
	i  int
}

// Inc adds one.
func (r Rejection) Inc() {
	if c := r.sc.rejects[r.i].Load(); c != nil {
		(*c).Inc()
		return
	}
	r.create().Inc()
}

func (r Rejection) create() prometheus.Counter {
	sc := r.sc
	sc.m.mu.Lock()
	defer sc.m.mu.Unlock()
	if c := sc.rejects[r.i].Load(); c != nil {
		return *c
	}
	if sc.retired {
		return discardCounter
	}
	c := sc.m.rejected.WithLabelValues(sc.tenant, sc.model, reasons[r.i])
	sc.rejects[r.i].Store(&c)
	return c
}

// queueHandles are the children of one admission queue, made for one
// queue epoch: the gauge when the queue's limits are attached (Queue), the
// wait histogram when a request first waits.
type queueHandles struct {
	epoch  uint32
	queued prometheus.Gauge
	wait   atomic.Pointer[prometheus.Observer]
}

var discardQueue = func() *queueHandles {
	h := &queueHandles{queued: discardGauge}
	var w prometheus.Observer = discardHistogram
	h.wait.Store(&w)
	return h
}()

// Queue returns the handles of the scope's admission queue, creating its
// modelgate_queued_requests gauge (at 0): unlike the other series it exists
// while the limits do, so that autoscaling sums such as in-flight plus
// queued have a value before anything waited. modelgate_queue_wait_seconds
// is created by the first wait. Handles taken before a ForgetQueue record
// into discarded metrics.
func (sc *Scope) Queue() QueueSeries {
	sc.m.mu.Lock()
	defer sc.m.mu.Unlock()
	e := sc.queueEpoch
	sc.makeQueue(e)
	return QueueSeries{Queued: QueueGauge{sc, e}, Wait: QueueObserver{sc, e}}
}

func (sc *Scope) queueHandles(epoch uint32) *queueHandles {
	if h := sc.queue.Load(); h != nil && h.epoch == epoch {
		return h
	}
	sc.m.mu.Lock()
	defer sc.m.mu.Unlock()
	return sc.makeQueue(epoch)
}

// makeQueue returns the queue's handles for epoch, creating the gauge.
// Called with m.mu held.
func (sc *Scope) makeQueue(epoch uint32) *queueHandles {
	if sc.retired || epoch != sc.queueEpoch {
		return discardQueue
	}
	if h := sc.queue.Load(); h != nil {
		return h
	}
	h := &queueHandles{epoch: epoch, queued: sc.m.queued.WithLabelValues(sc.tenant, sc.model)}
	sc.queue.Store(h)
	return h
}

func (sc *Scope) queueWait(epoch uint32) prometheus.Observer {
	h := sc.queueHandles(epoch)
	if w := h.wait.Load(); w != nil {
		return *w
	}
	sc.m.mu.Lock()
	defer sc.m.mu.Unlock()
	if w := h.wait.Load(); w != nil {
		return *w
	}
	if sc.queue.Load() != h { // forgotten meanwhile
		return discardHistogram
	}
	w := sc.m.queueWait.WithLabelValues(sc.tenant, sc.model)
	h.wait.Store(&w)
	return w
}

// ForgetQueue deletes the queue's series (its limits were removed); handles
// taken before record into discarded metrics.
func (sc *Scope) ForgetQueue() {
	sc.m.mu.Lock()
	defer sc.m.mu.Unlock()
	sc.forgetQueue()
}

func (sc *Scope) forgetQueue() {
	sc.queueEpoch++
	if h := sc.queue.Swap(nil); h != nil {
		sc.m.queued.DeleteLabelValues(sc.tenant, sc.model)
		if h.wait.Load() != nil {
			sc.m.queueWait.DeleteLabelValues(sc.tenant, sc.model)
		}
	}
}

// QueueSeries are one admission queue's handles.
type QueueSeries struct {
	Queued QueueGauge
	Wait   QueueObserver
}

// QueueGauge is a queue's length gauge.
type QueueGauge struct {
	sc    *Scope
	epoch uint32
}

// Inc adds one.
func (g QueueGauge) Inc() { g.sc.queueHandles(g.epoch).queued.Inc() }

// Dec subtracts one.
func (g QueueGauge) Dec() { g.sc.queueHandles(g.epoch).queued.Dec() }

// QueueObserver is a queue's wait histogram.
type QueueObserver struct {
	sc    *Scope
	epoch uint32
}

// Observe adds one wait in seconds.
func (o QueueObserver) Observe(v float64) { o.sc.queueWait(o.epoch).Observe(v) }

type fallbackCounter struct {
	from, to *Series
	c        prometheus.Counter
}

// Fallback returns the handle of the counter of requests of this model
// that version from could not serve and sent to version to (primary-role
// Series of the model's versions).
func (sc *Scope) Fallback(from, to *Series) Fallback { return Fallback{sc, from, to} }

// Fallback is one from → to fallback counter of a model.
type Fallback struct {
	sc       *Scope
	from, to *Series
}

// Inc adds one.
func (f Fallback) Inc() {
	if tbl := f.sc.fallbacks.Load(); tbl != nil {
		for i := range *tbl {
			if e := &(*tbl)[i]; e.from == f.from && e.to == f.to {
				e.c.Inc()
				return
			}
		}
	}
	f.create().Inc()
}

func (f Fallback) create() prometheus.Counter {
	sc := f.sc
	sc.m.mu.Lock()
	defer sc.m.mu.Unlock()
	var old []fallbackCounter
	if tbl := sc.fallbacks.Load(); tbl != nil {
		old = *tbl
		for _, e := range old {
			if e.from == f.from && e.to == f.to {
				return e.c
			}
		}
	}
	if sc.retired || f.from.retired || f.to.retired {
		return discardCounter
	}
	c := sc.m.Resilience.fallbacks.WithLabelValues(sc.tenant, sc.model, f.from.labels[2], f.to.labels[2])
	tbl := append(old[:len(old):len(old)], fallbackCounter{f.from, f.to, c})
	sc.fallbacks.Store(&tbl)
	return c
}

// forgetFallbacks deletes the fallback counters from or to s. Called with
// m.mu held.
func (sc *Scope) forgetFallbacks(s *Series) {
	tbl := sc.fallbacks.Load()
	if tbl == nil {
		return
	}
	keep := slices.DeleteFunc(slices.Clone(*tbl), func(e fallbackCounter) bool {
		if e.from != s && e.to != s {
			return false
		}
		sc.m.Resilience.fallbacks.DeleteLabelValues(sc.tenant, sc.model, e.from.labels[2], e.to.labels[2])
		return true
	})
	sc.fallbacks.Store(&keep)
}

// retire deletes every child sc made. Called with m.mu held.
func (sc *Scope) retire() {
	sc.retired = true
	for i := range sc.rejects {
		if sc.rejects[i].Swap(nil) != nil {
			sc.m.rejected.DeleteLabelValues(sc.tenant, sc.model, reasons[i])
		}
	}
	for reason := range sc.other {
		sc.m.rejected.DeleteLabelValues(sc.tenant, sc.model, reason)
	}
	sc.other = nil
	sc.forgetQueue()
	if tbl := sc.fallbacks.Swap(nil); tbl != nil {
		for _, e := range *tbl {
			sc.m.Resilience.fallbacks.DeleteLabelValues(sc.tenant, sc.model, e.from.labels[2], e.to.labels[2])
		}
	}
}
