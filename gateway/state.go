package gateway

import (
	"log/slog"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/gateway/shadow"
	"github.com/modelgate/modelgate/gateway/upstream"
	"github.com/modelgate/modelgate/internal/keyed"
	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/redisstate"
	"github.com/modelgate/modelgate/router/retry"
	"github.com/modelgate/modelgate/tenants"
)

// state is everything that outlives a routing snapshot, each kind in a
// store of one keyed.Set. A reload has one shape whatever the kinds
// (Gateway.Apply):
//
//	gen := set.Begin()
//	snap := st.build(gen, cfg) // purely from cfg and the stores: Get keeps or creates
//	g.snap.Store(snap)         // swap
//	gen.Commit()               // every store releases what gen did not Get
//
// so a new stateful feature registers a store here and adds no step to
// Apply. Stores are swept in the order newState registers them: endpoints,
// shadow pools and stats, version series before the tenant and model
// scopes they belong to, retry budgets, limiters, admission queue series.
//
// Only Apply (under Gateway.applyMu) and the release at shutdown use the
// stores; the values are shared with the request path through the
// snapshot.
type state struct {
	set     keyed.Set
	metrics *observability.Metrics

	upstreams *upstream.Registry // endpoints by URL: pools, breakers, health checkers
	shadows   *shadow.Manager    // shadow pools and stats (with their series)
	// series are the request metrics of each tenant/model/version (role
	// primary); released: Metrics.Forget.
	series *keyed.Store[seriesKey, *observability.Series]
	// scopes are the rejection, queue and fallback series of each tenant
	// (model "") and model; released: Metrics.ForgetScope.
	scopes *keyed.Store[seriesKey, *observability.Scope]
	// budgets are the models' retry budgets, kept while the model and its
	// retry.budget ratio stay.
	budgets *keyed.Store[budgetKey, *retry.Budget]
	// limiters are the tenants' and models' admission limiters, kept while
	// their limits stay.
	limiters *tenants.Admission
	// shared is the Redis of state.redis (nil without it), holding the
	// buckets of global-scope limits. Opened by New, closed at release:
	// state.redis is static.
	shared *redisstate.Store
	// queues are the scopes whose admission queue has series (the tenant or
	// model has limits); released: Scope.ForgetQueue when the limits go.
	queues *keyed.Store[seriesKey, *observability.Scope]
}

// seriesKey names one tenant/model/version's metric series; version "" is
// the model's Scope, model and version "" the tenant's.
type seriesKey struct{ tenant, model, version string }

// budgetKey names a model's retry budget: a changed ratio starts a new one.
type budgetKey struct {
	tenant, model string
	ratio         float64
}

// newState creates the empty stores, and connects to state.redis when it
// is set. maxAnswer is server.max_answer_bytes.
func newState(m *observability.Metrics, log *slog.Logger, maxAnswer int, shared *configs.Redis) *state {
	st := &state{metrics: m}
	st.upstreams = upstream.NewRegistry(&st.set, log, maxAnswer)
	st.shadows = shadow.NewManager(&st.set, m, st.upstreams, log)
	st.series = keyed.Register(&st.set, func(k seriesKey, _ *observability.Series) {
		m.Forget(k.tenant, k.model, k.version)
	})
	st.scopes = keyed.Register(&st.set, func(k seriesKey, _ *observability.Scope) {
		m.ForgetScope(k.tenant, k.model)
	})
	st.budgets = keyed.Register[budgetKey, *retry.Budget](&st.set, nil)
	st.limiters = tenants.NewAdmission(&st.set)
	if shared != nil {
		st.shared = redisstate.Open(*shared, m.RedisUp(), log)
		st.limiters.Shared = st.shared
	}
	st.limiters.QueueGauge = func(tenant, model string) tenants.Gauge { return m.Scope(tenant, model).Queue().Queued }
	st.queues = keyed.Register(&st.set, func(_ seriesKey, sc *observability.Scope) { sc.ForgetQueue() })
	return st
}

// scope returns the Scope of a tenant (model "") or model, used by gen.
func (st *state) scope(gen *keyed.Gen, tenant, model string) *observability.Scope {
	return keyed.Get(st.scopes, gen, seriesKey{tenant, model, ""}, func() *observability.Scope {
		return st.metrics.Scope(tenant, model)
	})
}

// versionSeries returns the primary-role Series of a version, used by gen.
func (st *state) versionSeries(gen *keyed.Gen, tenant, model, version string) *observability.Series {
	return keyed.Get(st.series, gen, seriesKey{tenant, model, version}, func() *observability.Series {
		return st.metrics.Series(tenant, model, version, observability.RolePrimary)
	})
}

// budget returns a model's retry budget for ratio, used by gen.
func (st *state) budget(gen *keyed.Gen, tenant, model string, ratio float64) *retry.Budget {
	return keyed.Get(st.budgets, gen, budgetKey{tenant, model, ratio}, func() *retry.Budget { return retry.New(ratio) })
}
