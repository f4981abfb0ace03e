package shadow

import (
	"sync"
	"sync/atomic"

	"github.com/modelgate/modelgate/internal/compare"
)

// pool is one model's shadow budget: a bounded queue, a fixed number
// of workers and a byte budget (max_queue_bytes) for the bodies its copies
// hold. It never blocks the request path: submit fails at once when the
// queue is full or the pool is stopped. With max_queue 0 the queue is an
// unbuffered channel: a copy is taken only by a worker waiting right now.
type pool struct {
	key  poolKey
	jobs chan *Job
	done chan struct{}
	// held counts the request and primary-answer body bytes of this
	// pool's copies from capture until they are released (sent, failed or
	// dropped); reserve keeps it at most key.maxBytes.
	held atomic.Int64

	mu      sync.RWMutex // guards stopped against submit racing stop
	stopped bool
}

// poolKey identifies a pool: a reload that leaves all of it unchanged keeps
// the pool (and its queued copies); any change replaces it.
type poolKey struct {
	tenant, model, version string
	workers, queue         int
	maxBytes               int64
}

// statsKey identifies a shadow's admin stats and metric series.
type statsKey struct{ tenant, model, version string }

// full reports whether the queue has no room (a hint; submit decides). A
// stopped pool is not "full": its copies are dropped as stopped by submit.
func (p *pool) full() bool { return cap(p.jobs) > 0 && len(p.jobs) >= cap(p.jobs) }

// reserve takes n bytes of the pool's byte budget, or reports that they do
// not fit (nothing taken).
func (p *pool) reserve(n int64) bool {
	for {
		cur := p.held.Load()
		if cur+n > p.key.maxBytes {
			return false
		}
		if p.held.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// unreserve gives back n bytes taken by reserve.
func (p *pool) unreserve(n int64) { p.held.Add(-n) }

// heldBytes is how many bytes the pool's copies hold now.
func (p *pool) heldBytes() int64 { return p.held.Load() }

// submit queues j without blocking. When it cannot (queue full, or the pool
// stopped by a reload or shutdown) it returns false and why; the caller
// still owns j then.
func (p *pool) submit(j *Job) (bool, dropReason) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.stopped {
		return false, dropStopped
	}
	select {
	case p.jobs <- j:
		return true, 0
	default:
		return false, dropQueueFull
	}
}

// isStopped reports whether stop was called.
func (p *pool) isStopped() bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.stopped
}

// stop refuses new copies and tells the workers to drop the queued ones and
// exit after their current call. It does not wait; Manager.wait does.
func (p *pool) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stopped {
		p.stopped = true
		close(p.done)
	}
}

// worker is what one pool worker keeps for all its jobs: a Comparer
// (reused parsers) and a decoder (reused buffers).
type worker struct {
	cmp *compare.Comparer
	dec decoder
}

// work is one worker's loop.
func (p *pool) work(run func(*Job, *worker)) {
	w := &worker{cmp: compare.New()}
	defer w.dec.close()
	for {
		select {
		case <-p.done:
			p.drain()
			return
		default:
		}
		select {
		case j := <-p.jobs:
			run(j, w)
		case <-p.done:
			p.drain()
			return
		}
	}
}

// drain drops every queued copy, counting it as dropped (stopped).
func (p *pool) drain() {
	for {
		select {
		case j := <-p.jobs:
			j.route.drop(dropStopped)
			j.release()
		default:
			return
		}
	}
}
