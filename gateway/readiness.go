package gateway

import (
	"iter"
	"slices"

	"github.com/modelgate/modelgate/observability"
)

// readiness is the body of the admin /readyz answer.
type readiness struct {
	Ready  bool   `json:"ready"`
	Reason string `json:"reason,omitempty"`
	// Models lists "tenant/model" for every model none of whose versions
	// has a healthy endpoint: while any is listed, the gateway is not ready.
	Models []string `json:"models_without_healthy_endpoint,omitempty"`
	// Versions lists "tenant/model/version" for every version without a
	// healthy endpoint (informational: fallback may still serve them).
	Versions []string `json:"versions_without_healthy_endpoint,omitempty"`
	// Redis, with state.redis set, is the shared Redis's state. A Redis
	// that does not answer does not make the gateway unready: traffic keeps
	// flowing, global limits decide by state.redis.on_unavailable.
	Redis *redisReadiness `json:"redis,omitempty"`
}

// redisReadiness is the /readyz detail of state.redis.
type redisReadiness struct {
	Up bool `json:"up"`
	// Replicas is the last replica count Redis told (1 before any).
	Replicas int `json:"replicas"`
	// GlobalLimits is "shared" while Redis answers, otherwise the
	// on_unavailable rule in force: "local" (limit ÷ replicas), "open" or
	// "closed".
	GlobalLimits string `json:"global_limits"`
}

// readiness reports whether every model of the serving config has a healthy
// endpoint in at least one version, and which do not. Shutdown also makes
// the gateway not ready.
func (g *Gateway) readiness() readiness {
	r := readiness{Ready: true}
	for _, t := range g.snap.Load().tenants {
		for _, m := range t.models {
			healthy := false
			for _, v := range m.versions {
				vok := false
				for _, ep := range v.endpoints {
					vok = vok || ep.Up()
				}
				if !vok {
					r.Versions = append(r.Versions, t.name+"/"+m.name+"/"+v.name)
				}
				healthy = healthy || vok
			}
			if !healthy {
				r.Models = append(r.Models, t.name+"/"+m.name)
			}
		}
	}
	slices.Sort(r.Models)
	slices.Sort(r.Versions)
	if len(r.Models) > 0 {
		r.Ready, r.Reason = false, "some models have no healthy endpoint"
	}
	if g.draining.Load() {
		r.Ready, r.Reason = false, "shutting down"
	}
	if s := g.st.shared; s != nil {
		r.Redis = &redisReadiness{Up: s.Up(), Replicas: s.Replicas(), GlobalLimits: "shared"}
		if !r.Redis.Up {
			r.Redis.GlobalLimits = s.OnUnavailable()
		}
	}
	return r
}

// endpointSamples lists, at scrape time, every endpoint of the serving
// config once per tenant/model/version that routes to it.
func (g *Gateway) endpointSamples() iter.Seq[observability.EndpointSample] {
	return func(yield func(observability.EndpointSample) bool) {
		snap := g.snap.Load()
		if snap == nil {
			return
		}
		for _, t := range snap.tenants {
			for _, m := range t.models {
				for _, v := range m.versions {
					for _, ep := range v.endpoints {
						if !yield(observability.EndpointSample{
							Tenant: t.name, Model: m.name, Version: v.name, Endpoint: ep.URL(),
							BreakerState: ep.BreakerState(), Up: ep.Up(), InFlight: ep.InFlight(),
							Idle: !m.served(v),
						}) {
							return
						}
					}
				}
			}
		}
	}
}

// Readiness reports whether every model has a healthy endpoint and the
// gateway is not shutting down, with the /readyz body (admin.Source).
func (g *Gateway) Readiness() (bool, any) {
	r := g.readiness()
	return r.Ready, r
}
