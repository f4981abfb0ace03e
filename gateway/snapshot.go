package gateway

import (
	"encoding/json"
	"hash/fnv"
	"slices"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/gateway/shadow"
	"github.com/modelgate/modelgate/gateway/upstream"
	"github.com/modelgate/modelgate/internal/keyed"
	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/router"
	"github.com/modelgate/modelgate/router/openai"
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
	byName  map[string]*tenantRoute // tenants by name, for Gateway.Admit
	// serverMeta is the GET /v2 answer (OIP server metadata), the same
	// for every tenant.
	serverMeta []byte
}

type tenantRoute struct {
	name   string
	value  []byte // name, as the X-Modelgate-Tenant value
	models map[string]*modelRoute
	// modelList is the GET /v2/models and GET /v1/models answer: the
	// tenant's model names, sorted, in KServe's {"models":[...]} shape.
	modelList []byte
	// openAIModels is the GET /openai/v1/models answer: the same names in
	// OpenAI's {"object":"list","data":[...]} shape.
	openAIModels []byte
}

type modelRoute struct {
	tenant, name string
	caller       uint64 // the tenant's id for upstream.Endpoint.Judge (callerID)
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
	name  string
	value []byte // name, as the X-Modelgate-Version value
	// paths are the paths its containers receive, per request kind: the
	// model's unversioned paths, or the versioned ones naming the
	// version's container_version (router.AppendContainerPath).
	paths router.ContainerPaths
	// upstreamModel is the JSON string an OpenAI request's "model" is
	// rewritten to for this version: its upstream_model, else the model's
	// name (openai.go).
	upstreamModel []byte
	endpoints     []*upstream.Endpoint
	ejection      upstream.Ejection // how far open breakers may thin endpoints
	series        *observability.Series
	res           versionResilience // retry and fallback counters (fallback.go)
}

// served reports whether v has served a request of m, as a primary or as
// m's shadow version; until then its endpoints export only
// modelgate_endpoint_up.
func (m *modelRoute) served(v *versionRoute) bool {
	return v.series.Used() || m.shadow != nil && m.shadow.Version() == v.name && m.shadow.Served()
}

// build builds the routing table for cfg in generation gen, purely from
// cfg and the stores of long-lived state (see state): endpoints (created
// when new, then configured with their resilience settings), metric
// handles (the same while a tenant, model or version stays configured;
// their series are created on first use), retry budgets, shadow routes and
// admission limiters. The caller swaps it in, then commits gen, which
// releases whatever it did not take.
func (st *state) build(gen *keyed.Gen, cfg *configs.Config) *snapshot {
	s := &snapshot{cfg: cfg, keys: tenants.NewDirectory(cfg.Tenants), serverMeta: serverMetadata(), byName: make(map[string]*tenantRoute, len(cfg.Tenants))}
	plan := map[*upstream.Endpoint]*upstream.Settings{}
	for ti := range cfg.Tenants {
		t := &cfg.Tenants[ti]
		tr := &tenantRoute{name: t.Name, value: []byte(t.Name), models: make(map[string]*modelRoute, len(t.Models)), modelList: modelList(t), openAIModels: openAIModelList(t)}
		st.scope(gen, t.Name, "")
		for mi := range t.Models {
			mc := &t.Models[mi]
			mr := &modelRoute{
				tenant:       t.Name,
				name:         mc.Name,
				caller:       callerID(t.Name),
				cfg:          mc,
				split:        router.NewSplit(t.Name, mc),
				timeout:      mc.Timeout,
				stickyHeader: mc.StickyHeader,
				scope:        st.scope(gen, t.Name, mc.Name),
			}
			unversioned := router.NewContainerPaths(mc.Name, "") // shared by the versions without a container_version
			for _, v := range mc.Versions {
				vr := &versionRoute{name: v.Name, value: []byte(v.Name), paths: unversioned, series: st.versionSeries(gen, t.Name, mc.Name, v.Name)}
				if v.ContainerVersion != "" {
					vr.paths = router.NewContainerPaths(mc.Name, v.ContainerVersion)
				}
				vr.upstreamModel = openai.Quote(mc.Name)
				if v.UpstreamModel != "" {
					vr.upstreamModel = openai.Quote(v.UpstreamModel)
				}
				health := mc.HealthCheck
				health.Path = health.PathFor(mc.Name, v.ContainerVersion)
				for _, u := range v.Endpoints {
					ep := st.upstreams.Get(gen, upstream.Key{URL: u, HealthPath: health.Path})
					if s, seen := plan[ep]; !seen {
						plan[ep] = &upstream.Settings{Connect: mc.ConnectTimeout, Breaker: mc.Breaker, Health: health}
					} else if mc.ConnectTimeout < s.Connect {
						s.Connect = mc.ConnectTimeout
					}
					vr.endpoints = append(vr.endpoints, ep)
				}
				vr.ejection = upstream.EjectionFor(len(vr.endpoints), mc.Breaker)
				mr.versions = append(mr.versions, vr)
			}
			initResilience(mr, mc, st.budget(gen, t.Name, mc.Name, mc.Retry.RetryBudget()))
			if mc.Shadow != nil {
				st.attachShadow(gen, mr)
			}
			tr.models[mc.Name] = mr
		}
		s.tenants = append(s.tenants, tr)
		s.byName[t.Name] = tr
	}
	st.upstreams.Configure(plan)
	st.attachAdmission(gen, s)
	return s
}

// callerID is the tenant's nonzero id for corroborating server errors
// (upstream.Endpoint.Judge): the same for a tenant name across reloads.
func callerID(tenant string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(tenant))
	return h.Sum64() | 1
}

// serverMetadata is the GET /v2 answer: OIP server metadata naming the
// gateway and its build version (observability.Version: "dev" unless the
// binary was built with one), with no protocol extensions.
func serverMetadata() []byte {
	b, _ := json.Marshal(struct {
		Name       string   `json:"name"`
		Version    string   `json:"version"`
		Extensions []string `json:"extensions"`
	}{"modelgate", observability.Version, []string{}})
	return b
}

// modelList is t's GET /v2/models and GET /v1/models answer: its model
// names, sorted, as KServe lists models ({"models":["a","b"]}).
func modelList(t *configs.Tenant) []byte {
	names := make([]string, 0, len(t.Models))
	for _, m := range t.Models {
		names = append(names, m.Name)
	}
	slices.Sort(names)
	b, _ := json.Marshal(struct {
		Models []string `json:"models"`
	}{names})
	return b
}

// openAIModelList is t's GET /openai/v1/models answer.
func openAIModelList(t *configs.Tenant) []byte {
	names := make([]string, 0, len(t.Models))
	for _, m := range t.Models {
		names = append(names, m.Name)
	}
	return openai.ModelList(t.Name, names)
}
