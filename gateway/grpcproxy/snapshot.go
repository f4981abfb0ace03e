package grpcproxy

import (
	"strings"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/router"
	"github.com/modelgate/modelgate/tenants"
)

// snapshot is the proxy's immutable routing table for one config, built
// by Apply and loaded once per call: the same tenants, keys and splits
// (router.NewSplit) as the REST gateway builds from that config.
type snapshot struct {
	keys    *tenants.Directory
	tenants []*tenantRoute
}

type tenantRoute struct {
	name   string
	models map[string]*modelRoute
}

type modelRoute struct {
	tenant, name string
	split        *router.Split
	versions     []*versionRoute
	timeout      time.Duration
	// sticky is the metadata key of the model's sticky_header, lower-cased
	// (gRPC metadata keys are); "" without one.
	sticky string
}

type versionRoute struct {
	name string
	// containerVersion is the model_version the containers receive (the
	// version's container_version; "" sends none), as REST sends the
	// versioned path.
	containerVersion string
	endpoints        []*endpoint // the version's grpc_endpoints; none: UNAVAILABLE
	series           *observability.Series
}

// build makes the snapshot of cfg, taking each address's endpoint from es
// (kept or created) and marking it in used.
func build(cfg *configs.Config, es *endpoints, m *observability.Metrics, used map[string]bool) (*snapshot, error) {
	s := &snapshot{keys: tenants.NewDirectory(cfg.Tenants)}
	for ti := range cfg.Tenants {
		t := &cfg.Tenants[ti]
		tr := &tenantRoute{name: t.Name, models: make(map[string]*modelRoute, len(t.Models))}
		for mi := range t.Models {
			mc := &t.Models[mi]
			mr := &modelRoute{
				tenant:  t.Name,
				name:    mc.Name,
				split:   router.NewSplit(t.Name, mc),
				timeout: mc.Timeout,
				sticky:  strings.ToLower(mc.StickyHeader),
			}
			for _, v := range mc.Versions {
				// The REST gateway owns the handles' lifetime (it forgets
				// a version's series when the version leaves the config);
				// the proxy records into the same handles.
				vr := &versionRoute{name: v.Name, containerVersion: v.ContainerVersion,
					series: m.Series(t.Name, mc.Name, v.Name, observability.RolePrimary)}
				for _, addr := range v.GRPCEndpoints {
					e, err := es.get(addr, used)
					if err != nil {
						return nil, err
					}
					vr.endpoints = append(vr.endpoints, e)
				}
				mr.versions = append(mr.versions, vr)
			}
			tr.models[mc.Name] = mr
		}
		s.tenants = append(s.tenants, tr)
	}
	return s, nil
}
