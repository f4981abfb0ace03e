package gateway

import (
	"time"

	"github.com/modelgate/modelgate/configs"
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
	shadow       *shadowRoute    // nil without a shadow; set by shadows.apply (shadowpool.go)
	res          modelResilience // retries and fallback (fallback.go)
	admission    modelAdmission  // limiters, set by attachAdmission (admission.go)
}

type versionRoute struct {
	name      string
	value     []byte // name, as the X-Modelgate-Version value
	endpoints []*endpoint
	series    *observability.Series
	res       versionResilience // retry and fallback counters (fallback.go)
}

// seriesKey names one tenant/model/version's metric series.
type seriesKey struct{ tenant, model, version string }

// buildSnapshot builds the routing table for cfg, taking endpoints from reg
// (creating new ones) and metric handles from m. It returns the set of
// endpoint URLs and series it uses, so the caller can release the rest after
// the swap.
func buildSnapshot(cfg *configs.Config, reg *registry, m *observability.Metrics) (*snapshot, map[string]bool, map[seriesKey]bool) {
	s := &snapshot{cfg: cfg, keys: tenants.NewDirectory(cfg.Tenants)}
	urls := map[string]bool{}
	series := map[seriesKey]bool{}
	plan := map[*endpoint]*settings{} // per-endpoint settings (upstream.go)
	for ti := range cfg.Tenants {
		t := &cfg.Tenants[ti]
		tr := &tenantRoute{name: t.Name, value: []byte(t.Name), models: make(map[string]*modelRoute, len(t.Models))}
		for mi := range t.Models {
			mc := &t.Models[mi]
			mr := &modelRoute{
				tenant:       t.Name,
				name:         mc.Name,
				cfg:          mc,
				split:        router.NewSplit(t.Name, mc),
				timeout:      mc.Timeout,
				stickyHeader: mc.StickyHeader,
			}
			for _, v := range mc.Versions {
				vr := &versionRoute{name: v.Name, value: []byte(v.Name), series: m.Series(t.Name, mc.Name, v.Name, observability.RolePrimary)}
				series[seriesKey{t.Name, mc.Name, v.Name}] = true
				for _, u := range v.Endpoints {
					ep := reg.get(u)
					urls[u] = true
					if s, seen := plan[ep]; !seen {
						plan[ep] = &settings{connect: mc.ConnectTimeout, breaker: mc.Breaker, health: mc.HealthCheck}
					} else if mc.ConnectTimeout < s.connect {
						s.connect = mc.ConnectTimeout
					}
					vr.endpoints = append(vr.endpoints, ep)
				}
				mr.versions = append(mr.versions, vr)
			}
			initResilience(mr, mc, m)
			tr.models[mc.Name] = mr
		}
		s.tenants = append(s.tenants, tr)
	}
	reg.configure(plan)
	return s, urls, series
}
