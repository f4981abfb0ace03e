package rollout

import (
	"fmt"
	"strings"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/rollout/judge"
)

// MaxLooks is how many times one step's window is judged at most. Looks
// are planned by evidence, not by the clock: the first when the canary
// has judge.MinSamples samples, then each time its sample size doubles,
// one when the step's hold is first met, and a last one at max_duration
// (always kept in reserve). Each gate of each look is judged at
// judge.LookConfidence(confidence, MaxLooks × gates), so that by
// Bonferroni's inequality a step of equal versions fails — or a canary
// worse than a gate's limit passes — with probability at most
// 1 − confidence, however long the step runs.
const MaxLooks = 12

// evidence is what a look judges.
type evidence struct {
	canary, baseline judge.Window
	// baselineStep is the step whose window the baseline's is, when the
	// current step gives the baseline no traffic (a weight: 100 step);
	// -1 when it is the current step's.
	baselineStep int
}

// outcome is what a look (or the lack of one) decides.
type outcome struct {
	action   string // "" (nothing), ActionLook, ActionAdvanced, ActionCompleted, ActionRolledBack, ActionPaused
	reason   string
	result   judge.Result
	verdicts []judge.Verdict
	looked   bool
}

// judgedKind is the kind of gates a step is judged by: its own, or for an
// approve step the traffic it holds (shadow copies or a weight).
func (st *State) judgedKind(r *configs.Rollout) string {
	if k := r.Steps[st.Step].Kind(); k != "approve" {
		return k
	}
	if st.Shadowing {
		return "shadow"
	}
	if st.Weights[st.Canary] > 0 {
		return "weight"
	}
	return ""
}

// gatesOf lists the gates a step of kind is judged by, skips removed.
func gatesOf(kind string, g configs.RolloutGates) []string {
	var names []string
	switch kind {
	case "shadow":
		names = []string{judge.GateErrorRate, judge.GateShadowAgreement, judge.GateTop1Agreement}
	case "weight":
		names = []string{judge.GateErrorRate, judge.GateP99Ratio}
	}
	out := names[:0]
	for _, n := range names {
		if g.Judged(n) {
			out = append(out, n)
		}
	}
	return out
}

// judgeGates judges ev by the gates of kind at the per-look confidence.
// The top-1 gate is left out once the canary has judge.MinSamples compared
// answers and none carried class scores: the model does not classify.
func judgeGates(kind string, r *configs.Rollout, ev evidence) []judge.Verdict {
	gates := gatesOf(kind, r.Gates)
	conf := judge.LookConfidence(r.Confidence, MaxLooks*max(len(gates), 1))
	var out []judge.Verdict
	for _, gate := range gates {
		limit := r.Gates.Limit(gate)
		switch gate {
		case judge.GateErrorRate:
			out = append(out, judge.ErrorRateIncrease(ev.canary, ev.baseline, limit, conf))
		case judge.GateP99Ratio:
			out = append(out, judge.P99Ratio(ev.canary.Latency, ev.baseline.Latency, limit, conf))
		case judge.GateShadowAgreement:
			out = append(out, judge.ShadowAgreement(ev.canary, limit, conf))
		case judge.GateTop1Agreement:
			if ev.canary.Top1Compared == 0 && ev.canary.ShadowCompared >= judge.MinSamples {
				continue
			}
			out = append(out, judge.Top1Agreement(ev.canary, limit, conf))
		}
	}
	return out
}

// sampleSize is the canary's evidence count a step of kind holds for:
// compared answers (shadow) or requests (weight).
func sampleSize(kind string, w judge.Window) uint64 {
	if kind == "shadow" {
		return w.ShadowCompared
	}
	return w.Requests
}

// decide is one evaluation of st's current step (Running or
// WaitingApproval) at now with the window's evidence: whether a look is
// due, and if so its verdict and what it makes the rollout do. It updates
// st's look bookkeeping (Looks, NextLook, HoldLooked, Verdicts,
// LastBaseline) and nothing else; the caller carries the action out.
func decide(st *State, r *configs.Rollout, ev evidence, now time.Time) outcome {
	step := r.Steps[st.Step]
	kind := st.judgedKind(r)
	n := sampleSize(kind, ev.canary)
	var hold *configs.Hold
	switch step.Kind() {
	case "shadow":
		hold = step.Shadow
	case "weight":
		hold = step.Hold
	}
	inStep := now.Sub(st.StepStarted)
	holdMet := hold != nil && n >= uint64(hold.Requests()) && inStep >= hold.Least()
	timedOut := hold != nil && inStep >= hold.MaxDuration
	due := false
	if st.NextLook == 0 {
		st.NextLook = judge.MinSamples
	}
	if n >= st.NextLook {
		due = true
		for st.NextLook <= n {
			st.NextLook *= 2
		}
	}
	if holdMet && !st.HoldLooked {
		due = true
		st.HoldLooked = true
	}
	if st.Looks >= MaxLooks-1 {
		due = false // the last look is kept for max_duration
	}
	if timedOut {
		due = true
	}
	if !due || kind == "" {
		return outcome{}
	}
	st.Looks++
	o := outcome{looked: true, verdicts: judgeGates(kind, r, ev)}
	o.result = judge.Combine(o.verdicts...)
	st.Verdicts = o.verdicts
	if ev.baselineStep < 0 && ev.baseline.Requests >= judge.MinSamples && kind == "weight" {
		b := ev.baseline
		st.LastBaseline = &b
		st.LastBaselineStep = st.Step
	}
	last := st.Step == len(r.Steps)-1
	switch {
	case o.result == judge.Fail:
		o.action, o.reason = onFailure(r.OnFailure), "gate failed: "+failed(o.verdicts)
	case step.Kind() == "approve":
		o.action = ActionLook
	case o.result == judge.Pass && holdMet && last:
		o.action, o.reason = ActionCompleted, "last step passed every gate"
	case o.result == judge.Pass && holdMet:
		o.action, o.reason = ActionAdvanced, fmt.Sprintf("step %d passed every gate", st.Step)
	case timedOut:
		o.reason = fmt.Sprintf("no verdict after max_duration %s (%d canary samples): %s", hold.MaxDuration, n, undecided(o.verdicts))
		switch r.OnInconclusive {
		case configs.RolloutRollback:
			o.action = ActionRolledBack
		case configs.RolloutProceed:
			o.action = ActionAdvanced
			if last {
				o.action = ActionCompleted
			}
		default:
			o.action = ActionPaused
		}
	default:
		o.action = ActionLook
	}
	return o
}

func onFailure(policy string) string {
	if policy == configs.RolloutPause {
		return ActionPaused
	}
	return ActionRolledBack
}

// failed joins the reasons of the failed verdicts.
func failed(vs []judge.Verdict) string {
	var parts []string
	for _, v := range vs {
		if v.Result == judge.Fail {
			parts = append(parts, v.Gate+": "+v.Reason)
		}
	}
	return strings.Join(parts, "; ")
}

// undecided joins the reasons of the verdicts that are not Pass.
func undecided(vs []judge.Verdict) string {
	var parts []string
	for _, v := range vs {
		if v.Result != judge.Pass {
			parts = append(parts, v.Gate+": "+v.Reason)
		}
	}
	if len(parts) == 0 {
		return "min_requests not reached"
	}
	return strings.Join(parts, "; ")
}
