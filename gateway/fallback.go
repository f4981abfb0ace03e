package gateway

import (
	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/router/retry"
)

// modelResilience is a model route's retry and fallback policy, fixed when
// the snapshot is built.
type modelResilience struct {
	attempts  int  // retries after the first try (retry.attempts)
	onTimeout bool // retry.on_timeout
	budget    *retry.Budget
	// fallback serves what the chosen version could not; nil for none.
	fallback       *versionRoute
	fallbackPinned bool
}

// versionResilience holds a version route's precomputed metric handles.
type versionResilience struct {
	retries observability.SeriesCounter
	// fallbacks counts requests moved from this version to the model's
	// fallback; the zero value (not to be used) when the model has none or
	// this version is it.
	fallbacks observability.Fallback
}

// initResilience sets the retry and fallback policy of mr (whose versions
// and metric handles are built) from mc, with the model's retry budget.
func initResilience(mr *modelRoute, mc *configs.Model, budget *retry.Budget) {
	mr.res = modelResilience{
		attempts:       mc.Retry.RetryAttempts(),
		onTimeout:      mc.Retry.OnTimeout,
		budget:         budget,
		fallbackPinned: mc.FallbackPinned,
	}
	for _, v := range mr.versions {
		if v.name == mc.Fallback {
			mr.res.fallback = v
		}
	}
	for _, v := range mr.versions {
		v.res.retries = v.series.Retries()
		if fb := mr.res.fallback; fb != nil && fb != v {
			v.res.fallbacks = mr.scope.Fallback(v.series, fb.series)
		}
	}
}
