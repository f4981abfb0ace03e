package shadow

import (
	"context"
	"log/slog"
	"sync"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/gateway/upstream"
	"github.com/modelgate/modelgate/internal/keyed"
	"github.com/modelgate/modelgate/observability"
)

// Manager owns every model's shadow pool, stats and metric series across
// reloads, each in a store of the gateway's keyed.Set: a reload's Route
// calls take them (creating what is new) in its generation, and the
// generation's Commit, after the snapshot swap, stops the pools and forgets
// the stats and series that the new snapshot no longer uses. A pool is kept
// while its tenant, model, version, max_in_flight, max_queue and
// max_queue_bytes are unchanged (with its queued copies); stats and series
// while the shadow stays configured, even if its pool is replaced.
//
// Route and Shutdown are called by the gateway's Apply and Shutdown, which
// are serialized; Capture, Dispatch and the workers run concurrently with
// them.
type Manager struct {
	metrics   *observability.ShadowMetrics
	all       *observability.Metrics // role="shadow" series of the request metrics
	log       *slog.Logger
	upstreams *upstream.Registry // picks the shadow version's endpoints

	pools *keyed.Store[poolKey, *pool]
	stats *keyed.Store[statsKey, *stats]

	mu   sync.Mutex     // guards shut
	shut bool           // Shutdown began: Route builds pools that refuse everything
	wg   sync.WaitGroup // every worker of every pool, retired or not
}

// NewManager creates a manager whose pools and stats live in stores of
// set; shadow calls pick endpoints of reg.
func NewManager(set *keyed.Set, m *observability.Metrics, reg *upstream.Registry, log *slog.Logger) *Manager {
	s := &Manager{metrics: m.Shadow(), all: m, log: log, upstreams: reg}
	s.pools = keyed.Register(set, func(_ poolKey, p *pool) { p.stop() })
	s.stats = keyed.Register(set, func(k statsKey, _ *stats) {
		s.metrics.Forget(k.tenant, k.model, k.version)
		s.all.ForgetRole(k.tenant, k.model, k.version, observability.RoleShadow)
	})
	return s
}

// Route returns the shadow route of model mc of tenant in generation gen:
// its pool (kept or new), stats and series, sending copies to target.
// prefix is the model's sticky hash prefix (router.Split.Prefix). mc must
// have a shadow.
func (s *Manager) Route(gen *keyed.Gen, tenant string, mc *configs.Model, target Target, prefix uint64) *Route {
	sh := mc.Shadow
	st := keyed.Get(s.stats, gen, statsKey{tenant, mc.Name, sh.Version}, func() *stats {
		return newStats(s.metrics.Series(tenant, mc.Name, sh.Version))
	})
	pk := poolKey{tenant, mc.Name, sh.Version, sh.MaxInFlight, sh.QueueLen(), sh.MaxQueueBytes}
	p := keyed.Get(s.pools, gen, pk, func() *pool { return s.start(pk) })
	role := s.all.Series(tenant, mc.Name, sh.Version, observability.RoleShadow)
	return newRoute(tenant, mc, target, prefix, p, st, role)
}

// Len reports how many pools and stats the manager holds (diagnostics).
func (s *Manager) Len() (pools, stats int) { return s.pools.Len(), s.stats.Len() }

// start creates a pool and its workers; after Shutdown began, a pool that
// refuses everything.
func (s *Manager) start(k poolKey) *pool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shut {
		return &pool{key: k, jobs: make(chan *Job), done: make(chan struct{}), stopped: true}
	}
	p := &pool{key: k, jobs: make(chan *Job, k.queue), done: make(chan struct{})}
	s.wg.Add(k.workers)
	for range k.workers {
		go func() {
			defer s.wg.Done()
			p.work(s.run)
		}()
	}
	return p
}

// Shutdown stops every pool (queued copies are dropped as stopped; calls in
// progress finish within shadow.timeout) and waits for all workers,
// retired ones included, until ctx is done. Pools a later Route creates
// refuse every copy.
func (s *Manager) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shut = true
	s.mu.Unlock()
	s.pools.All(func(_ poolKey, p *pool) { p.stop() })
	return s.wait(ctx)
}

// wait blocks until every worker has exited or ctx is done.
func (s *Manager) wait(ctx context.Context) error {
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
