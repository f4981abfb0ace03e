package rollout

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/rollout/judge"
)

// maxDecisions bounds the history one rollout keeps (the oldest go).
const maxDecisions = 500

// State is one rollout's persistent state: what survives a restart. The
// window's starting readings are not in it (they are the process's
// counters): a restarted gateway resumes the same step, its start time,
// approvals and looks, with a fresh window from the restart.
type State struct {
	Tenant   string `json:"tenant"`
	Model    string `json:"model"`
	Canary   string `json:"canary"`
	Baseline string `json:"baseline"`
	Phase    Phase  `json:"phase"`
	Reason   string `json:"reason,omitempty"`
	// PausedFrom is the phase a pause interrupted (resume returns to it).
	PausedFrom Phase `json:"paused_from,omitempty"`

	Step        int       `json:"step"`
	StepStarted time.Time `json:"step_started"`
	// WindowSince is when the current window began (the step's start, a
	// resume, or a restart).
	WindowSince time.Time      `json:"window_since"`
	Weights     map[string]int `json:"weights"`
	Before      map[string]int `json:"before"`
	Shadowing   bool           `json:"shadowing"`
	Approvals   []Approval     `json:"approvals,omitempty"`

	Looks      int    `json:"looks"`
	NextLook   uint64 `json:"next_look"`
	HoldLooked bool   `json:"hold_looked"`
	// Verdicts are the last look's.
	Verdicts []judge.Verdict `json:"verdicts,omitempty"`
	// LastBaseline is the baseline's window at the last look of a step
	// that gave it traffic (LastBaselineStep), judged against in steps
	// that give it none.
	LastBaseline     *judge.Window `json:"last_baseline,omitempty"`
	LastBaselineStep int           `json:"last_baseline_step,omitempty"`

	Started   time.Time  `json:"started"`
	Ended     *time.Time `json:"ended,omitempty"`
	Revision  uint64     `json:"revision,omitempty"`
	Decisions []Decision `json:"decisions,omitempty"`
}

// start returns the state of a rollout of m's r.Canary beginning at now,
// from m's weights then (they are what a rollback restores). It refuses
// (Phase Aborted) a model whose other versions have no weight.
func start(tenant string, m *configs.Model, now time.Time) *State {
	r := m.Rollout
	st := &State{Tenant: tenant, Model: m.Name, Canary: r.Canary, Baseline: r.Baseline,
		Before: weightsOf(m), Started: now}
	if st.Baseline == "" {
		st.Baseline = defaultBaseline(m, r.Canary)
	}
	others := 0
	for v, w := range st.Before {
		if v != r.Canary {
			others += w
		}
	}
	if others == 0 {
		st.Weights = maps.Clone(st.Before)
		st.end(Aborted, now, "no version but the canary has weight: nothing to roll back to")
		return st
	}
	st.enter(r, 0, now)
	return st
}

// enter makes step i current at now: its weights and shadow, a fresh
// window and looks, no approvals.
func (st *State) enter(r *configs.Rollout, i int, now time.Time) {
	st.Step, st.StepStarted, st.WindowSince = i, now, now
	st.Looks, st.NextLook, st.HoldLooked, st.Verdicts, st.Approvals = 0, 0, false, nil, nil
	st.Phase, st.Reason, st.PausedFrom = Running, "", ""
	s := r.Steps[i]
	switch s.Kind() {
	case "shadow":
		st.Weights, st.Shadowing = weightsAt(st.Before, st.Canary, 0), true
	case "weight":
		st.Weights, st.Shadowing = weightsAt(st.Before, st.Canary, *s.Weight), false
	case "approve":
		if st.Weights == nil {
			st.Weights = weightsAt(st.Before, st.Canary, 0)
		}
		st.Phase = WaitingApproval
		st.Reason = fmt.Sprintf("waiting for %d approval(s)", s.Approve.Required)
	}
}

// advance moves to the step after the current one, or completes.
func (st *State) advance(r *configs.Rollout, now time.Time) {
	if st.Step >= len(r.Steps)-1 {
		st.Shadowing = false
		st.end(Completed, now, "every step passed")
		return
	}
	st.enter(r, st.Step+1, now)
}

// rollBack restores the weights before the rollout (canary at 0) and ends
// it in phase p (RolledBack or Aborted).
func (st *State) rollBack(p Phase, now time.Time, reason string) {
	st.Weights, st.Shadowing = weightsAt(st.Before, st.Canary, 0), false
	st.end(p, now, reason)
}

func (st *State) end(p Phase, now time.Time, reason string) {
	st.Phase, st.Reason, st.PausedFrom = p, reason, ""
	t := now
	st.Ended = &t
}

// approvedBy reports whether name approved the current step.
func (st *State) approvedBy(name string) bool {
	return slices.ContainsFunc(st.Approvals, func(a Approval) bool { return a.Name == name })
}

// record appends d to the history, dropping the oldest beyond
// maxDecisions.
func (st *State) record(d Decision) {
	st.Decisions = append(st.Decisions, d)
	if n := len(st.Decisions) - maxDecisions; n > 0 {
		st.Decisions = slices.Delete(st.Decisions, 0, n)
	}
}

// status is the admin view of st at now with the window's counts.
func (st *State) status(r *configs.Rollout, win WindowView, now time.Time, history bool) Status {
	s := Status{Tenant: st.Tenant, Model: st.Model, Canary: st.Canary, Baseline: st.Baseline,
		Phase: st.Phase, Reason: st.Reason, Step: st.Step, StepStarted: st.StepStarted,
		Weights: maps.Clone(st.Weights), Before: maps.Clone(st.Before), Shadowing: st.Shadowing,
		Approvals: slices.Clone(st.Approvals), Window: win, Verdicts: slices.Clone(st.Verdicts),
		Looks: st.Looks, Started: st.Started, Ended: st.Ended, Revision: st.Revision}
	if r != nil {
		s.Steps = len(r.Steps)
		s.Plan = planOf(r)
		if st.Step < len(r.Steps) {
			step := r.Steps[st.Step]
			s.StepKind = step.Kind()
			if step.Approve != nil {
				s.ApprovalsRequired = step.Approve.Required
			}
		}
	}
	end := now
	if st.Ended != nil {
		end = *st.Ended
	}
	s.TimeInStep = end.Sub(st.StepStarted).Seconds()
	if history {
		s.Decisions = slices.Clone(st.Decisions)
	}
	return s
}
