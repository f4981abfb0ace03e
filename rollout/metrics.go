package rollout

import (
	"github.com/modelgate/modelgate/rollout/judge"
	"github.com/prometheus/client_golang/prometheus"
)

// phases lists every Phase, the values of modelgate_rollout_state's state
// label.
var phases = []Phase{Running, WaitingApproval, Paused, RolledBack, Completed, Aborted}

// metrics are the controller's collectors: one series set per rollout,
// deleted when the rollout ends (its block leaves the config).
type metrics struct {
	step, weight, inStep *prometheus.GaugeVec
	state                *prometheus.GaugeVec
	verdicts             *prometheus.CounterVec
	windowRequests       *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	tm := []string{"tenant", "model"}
	m := &metrics{
		step: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "modelgate", Name: "rollout_step",
			Help: "Index (0-based) of the rollout's current step, by tenant and model."}, tm),
		weight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "modelgate", Name: "rollout_canary_weight_percent",
			Help: "The canary's percent of the model's unpinned traffic as the rollout sets it."}, tm),
		inStep: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "modelgate", Name: "rollout_step_seconds",
			Help: "Time the rollout has spent in its current step."}, tm),
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "modelgate", Name: "rollout_state",
			Help: "1 for the rollout's current state (running, waiting_approval, paused, rolled_back, completed, aborted), 0 for the others."},
			[]string{"tenant", "model", "state"}),
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "modelgate", Name: "rollout_verdicts_total",
			Help: "Gate verdicts of rollout looks, by tenant, model, gate and result (pass, fail, inconclusive)."},
			[]string{"tenant", "model", "gate", "result"}),
		windowRequests: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "modelgate", Name: "rollout_window_samples",
			Help: "Samples in the current step's window, by version role (canary, baseline): requests, or compared answers for the canary in a shadow step."},
			[]string{"tenant", "model", "role"}),
	}
	reg.MustRegister(m.step, m.weight, m.inStep, m.state, m.verdicts, m.windowRequests)
	return m
}

// set exports st's gauges at now.
func (m *metrics) set(st *State, inStep float64, canaryN, baselineN uint64) {
	t, mo := st.Tenant, st.Model
	m.step.WithLabelValues(t, mo).Set(float64(st.Step))
	m.weight.WithLabelValues(t, mo).Set(share(st.Weights, st.Canary))
	m.inStep.WithLabelValues(t, mo).Set(inStep)
	for _, p := range phases {
		v := 0.0
		if p == st.Phase {
			v = 1
		}
		m.state.WithLabelValues(t, mo, string(p)).Set(v)
	}
	m.windowRequests.WithLabelValues(t, mo, "canary").Set(float64(canaryN))
	m.windowRequests.WithLabelValues(t, mo, "baseline").Set(float64(baselineN))
}

// judged counts a look's verdicts.
func (m *metrics) judged(st *State, vs []judge.Verdict) {
	for _, v := range vs {
		m.verdicts.WithLabelValues(st.Tenant, st.Model, v.Gate, v.Result.String()).Inc()
	}
}

// forget deletes every series of tenant/model.
func (m *metrics) forget(tenant, model string) {
	l := prometheus.Labels{"tenant": tenant, "model": model}
	m.step.DeletePartialMatch(l)
	m.weight.DeletePartialMatch(l)
	m.inStep.DeletePartialMatch(l)
	m.state.DeletePartialMatch(l)
	m.verdicts.DeletePartialMatch(l)
	m.windowRequests.DeletePartialMatch(l)
}
