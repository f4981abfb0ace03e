package configs

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"time"
)

// Rollout defaults (README, "Progressive delivery").
const (
	DefaultRolloutConfidence     = 0.95
	DefaultRolloutInterval       = time.Second
	DefaultMaxErrorRateIncrease  = 0.01
	DefaultMaxP99Ratio           = 1.5
	DefaultMinShadowAgreement    = 0.99
	DefaultMinTop1Agreement      = 0.995
	DefaultHoldMinRequests       = 1000
	DefaultHoldMinDuration       = time.Minute
	DefaultHoldMaxDuration       = time.Hour
	DefaultShadowStepMinRequests = 1000
	DefaultApprovalsRequired     = 1
	MaxRolloutSteps              = 32
	MaxRolloutWebhooks           = 8
)

// What a rollout does when a step fails its gates (OnFailure) or reaches
// its max_duration without a verdict (OnInconclusive).
const (
	RolloutRollback = "rollback"
	RolloutPause    = "pause"
	RolloutProceed  = "proceed" // on_inconclusive only
)

// Rollout is a model's progressive delivery of a new version (package
// rollout): the canary goes through Steps in order, each judged against
// the baseline by Gates at Confidence, and is rolled back (or paused) on a
// failed verdict. While the file names the same canary the rollout owns
// the model's weights (and, during a shadow step, its shadow); removing the
// block or naming another canary ends it.
type Rollout struct {
	// Canary is the version being released; required, one of the model's
	// versions.
	Canary string `mapstructure:"canary" json:"canary"`
	// Baseline is the version the canary is judged against. Default: the
	// version other than the canary with the largest weight when the
	// rollout starts (the first of them on a tie).
	Baseline string `mapstructure:"baseline" json:"baseline,omitempty"`
	// Steps, in order; at least one, at most MaxRolloutSteps. The rollout
	// completes when the last one passes.
	Steps []RolloutStep `mapstructure:"steps" json:"steps"`
	// Gates judged at every step; see RolloutGates.
	Gates RolloutGates `mapstructure:"gates" json:"gates"`
	// Confidence of every verdict, in (0.5, 1). Default 0.95: a step of
	// equal versions fails, or a worse canary passes, with probability at
	// most about 5% (looks and gates included, see package rollout).
	Confidence float64 `mapstructure:"confidence" json:"confidence"`
	// OnFailure is what a failed verdict does: "rollback" (default) or
	// "pause" (the weights stay; an operator decides).
	OnFailure string `mapstructure:"on_failure" json:"on_failure"`
	// OnInconclusive is what a step reaching its max_duration without a
	// verdict does: "pause" (default), "rollback" or "proceed".
	OnInconclusive string `mapstructure:"on_inconclusive" json:"on_inconclusive"`
	// Interval between evaluations; a failed verdict is acted on within
	// one. Default 1s; at least 10ms.
	Interval time.Duration `mapstructure:"interval" json:"interval"`
	// Webhooks receive the rollout's events; at most MaxRolloutWebhooks.
	Webhooks []Webhook `mapstructure:"webhooks" json:"webhooks,omitempty"`
}

// RolloutStep is one step: exactly one of Shadow, Weight and Approve.
type RolloutStep struct {
	// Shadow: the canary gets no traffic, only copies of every primary
	// request (the model's shadow settings apply when they name the
	// canary, else the shadow defaults at 100%); the step holds until
	// Shadow.MinRequests answers were compared. Judged on answer
	// agreement and the canary's error rate.
	Shadow *Hold `mapstructure:"shadow" json:"shadow,omitempty"`
	// Weight is the canary's percent (1–100) of unpinned traffic; the
	// other versions share the rest in proportion to their weights before
	// the rollout. Judged on error rate and p99 latency.
	Weight *int `mapstructure:"weight" json:"weight,omitempty"`
	// Hold is how long a weight step lasts; default
	// {min_requests: 1000, min_duration: 1m, max_duration: 1h}.
	Hold *Hold `mapstructure:"hold" json:"hold,omitempty"`
	// Approve waits for Required distinct approvers (role approver or
	// admin) while the previous step's weights stay; a reject rolls back.
	Approve *Approve `mapstructure:"approve" json:"approve,omitempty"`
}

// Hold bounds a step: it may pass once both minimums are met, and ends at
// MaxDuration (on_inconclusive) if it has not passed or failed by then.
type Hold struct {
	// MinRequests is the canary's requests in the step (weight steps) or
	// compared shadow answers (shadow steps) before it may pass; an
	// explicit 0 is kept. Default 1000 for both: at the default gates and
	// confidence, the p99 gate needs about 700 requests a version before
	// it can pass, the 1% error gate about 800, the 0.99 agreement gate
	// about 900 compared answers. Read it with Requests.
	MinRequests *int `mapstructure:"min_requests" json:"min_requests"`
	// MinDuration is the least time in the step; an explicit 0 is kept.
	// Default 1m (weight), 0 (shadow). Read it with Least.
	MinDuration *time.Duration `mapstructure:"min_duration" json:"min_duration"`
	// MaxDuration ends an undecided step. Default 1h; at least
	// MinDuration.
	MaxDuration time.Duration `mapstructure:"max_duration" json:"max_duration"`
}

// Approve is a sign-off step.
type Approve struct {
	// Required distinct approvers. Default 1.
	Required int `mapstructure:"required" json:"required"`
}

// RolloutGates are the limits a step is judged by, canary against
// baseline. Skip names gates not judged.
type RolloutGates struct {
	// MaxErrorRateIncrease: canary 5xx share minus baseline's, 0–1.
	// Default 0.01.
	MaxErrorRateIncrease *float64 `mapstructure:"max_error_rate_increase" json:"max_error_rate_increase"`
	// MaxP99Ratio: canary p99 latency over baseline's, > 0. Default 1.5.
	MaxP99Ratio *float64 `mapstructure:"max_p99_ratio" json:"max_p99_ratio"`
	// MinShadowAgreement: share of compared shadow answers within
	// tolerance, 0–1 (shadow steps). Default 0.99.
	MinShadowAgreement *float64 `mapstructure:"min_shadow_agreement" json:"min_shadow_agreement"`
	// MinTop1Agreement: share of compared answers with class scores whose
	// top-1 class agreed, 0–1 (shadow steps; not judged when the answers
	// carry no class scores). Default 0.995.
	MinTop1Agreement *float64 `mapstructure:"min_top1_agreement" json:"min_top1_agreement"`
	// Skip lists gates (by the names above) that are not judged.
	Skip []string `mapstructure:"skip" json:"skip,omitempty"`
}

// Webhook receives a rollout's events as JSON POSTs.
type Webhook struct {
	// URL, http:// or https://; required.
	URL string `mapstructure:"url" json:"url"`
	// SecretEnv names the environment variable holding the HMAC-SHA256
	// key; the signature is sent in X-Modelgate-Signature. Default "":
	// unsigned.
	SecretEnv string `mapstructure:"secret_env" json:"secret_env,omitempty"`
}

// GateNames are the gate keys of rollout.gates, in judging order.
var GateNames = []string{"max_error_rate_increase", "max_p99_ratio", "min_shadow_agreement", "min_top1_agreement"}

// setDefaults fills a rollout's unset fields.
func (r *Rollout) setDefaults() {
	if r.Confidence == 0 {
		r.Confidence = DefaultRolloutConfidence
	}
	if r.OnFailure == "" {
		r.OnFailure = RolloutRollback
	}
	if r.OnInconclusive == "" {
		r.OnInconclusive = RolloutPause
	}
	if r.Interval == 0 {
		r.Interval = DefaultRolloutInterval
	}
	g := &r.Gates
	for _, f := range []struct {
		p   **float64
		def float64
	}{{&g.MaxErrorRateIncrease, DefaultMaxErrorRateIncrease}, {&g.MaxP99Ratio, DefaultMaxP99Ratio},
		{&g.MinShadowAgreement, DefaultMinShadowAgreement}, {&g.MinTop1Agreement, DefaultMinTop1Agreement}} {
		if *f.p == nil {
			*f.p = ptr(f.def)
		}
	}
	for i := range r.Steps {
		s := &r.Steps[i]
		switch {
		case s.Shadow != nil:
			s.Shadow.setDefaults(DefaultShadowStepMinRequests, 0)
		case s.Weight != nil:
			if s.Hold == nil {
				s.Hold = &Hold{}
			}
			s.Hold.setDefaults(DefaultHoldMinRequests, DefaultHoldMinDuration)
		case s.Approve != nil:
			if s.Approve.Required == 0 {
				s.Approve.Required = DefaultApprovalsRequired
			}
		}
	}
}

func (h *Hold) setDefaults(minRequests int, minDuration time.Duration) {
	if h.MinRequests == nil {
		h.MinRequests = ptr(minRequests)
	}
	if h.MinDuration == nil {
		h.MinDuration = ptr(minDuration)
	}
	if h.MaxDuration == 0 {
		h.MaxDuration = max(DefaultHoldMaxDuration, *h.MinDuration)
	}
}

// Requests returns MinRequests (0 when unset).
func (h *Hold) Requests() int {
	if h.MinRequests == nil {
		return 0
	}
	return *h.MinRequests
}

// Least returns MinDuration (0 when unset).
func (h *Hold) Least() time.Duration {
	if h.MinDuration == nil {
		return 0
	}
	return *h.MinDuration
}

// Judged reports whether gate (one of GateNames) is judged: not in Skip.
func (g RolloutGates) Judged(gate string) bool { return !slices.Contains(g.Skip, gate) }

// Limit returns gate's configured limit (defaults applied).
func (g RolloutGates) Limit(gate string) float64 {
	var p *float64
	switch gate {
	case "max_error_rate_increase":
		p = g.MaxErrorRateIncrease
	case "max_p99_ratio":
		p = g.MaxP99Ratio
	case "min_shadow_agreement":
		p = g.MinShadowAgreement
	case "min_top1_agreement":
		p = g.MinTop1Agreement
	}
	if p == nil {
		return math.NaN()
	}
	return *p
}

// Kind names a step's kind: "shadow", "weight" or "approve" ("" for an
// invalid step).
func (s RolloutStep) Kind() string {
	switch {
	case s.Shadow != nil:
		return "shadow"
	case s.Weight != nil:
		return "weight"
	case s.Approve != nil:
		return "approve"
	}
	return ""
}

// rollout checks model m's rollout block at path p (…models[j].rollout).
func (v *validator) rollout(p string, m *Model) {
	r := m.Rollout
	has := func(name string) bool {
		return slices.ContainsFunc(m.Versions, func(ver Version) bool { return ver.Name == name })
	}
	switch {
	case r.Canary == "":
		v.add(p+".canary", "is required: the version being released")
	case !has(r.Canary):
		v.add(p+".canary", "names no version of this model: %q", r.Canary)
	}
	switch {
	case r.Baseline == "":
		if len(m.Versions) < 2 {
			v.add(p, "needs a version besides the canary to compare it with")
		}
	case !has(r.Baseline):
		v.add(p+".baseline", "names no version of this model: %q", r.Baseline)
	case r.Baseline == r.Canary:
		v.add(p+".baseline", "must differ from the canary")
	}
	if m.Shadow != nil && m.Shadow.Version == r.Baseline && r.Baseline != "" {
		v.add(p+".baseline", "is the model's shadow version: the baseline must serve traffic")
	}
	switch n := len(r.Steps); {
	case n == 0:
		v.add(p+".steps", "at least one step is required, e.g. [{shadow: {}}, {weight: 5}, {weight: 100}]")
	case n > MaxRolloutSteps:
		v.add(p+".steps", "at most %d steps, got %d", MaxRolloutSteps, n)
	}
	for i, s := range r.Steps {
		sp := fmt.Sprintf("%s.steps[%d]", p, i)
		kinds := 0
		for _, set := range []bool{s.Shadow != nil, s.Weight != nil, s.Approve != nil} {
			if set {
				kinds++
			}
		}
		if kinds != 1 {
			v.add(sp, "must have exactly one of shadow, weight and approve")
			continue
		}
		if s.Hold != nil && s.Weight == nil {
			v.add(sp+".hold", "belongs to a weight step (a shadow step takes its hold inside shadow: {...})")
		}
		switch {
		case s.Shadow != nil:
			v.hold(sp+".shadow", s.Shadow)
			if lastWeight(r.Steps[:i]) > 0 {
				v.add(sp+".shadow", "must come before every weight step: a shadow step takes the canary's traffic away")
			}
		case s.Weight != nil:
			if w := *s.Weight; w < 1 || w > 100 {
				v.add(sp+".weight", "must be between 1 and 100 (the canary's percent), got %d", w)
			} else if i > 0 {
				if prev := lastWeight(r.Steps[:i]); w < prev {
					v.add(sp+".weight", "must not be below an earlier step's %d: weights only rise (sticky users move one way)", prev)
				}
			}
			if s.Hold != nil {
				v.hold(sp+".hold", s.Hold)
			}
		case s.Approve != nil:
			if s.Approve.Required < 1 {
				v.add(sp+".approve.required", "must be at least 1")
			}
		}
	}
	if len(r.Steps) > 0 && r.Steps[len(r.Steps)-1].Weight == nil {
		v.add(p+".steps", "the last step must be a weight step (usually weight: 100)")
	}
	if c := r.Confidence; !(c > 0.5 && c < 1) {
		v.add(p+".confidence", "must be above 0.5 and below 1, got %g", c)
	}
	switch r.OnFailure {
	case RolloutRollback, RolloutPause:
	default:
		v.add(p+".on_failure", "must be %q or %q, got %q", RolloutRollback, RolloutPause, r.OnFailure)
	}
	switch r.OnInconclusive {
	case RolloutRollback, RolloutPause, RolloutProceed:
	default:
		v.add(p+".on_inconclusive", "must be %q, %q or %q, got %q", RolloutPause, RolloutRollback, RolloutProceed, r.OnInconclusive)
	}
	if r.Interval < 10*time.Millisecond {
		v.add(p+".interval", "must be at least 10ms, got %s", r.Interval)
	}
	g := r.Gates
	gp := p + ".gates"
	if x := *g.MaxErrorRateIncrease; !inRange(x, 0, 1) {
		v.add(gp+".max_error_rate_increase", "must be between 0 and 1")
	}
	if x := *g.MaxP99Ratio; !(x > 0) || math.IsInf(x, 0) {
		v.add(gp+".max_p99_ratio", "must be a finite number above 0")
	}
	if x := *g.MinShadowAgreement; !inRange(x, 0, 1) {
		v.add(gp+".min_shadow_agreement", "must be between 0 and 1")
	}
	if x := *g.MinTop1Agreement; !inRange(x, 0, 1) {
		v.add(gp+".min_top1_agreement", "must be between 0 and 1")
	}
	for i, name := range g.Skip {
		if !slices.Contains(GateNames, name) {
			v.add(fmt.Sprintf("%s.skip[%d]", gp, i), "names no gate: %q (gates are %v)", name, GateNames)
		}
	}
	if len(r.Webhooks) > MaxRolloutWebhooks {
		v.add(p+".webhooks", "at most %d webhooks, got %d", MaxRolloutWebhooks, len(r.Webhooks))
	}
	for i, w := range r.Webhooks {
		wp := fmt.Sprintf("%s.webhooks[%d]", p, i)
		if u, err := url.Parse(w.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			v.add(wp+".url", "must be an http:// or https:// URL without credentials")
		}
		if w.SecretEnv != "" && !validEnvName(w.SecretEnv) {
			v.add(wp+".secret_env", "must be an environment variable name ([A-Z_][A-Z0-9_]*), got %q", w.SecretEnv)
		}
	}
}

func (v *validator) hold(p string, h *Hold) {
	if h.Requests() < 0 {
		v.add(p+".min_requests", "must not be negative")
	}
	if h.Least() < 0 {
		v.add(p+".min_duration", "must not be negative")
	}
	if h.MaxDuration < h.Least() {
		v.add(p+".max_duration", "must be at least min_duration (%s)", h.Least())
	}
}

// lastWeight is the weight of the last weight step in steps, 0 for none.
func lastWeight(steps []RolloutStep) int {
	for i := len(steps) - 1; i >= 0; i-- {
		if w := steps[i].Weight; w != nil {
			return *w
		}
	}
	return 0
}

func validEnvName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}
