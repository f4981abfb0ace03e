package configs

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

const rolloutBase = `
tenants:
  - name: acme
    api_keys: [{sha256: "0000000000000000000000000000000000000000000000000000000000000000"}]
    models:
      - name: fraud
        versions:
          - {name: v1, weight: 100, endpoints: ["http://127.0.0.1:9001"]}
          - {name: v2, weight: 0, endpoints: ["http://127.0.0.1:9002"]}
        rollout:
`

func TestRolloutDefaults(t *testing.T) {
	cfg, err := Parse([]byte(rolloutBase + `
          canary: v2
          steps:
            - shadow: {}
            - weight: 5
            - weight: 6
              hold: {min_requests: 0, min_duration: 0s}
            - approve: {}
            - weight: 100
              hold: {min_duration: 2h}
`))
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Tenants[0].Models[0].Rollout
	if r.Confidence != 0.95 || r.OnFailure != RolloutRollback || r.OnInconclusive != RolloutPause || r.Interval != time.Second {
		t.Errorf("defaults: %+v", r)
	}
	for _, g := range GateNames {
		if !r.Gates.Judged(g) {
			t.Errorf("gate %s not judged by default", g)
		}
	}
	if r.Gates.Limit("max_error_rate_increase") != 0.01 || r.Gates.Limit("max_p99_ratio") != 1.5 ||
		r.Gates.Limit("min_shadow_agreement") != 0.99 || r.Gates.Limit("min_top1_agreement") != 0.995 {
		t.Errorf("gate defaults: %+v", r.Gates)
	}
	if h := r.Steps[0].Shadow; h.Requests() != 1000 || h.Least() != 0 || h.MaxDuration != time.Hour {
		t.Errorf("shadow step defaults: %+v", h)
	}
	if h := r.Steps[1].Hold; h.Requests() != 1000 || h.Least() != time.Minute || h.MaxDuration != time.Hour {
		t.Errorf("weight step defaults: %+v", h)
	}
	if h := r.Steps[2].Hold; h.Requests() != 0 || h.Least() != 0 {
		t.Errorf("explicit zeros replaced by defaults: %d %s", h.Requests(), h.Least())
	}
	if r.Steps[3].Approve.Required != 1 {
		t.Errorf("approve default: %+v", r.Steps[3].Approve)
	}
	if h := r.Steps[4].Hold; h.MaxDuration != 2*time.Hour {
		t.Errorf("max_duration below a longer min_duration: %+v", h)
	}
	if kinds := []string{r.Steps[0].Kind(), r.Steps[1].Kind(), r.Steps[3].Kind()}; !slices.Equal(kinds, []string{"shadow", "weight", "approve"}) {
		t.Errorf("kinds %v", kinds)
	}
}

func TestRolloutInvalid(t *testing.T) {
	p := "tenants[0].models[0].rollout"
	for _, tc := range []struct {
		block string
		want  []string
	}{
		{`
          steps: [{weight: 100}]`, []string{p + ".canary: is required: the version being released"}},
		{`
          canary: v3
          baseline: v2
          steps: [{weight: 100}]`, []string{p + `.canary: names no version of this model: "v3"`}},
		{`
          canary: v2
          baseline: v2
          steps: [{weight: 100}]`, []string{p + ".baseline: must differ from the canary"}},
		{`
          canary: v2
          steps: []`, []string{p + ".steps: at least one step is required, e.g. [{shadow: {}}, {weight: 5}, {weight: 100}]"}},
		{`
          canary: v2
          steps:
            - {weight: 50, approve: {}}
            - {weight: 0}
            - {weight: 30}
            - {shadow: {}, hold: {}}
            - {weight: 20}`, []string{
			p + ".steps[0]: must have exactly one of shadow, weight and approve",
			p + ".steps[1].weight: must be between 1 and 100 (the canary's percent), got 0",
			p + ".steps[3].hold: belongs to a weight step (a shadow step takes its hold inside shadow: {...})",
			p + ".steps[3].shadow: must come before every weight step: a shadow step takes the canary's traffic away",
			p + ".steps[4].weight: must not be below an earlier step's 30: weights only rise (sticky users move one way)",
		}},
		{`
          canary: v2
          steps: [{weight: 10}, {approve: {required: 2}}]`, []string{p + ".steps: the last step must be a weight step (usually weight: 100)"}},
		{`
          canary: v2
          confidence: 0.4
          on_failure: ignore
          on_inconclusive: shrug
          interval: 1ms
          gates: {max_error_rate_increase: 2, max_p99_ratio: 0, min_shadow_agreement: -1, min_top1_agreement: 1.5, skip: [max_latency]}
          steps:
            - weight: 100
              hold: {min_requests: -1, min_duration: 1h, max_duration: 1m}
          webhooks: [{url: "ftp://x"}, {url: "https://hooks.example/x", secret_env: "lower-case"}]`, []string{
			p + ".steps[0].hold.min_requests: must not be negative",
			p + ".steps[0].hold.max_duration: must be at least min_duration (1h0m0s)",
			p + ".confidence: must be above 0.5 and below 1, got 0.4",
			p + `.on_failure: must be "rollback" or "pause", got "ignore"`,
			p + `.on_inconclusive: must be "pause", "rollback" or "proceed", got "shrug"`,
			p + ".interval: must be at least 10ms, got 1ms",
			p + ".gates.max_error_rate_increase: must be between 0 and 1",
			p + ".gates.max_p99_ratio: must be a finite number above 0",
			p + ".gates.min_shadow_agreement: must be between 0 and 1",
			p + ".gates.min_top1_agreement: must be between 0 and 1",
			p + `.gates.skip[0]: names no gate: "max_latency" (gates are [max_error_rate_increase max_p99_ratio min_shadow_agreement min_top1_agreement])`,
			p + ".webhooks[0].url: must be an http:// or https:// URL without credentials",
			p + `.webhooks[1].secret_env: must be an environment variable name ([A-Z_][A-Z0-9_]*), got "lower-case"`,
		}},
	} {
		_, err := Parse([]byte(rolloutBase + tc.block))
		var errs Errors
		if !errors.As(err, &errs) {
			t.Errorf("%s: got %v, want configs.Errors", tc.block, err)
			continue
		}
		if got := strings.Split(errs.Error(), "\n"); !slices.Equal(got, tc.want) {
			t.Errorf("got errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
		}
	}
}
