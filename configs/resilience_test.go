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
			"tenants[0].models[1].health_check.path: unknown placeholder: only {model} (the model's name) and {version} (a version's container_version) are replaced",
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
	t.Run("health path placeholder", func(t *testing.T) {
		for _, tt := range []struct{ path, model, want string }{
			{DefaultHealthPath, "iris", "/v2/models/iris/ready"},
			{"/v1/models/{model}", "iris-2.1", "/v1/models/iris-2.1"},
			{"/v2/models/{model}/versions/1/ready", "m", "/v2/models/m/versions/1/ready"},
			{"/ping", "iris", "/ping"},
			{"/v2/models/{model}/versions/{version}/ready", "m", "/v2/models/m/versions/2/ready"},
			{"/v1/models/{model}/versions/{version}", "m", "/v1/models/m/versions/2"},
		} {
			if got := (HealthCheck{Path: tt.path}).PathFor(tt.model, "2"); got != tt.want {
				t.Errorf("PathFor(%q) of %q: got %q, want %q", tt.model, tt.path, got, tt.want)
			}
		}
	})
	t.Run("version placeholder needs container versions", func(t *testing.T) {
		_, err := Parse([]byte(`
tenants:
  - name: acme
    api_keys: [{sha256: "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"}]
    models:
      - name: iris
        health_check: {path: "/v2/models/{model}/versions/{version}/ready"}
        versions:
          - {name: a, weight: 1, container_version: "1", endpoints: ["http://127.0.0.1:8001"]}
          - {name: b, weight: 1, endpoints: ["http://127.0.0.1:8001"]}
`))
		want := `tenants[0].models[0].health_check.path: {version} needs a container_version on every version; versions[1] ("b") has none`
		if err == nil || err.Error() != want {
			t.Errorf("got %v, want %s", err, want)
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
		want := Breaker{ConsecutiveFailures: 5, FailureRatio: 0.5, MinRequests: 20, OpenFor: 10 * time.Second, Interval: 10 * time.Second,
			ServerErrors: "corroborated", MaxEjectionPercent: 10}
		if !m.Breaker.SameTrip(want) || m.Breaker.MaxEjectionPercent != 10 || m.Breaker.Panic() != 50 {
			t.Errorf("breaker defaults: got %+v (panic threshold %d), want %+v and panic threshold 50", m.Breaker, m.Breaker.Panic(), want)
		}
		wantHC := HealthCheck{Path: "/v2/models/{model}/ready", Interval: 5 * time.Second, Timeout: time.Second, UnhealthyAfter: 2, HealthyAfter: 2}
		if m.HealthCheck != wantHC {
			t.Errorf("health check defaults: got %+v, want %+v", m.HealthCheck, wantHC)
		}
		if m.Retry.RetryAttempts() != 1 || m.Retry.RetryBudget() != 0.2 || m.Retry.OnTimeout {
			t.Errorf("retry defaults: got %+v (attempts %d, budget %v), want 1 attempt, budget 0.2, no timeouts", m.Retry, m.Retry.RetryAttempts(), m.Retry.RetryBudget())
		}
	})
}
