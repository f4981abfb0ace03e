package gateway

import (
	"github.com/modelgate/modelgate/gateway/shadow"
	"github.com/modelgate/modelgate/internal/keyed"
)

// attachShadows sets the shadow route of every model of snap that has a
// shadow, taking pools, stats and series from the shadow manager in
// generation gen (kept when unchanged; the generation's Commit releases the
// rest after the swap).
func (g *Gateway) attachShadows(gen *keyed.Gen, snap *snapshot) {
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
			v := mr.versions[vi]
			mr.shadow = g.shadows.Route(gen, t.Name, mc, shadow.Target{Name: v.name, Index: vi, Endpoints: v.endpoints}, mr.split.Prefix())
		}
	}
}

// shadowView lists every configured shadow with its stats, in config
// order (GET /admin/shadow).
func (g *Gateway) shadowView() shadow.ListView {
	snap := g.snap.Load()
	out := shadow.ListView{Shadows: []shadow.StatsView{}}
	for ti, t := range snap.cfg.Tenants {
		for _, mc := range t.Models {
			if sr := snap.tenants[ti].models[mc.Name].shadow; sr != nil {
				out.Shadows = append(out.Shadows, sr.View())
			}
		}
	}
	return out
}
