package gateway

import (
	"github.com/modelgate/modelgate/gateway/shadow"
	"github.com/modelgate/modelgate/internal/keyed"
)

// attachShadow sets the shadow route of mr, whose config has a shadow,
// taking its pool, stats and series from the shadow manager in generation
// gen (kept when unchanged; the generation's Commit releases the rest after
// the swap).
func (st *state) attachShadow(gen *keyed.Gen, mr *modelRoute) {
	vi, ok := mr.split.Lookup([]byte(mr.cfg.Shadow.Version))
	if !ok { // validated by configs; defensive
		return
	}
	v := mr.versions[vi]
	mr.shadow = st.shadows.Route(gen, mr.tenant, mr.cfg, shadow.Target{Name: v.name, Index: vi, Endpoints: v.endpoints, Paths: v.paths}, mr.split.Prefix())
}

// shadowView lists every configured shadow with its stats, in config
// order (GET /admin/shadow).
func (g *Gateway) shadowView(sees func(tenant string) bool) shadow.ListView {
	snap := g.snap.Load()
	out := shadow.ListView{Shadows: []shadow.StatsView{}}
	for ti, t := range snap.cfg.Tenants {
		if !sees(t.Name) {
			continue
		}
		for _, mc := range t.Models {
			if sr := snap.tenants[ti].models[mc.Name].shadow; sr != nil {
				out.Shadows = append(out.Shadows, sr.View())
			}
		}
	}
	return out
}

// ShadowView is the GET /admin/shadow body (admin.Source), with the
// shadows of the tenants sees admits.
func (g *Gateway) ShadowView(sees func(tenant string) bool) any { return g.shadowView(sees) }
