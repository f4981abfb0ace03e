package gateway

import (
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/gateway/shadow"
	"github.com/modelgate/modelgate/gateway/upstream"
	"github.com/modelgate/modelgate/internal/keyed"
	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/router"
	"github.com/modelgate/modelgate/tenants"
)

// snapshot is one immutable routing table built from one config. The
// request path loads it once per request from Gateway.snap; a reload builds
// a new one in full and swaps the pointer, so a request finishes on the table
// it started with.
type snapshot struct {
	cfg     *configs.Config
	keys    *tenants.Directory
	tenants []*tenantRoute
}

type tenantRoute struct {
	name   string
	value  []byte // name, as the X-Modelgate-Tenant value
	models map[string]*modelRoute
}

type modelRoute struct {
	tenant, name string
	cfg          *configs.Model
	split        *router.Split
	versions     []*versionRoute
	timeout      time.Duration
	stickyHeader string
	scope        *observability.Scope // rejections, queue and fallback series of the model
	shadow       *shadow.Route        // nil without a shadow; set by attachShadows (shadow.go)
	res          modelResilience      // retries and fallback (fallback.go)
	admission    modelAdmission       // limiters, set by attachAdmission (admission.go)
}

type versionRoute struct {
	name      string
	value     []byte // name, as the X-Modelgate-Version value
	endpoints []*upstream.Endpoint
	series    *observability.Series
	res       versionResilience // retry and fallback counters (fallback.go)
}

// served reports whether v has served a request of m, as a primary or as
// m's shadow version; until then its endpoints export only
// modelgate_endpoint_up.
func (m *modelRoute) served(v *versionRoute) bool {
	return v.series.Used() || m.shadow != nil && m.shadow.Version() == v.name && m.shadow.Served()
}

// seriesKey names one tenant/model/version's metric series; version "" is
// the model's Scope, model and version "" the tenant's.
type seriesKey struct{ tenant, model, version string }

// buildSnapshot builds the routing table for cfg in generation gen, taking
// endpoints from reg (creating new ones; the generation's Commit releases
// those it did not take) and metric handles from m (the same handles while
// a tenant, model or version stays configured; their series are created on
// first use). It returns the set of metric handles it uses, so the caller
// can release the rest after the swap (forgetSeries).
func buildSnapshot(cfg *configs.Config, gen *keyed.Gen, reg *upstream.Registry, m *observability.Metrics) (*snapshot, map[seriesKey]bool) {
	s := &snapshot{cfg: cfg, keys: tenants.NewDirectory(cfg.Tenants)}
	n := len(cfg.Tenants)
	for i := range cfg.Tenants {
		for j := range cfg.Tenants[i].Models {
			n += 1 + len(cfg.Tenants[i].Models[j].Versions)
		}
	}
	series := make(map[seriesKey]bool, n)
	plan := map[*upstream.Endpoint]*upstream.Settings{}
	for ti := range cfg.Tenants {
		t := &cfg.Tenants[ti]
		tr := &tenantRoute{name: t.Name, value: []byte(t.Name), models: make(map[string]*modelRoute, len(t.Models))}
		m.Scope(t.Name, "")
		series[seriesKey{t.Name, "", ""}] = true
		for mi := range t.Models {
			mc := &t.Models[mi]
			mr := &modelRoute{
				tenant:       t.Name,
				name:         mc.Name,
				cfg:          mc,
				split:        router.NewSplit(t.Name, mc),
				timeout:      mc.Timeout,
				stickyHeader: mc.StickyHeader,
				scope:        m.Scope(t.Name, mc.Name),
			}
			series[seriesKey{t.Name, mc.Name, ""}] = true
			for _, v := range mc.Versions {
				vr := &versionRoute{name: v.Name, value: []byte(v.Name), series: m.Series(t.Name, mc.Name, v.Name, observability.RolePrimary)}
				series[seriesKey{t.Name, mc.Name, v.Name}] = true
				for _, u := range v.Endpoints {
					ep := reg.Get(gen, u)
					if s, seen := plan[ep]; !seen {
						plan[ep] = &upstream.Settings{Connect: mc.ConnectTimeout, Breaker: mc.Breaker, Health: mc.HealthCheck}
					} else if mc.ConnectTimeout < s.Connect {
						s.Connect = mc.ConnectTimeout
					}
					vr.endpoints = append(vr.endpoints, ep)
				}
				mr.versions = append(mr.versions, vr)
			}
			initResilience(mr, mc)
			tr.models[mc.Name] = mr
		}
		s.tenants = append(s.tenants, tr)
	}
	reg.Configure(plan)
	return s, series
}

// forgetSeries deletes the metric series of every tenant, model and
// version in old but not in next (the handle sets of two buildSnapshot
// calls), versions before their model and tenant.
func forgetSeries(m *observability.Metrics, old, next map[seriesKey]bool) {
	for k := range old {
		if !next[k] && k.version != "" {
			m.Forget(k.tenant, k.model, k.version)
		}
	}
	for k := range old {
		if !next[k] && k.version == "" {
			m.ForgetScope(k.tenant, k.model)
		}
	}
}
