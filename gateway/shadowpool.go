package gateway

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/internal/compare"
	"github.com/modelgate/modelgate/observability"
)

// shadowPool is one model's shadow budget: a bounded queue, a fixed number
// of workers and a byte budget (max_queue_bytes) for the bodies its copies
// hold. It never blocks the request path: submit fails at once when the
// queue is full or the pool is stopped. With max_queue 0 the queue is an
// unbuffered channel: a copy is taken only by a worker waiting right now.
type shadowPool struct {
	key  poolKey
	jobs chan *shadowJob
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
func (p *shadowPool) full() bool { return cap(p.jobs) > 0 && len(p.jobs) >= cap(p.jobs) }

// reserve takes n bytes of the pool's byte budget, or reports that they do
// not fit (nothing taken).
func (p *shadowPool) reserve(n int64) bool {
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
func (p *shadowPool) unreserve(n int64) { p.held.Add(-n) }

// heldBytes is how many bytes the pool's copies hold now.
func (p *shadowPool) heldBytes() int64 { return p.held.Load() }

// submit queues j without blocking. When it cannot (queue full, or the pool
// stopped by a reload or shutdown) it returns false and why; the caller
// still owns j then.
func (p *shadowPool) submit(j *shadowJob) (bool, dropReason) {
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

// stop refuses new copies and tells the workers to drop the queued ones and
// exit after their current call. It does not wait; shadows.wait does.
func (p *shadowPool) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stopped {
		p.stopped = true
		close(p.done)
	}
}

// shadowWorker is what one pool worker keeps for all its jobs: a Comparer
// (reused parsers) and a decoder (reused buffers).
type shadowWorker struct {
	cmp *compare.Comparer
	dec shadowDecoder
}

// work is one worker's loop.
func (p *shadowPool) work(run func(*shadowJob, *shadowWorker)) {
	w := &shadowWorker{cmp: compare.New()}
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
func (p *shadowPool) drain() {
	for {
		select {
		case j := <-p.jobs:
			j.route.drop(dropStopped)
			releaseShadowJob(j)
		default:
			return
		}
	}
}

// shadows owns every model's shadow pool, stats and metric series across
// reloads. Only Gateway.Apply (serialized by applyMu) and Shutdown call it.
type shadows struct {
	metrics *observability.ShadowMetrics
	all     *observability.Metrics // role="shadow" series of the request metrics
	log     *slog.Logger
	run     func(*shadowJob, *shadowWorker)

	mu    sync.Mutex
	pools map[poolKey]*shadowPool
	stats map[statsKey]*shadowStats
	wg    sync.WaitGroup // every worker of every pool, retired or not
	shut  bool
}

func newShadows(m *observability.Metrics, log *slog.Logger, run func(*shadowJob, *shadowWorker)) *shadows {
	return &shadows{metrics: m.Shadow(), all: m, log: log, run: run, pools: map[poolKey]*shadowPool{}, stats: map[statsKey]*shadowStats{}}
}

// apply sets the shadow route of every model of snap that has a shadow,
// reusing the pool whose key is unchanged and creating the others. It
// returns the pools the new snapshot no longer uses; the caller stops them
// (retire) after swapping the snapshot in. Stats and series of shadows no
// longer configured are forgotten.
func (s *shadows) apply(snap *snapshot) (retired []*shadowPool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pools := map[poolKey]*shadowPool{}
	stats := map[statsKey]*shadowStats{}
	for ti, t := range snap.cfg.Tenants {
		for mi := range t.Models {
			mc := &t.Models[mi]
			sh := mc.Shadow
			if sh == nil {
				continue
			}
			mr := snap.tenants[ti].models[mc.Name]
			vi, ok := mr.split.Lookup([]byte(sh.Version))
			if !ok { // validated by configs; defensive
				continue
			}
			sk := statsKey{t.Name, mc.Name, sh.Version}
			st := s.stats[sk]
			if st == nil {
				st = newShadowStats(s.metrics.Series(t.Name, mc.Name, sh.Version))
			}
			stats[sk] = st
			pk := poolKey{t.Name, mc.Name, sh.Version, sh.MaxInFlight, sh.QueueLen(), sh.MaxQueueBytes}
			p := s.pools[pk]
			if p == nil && !s.shut {
				p = s.start(pk)
			}
			if p == nil { // shut down: a pool that refuses everything
				p = &shadowPool{key: pk, jobs: make(chan *shadowJob), done: make(chan struct{}), stopped: true}
			}
			pools[pk] = p
			mr.shadow = newShadowRoute(t.Name, mc, mr, vi, p, st)
			mr.shadow.role = s.all.Series(t.Name, mc.Name, sh.Version, observability.RoleShadow)
		}
	}
	for k, p := range s.pools {
		if pools[k] != p {
			retired = append(retired, p)
		}
	}
	for k := range s.stats {
		if stats[k] == nil {
			s.metrics.Forget(k.tenant, k.model, k.version)
			s.all.ForgetRole(k.tenant, k.model, k.version, observability.RoleShadow)
		}
	}
	s.pools, s.stats = pools, stats
	return retired
}

func newShadowRoute(tenant string, mc *configs.Model, mr *modelRoute, vi int, p *shadowPool, st *shadowStats) *shadowRoute {
	sh := mc.Shadow
	return &shadowRoute{
		tenant:     tenant,
		model:      mc.Name,
		version:    mr.versions[vi],
		versionIdx: vi,
		percent:    sh.SharePercent(),
		maxBody:    int(min(sh.MaxBodyBytes, int64(^uint(0)>>1))),
		timeout:    sh.Timeout,
		prefix:     mr.split.Prefix(),
		opts: compare.Options{
			Tolerance:         sh.Tolerance,
			RelativeTolerance: sh.RelativeTolerance,
			IgnoreFields:      sh.IgnoreFields,
		},
		logPayloads: mc.LogPayloads,
		pool:        p,
		stats:       st,
		series:      st.series,
	}
}

// start creates a pool and its workers. Called with s.mu held.
func (s *shadows) start(k poolKey) *shadowPool {
	p := &shadowPool{key: k, jobs: make(chan *shadowJob, k.queue), done: make(chan struct{})}
	s.wg.Add(k.workers)
	for range k.workers {
		go func() {
			defer s.wg.Done()
			p.work(s.run)
		}()
	}
	return p
}

// retire stops pools a reload no longer uses: their queued copies are
// dropped (counted), calls in progress finish within shadow.timeout.
func (s *shadows) retire(ps []*shadowPool) {
	for _, p := range ps {
		p.stop()
	}
}

// shutdown stops every pool and waits for all workers, retired ones
// included, until ctx is done.
func (s *shadows) shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shut = true
	for _, p := range s.pools {
		p.stop()
	}
	s.mu.Unlock()
	return s.wait(ctx)
}

// wait blocks until every worker has exited or ctx is done.
func (s *shadows) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
