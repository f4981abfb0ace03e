package configs

import (
	"strings"
	"testing"
	"time"
)

func TestResilienceConfig(t *testing.T) {
	t.Run("bad", func(t *testing.T) {
		_, err := Load("testdata/resilience.bad.yaml")
		if err == nil {
			t.Fatal("got no error, want validation errors")
		}
		p := "tenants[0].models[0]."
		for _, want := range []string{
			p + `fallback: names no version of this model: "v9"`,
			p + "breaker.failure_ratio: must be between 0 and 1",
			p + "breaker.open_for: must not be negative",
			p + "breaker.interval: must not be negative",
			p + "health_check.path: must start with /",
			p + "health_check.interval: must not be negative",
			p + "health_check.timeout: must not be negative",
			p + "health_check.unhealthy_after: must not be negative",
			p + "health_check.healthy_after: must not be negative",
			p + "retry.attempts: must not be negative",
			p + "retry.budget: must be between 0 and 1",
		} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("errors lack %q; got:\n%v", want, err)
			}
		}
	})
	t.Run("explicit zero budget", func(t *testing.T) {
		cfg, err := Load("testdata/retry_budget_zero.good.yaml")
		if err != nil {
			t.Fatal(err)
		}
		for i, want := range []float64{0, DefaultRetryBudget} {
			r := cfg.Tenants[0].Models[i].Retry
			if r.Budget == nil || *r.Budget != want || r.RetryBudget() != want {
				t.Errorf("models[%d].retry.budget: got %v, want %v", i, r.Budget, want)
			}
		}
	})
	t.Run("defaults", func(t *testing.T) {
		cfg, err := Load("testdata/full.good.yaml")
		if err != nil {
			t.Fatal(err)
		}
		m := cfg.Tenants[0].Models[0]
		want := Breaker{ConsecutiveFailures: 5, FailureRatio: 0.5, MinRequests: 20, OpenFor: 10 * time.Second, Interval: 10 * time.Second}
		if m.Breaker != want {
			t.Errorf("breaker defaults: got %+v, want %+v", m.Breaker, want)
		}
		wantHC := HealthCheck{Path: "/v2/health/ready", Interval: 5 * time.Second, Timeout: time.Second, UnhealthyAfter: 2, HealthyAfter: 2}
		if m.HealthCheck != wantHC {
			t.Errorf("health check defaults: got %+v, want %+v", m.HealthCheck, wantHC)
		}
		if m.Retry.RetryAttempts() != 1 || m.Retry.RetryBudget() != 0.2 || m.Retry.OnTimeout {
			t.Errorf("retry defaults: got %+v (attempts %d, budget %v), want 1 attempt, budget 0.2, no timeouts", m.Retry, m.Retry.RetryAttempts(), m.Retry.RetryBudget())
		}
	})
}
