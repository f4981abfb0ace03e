package grpcproxy

import (
	"strings"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/gateway/upstream"
	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/router"
	"github.com/modelgate/modelgate/router/retry"
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

	// Retries and fallback (forward.go), as the model's REST requests.
	attempts       int           // retries after the first try (retry.attempts)
	budget         *retry.Budget // the model's gRPC retry budget, kept across reloads
	fallback       *versionRoute // nil: none
	fallbackPinned bool
}

type versionRoute struct {
	name string
	// containerVersion is the model_version the containers receive (the
	// version's container_version; "" sends none), as REST sends the
	// versioned path.
	containerVersion string
	endpoints        []*endpoint // the version's grpc_endpoints; none: UNAVAILABLE
	ejection         upstream.Ejection
	series           *observability.Series
	retries          observability.SeriesCounter
	// fallbacks counts calls moved from this version to the model's
	// fallback; unused when the model has none or this version is it.
	fallbacks observability.Fallback
}

// build makes the snapshot of cfg, taking each address's endpoint from es
// (kept or created) and marking it in used, and each model's retry budget
// from budgets (kept or created), marking it in usedBudgets. It returns
// the breaker and health-check settings of each endpoint (those of the
// first model and version listing it), for the caller to install once the
// snapshot is taken.
func build(cfg *configs.Config, es *endpoints, budgets map[budgetKey]*retry.Budget, m *observability.Metrics, used map[string]bool, usedBudgets map[budgetKey]bool) (*snapshot, map[*endpoint]endpointPlan, error) {
	s := &snapshot{keys: tenants.NewDirectory(cfg.Tenants)}
	plan := map[*endpoint]endpointPlan{}
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

				attempts:       mc.Retry.RetryAttempts(),
				fallbackPinned: mc.FallbackPinned,
			}
			bk := budgetKey{t.Name, mc.Name, mc.Retry.RetryBudget()}
			usedBudgets[bk] = true
			if mr.budget = budgets[bk]; mr.budget == nil {
				mr.budget = retry.New(bk.ratio)
				budgets[bk] = mr.budget
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
						return nil, nil, err
					}
					if _, seen := plan[e]; !seen {
						plan[e] = endpointPlan{breaker: mc.Breaker, health: probeFor(mc.HealthCheck, mc.Name, v.ContainerVersion)}
					}
					vr.endpoints = append(vr.endpoints, e)
				}
				vr.ejection = upstream.EjectionFor(len(vr.endpoints), mc.Breaker)
				vr.retries = vr.series.Retries()
				if v.Name == mc.Fallback {
					mr.fallback = vr
				}
				mr.versions = append(mr.versions, vr)
			}
			if fb := mr.fallback; fb != nil {
				sc := m.Scope(t.Name, mc.Name)
				for _, vr := range mr.versions {
					if vr != fb {
						vr.fallbacks = sc.Fallback(vr.series, fb.series)
					}
				}
			}
			tr.models[mc.Name] = mr
		}
		s.tenants = append(s.tenants, tr)
	}
	return s, plan, nil
}

// endpointPlan is the settings an endpoint takes from the first model
// and version listing its address.
type endpointPlan struct {
	breaker configs.Breaker
	health  healthPlan
}

// budgetKey names a model's gRPC retry budget: a changed ratio starts a
// new one.
type budgetKey struct {
	tenant, model string
	ratio         float64
}
