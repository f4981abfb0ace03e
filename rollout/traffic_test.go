package rollout_test

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/await"
	"github.com/modelgate/modelgate/rollout"
	"github.com/modelgate/modelgate/rollout/judge"
)

// The gates of these tests are the defaults where a test is about them
// and looser where it is not: on a shared 2-core machine under the race
// detector, with the rest of the suite running, latency noise between two
// identical containers is real (their p99s differ by a few times at the
// tail), and the default 1% error-rate gate needs about a thousand
// requests a side to pass.

func TestGoodCanaryCompletes(t *testing.T) {
	ms := startModels(t, goodWeights)
	s := startStack(t, configText(ms, `canary: v2
interval: 20ms
gates: {max_error_rate_increase: 0.03, max_p99_ratio: 10, min_shadow_agreement: 0.98, min_top1_agreement: 0.98}
steps:
  - shadow: {min_requests: 300}
  - weight: 50
    hold: {min_requests: 300, min_duration: 0s}
  - weight: 100
    hold: {min_requests: 300, min_duration: 0s}
`), "")
	s.drive(90*time.Second, "the rollout to end", func() bool { return s.phase() != "" && !s.phase().Active() })
	st := s.status(tokVic)
	if st.Phase != rollout.Completed {
		t.Fatalf("the good canary ended %s: %s", st.Phase, st.Reason)
	}
	want := []string{"started@0", "step_advanced@0", "step_advanced@1", "completed@2"}
	if got := actions(st); !slices.Equal(got, want) {
		t.Fatalf("decisions %v, want %v", got, want)
	}
	if w := s.weights(); !maps.Equal(w, map[string]int{"v1": 0, "v2": 100}) {
		t.Fatalf("weights after completion %v", w)
	}
	// Every step decided on evidence: the shadow step on agreement, the
	// weighted ones on error rate and p99, the last against the
	// baseline's window of step 1 (it gives the baseline no traffic).
	for _, d := range st.Decisions {
		if d.Action != rollout.ActionAdvanced && d.Action != rollout.ActionCompleted {
			continue
		}
		if d.Result != "pass" {
			t.Errorf("step %d ended %s with result %q", d.Step, d.Action, d.Result)
		}
		gates := map[string]judge.Result{}
		for _, v := range d.Verdicts {
			gates[v.Gate] = v.Result
		}
		switch d.Kind {
		case "shadow":
			if gates[judge.GateShadowAgreement] != judge.Pass || gates[judge.GateErrorRate] != judge.Pass {
				t.Errorf("shadow step verdicts %v", gates)
			}
		case "weight":
			if gates[judge.GateP99Ratio] != judge.Pass || gates[judge.GateErrorRate] != judge.Pass {
				t.Errorf("step %d verdicts %v", d.Step, gates)
			}
		}
	}
	// Each step change is a revision of source rollout.
	revs, err := s.plane.Revisions(0, 50)
	if err != nil {
		t.Fatal(err)
	}
	rolloutRevs := 0
	for _, r := range revs {
		if r.Source == "rollout" {
			rolloutRevs++
		}
	}
	if rolloutRevs < 3 {
		t.Errorf("%d revisions of source rollout, want one per step change (3)", rolloutRevs)
	}
}

func TestErroringCanaryRollsBackAtItsFirstWeightedStep(t *testing.T) {
	ms := startModels(t, goodWeights)
	ms.v2.Server.SetFailRatio(http.StatusInternalServerError, 0.03)
	s := startStack(t, configText(ms, `canary: v2
interval: 20ms
gates: {max_p99_ratio: 100}
steps:
  - weight: 40
    hold: {min_requests: 3000, min_duration: 0s}
  - weight: 100
`), "")
	s.drive(90*time.Second, "the rollout to roll back", func() bool { return s.phase() == rollout.RolledBack })
	// The phase shows at once; the revision number is recorded once the
	// Plane has applied the rollback.
	await.Until(t, 5*time.Second, "the rollback's revision", func() bool {
		st := s.status(tokVic)
		return st.Decisions[len(st.Decisions)-1].Revision != 0
	})
	st := s.status(tokVic)
	if st.Step != 0 || !strings.Contains(st.Reason, judge.GateErrorRate) {
		t.Fatalf("rolled back at step %d: %s", st.Step, st.Reason)
	}
	if w := s.weights(); !maps.Equal(w, map[string]int{"v1": 100, "v2": 0}) {
		t.Fatalf("weights after rollback %v", w)
	}
	// The rollback was applied within one evaluation of the failed look.
	last := st.Decisions[len(st.Decisions)-1]
	if last.Action != rollout.ActionRolledBack || last.Revision == 0 {
		t.Fatalf("last decision %+v", last)
	}
	rev, ok, err := s.plane.Revision(last.Revision)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if lag := rev.Time.Sub(last.Time); lag > time.Second || lag < 0 {
		t.Fatalf("rollback revision %s after the failed verdict", lag)
	}
	var errVerdict *judge.Verdict
	for i := range last.Verdicts {
		if last.Verdicts[i].Gate == judge.GateErrorRate {
			errVerdict = &last.Verdicts[i]
		}
	}
	if errVerdict == nil || errVerdict.Result != judge.Fail || float64(errVerdict.Inputs.Lower) <= 0.01 {
		t.Fatalf("error verdict %+v", errVerdict)
	}
}

func TestDriftingCanaryNeverGetsTraffic(t *testing.T) {
	ms := startModels(t, []float64{0.1, 0.9, -0.7, 0.4}) // answers unlike v1's
	s := startStack(t, configText(ms, `canary: v2
interval: 20ms
steps:
  - shadow: {min_requests: 2000}
  - weight: 5
  - weight: 100
`), "")
	s.drive(60*time.Second, "the rollout to roll back", func() bool { return s.phase() == rollout.RolledBack })
	st := s.status(tokVic)
	if st.Step != 0 || !strings.Contains(st.Reason, judge.GateShadowAgreement) {
		t.Fatalf("rolled back at step %d: %s", st.Step, st.Reason)
	}
	for _, r := range ms.v2.Server.Requests() {
		if strings.Contains(r.Path, "/infer") && r.Header.Get("X-Modelgate-Shadow") == "" {
			t.Fatalf("the canary got a primary request: %s %v", r.Path, r.Header)
		}
	}
	if w := s.weights(); w["v2"] != 0 {
		t.Fatalf("weights after rollback %v", w)
	}
	// The phase shows at once; the Plane applies the rollback's routing
	// right after (within the evaluation interval).
	await.Until(t, time.Second, "the rollback's routing without the rollout's shadow", func() bool {
		for _, tn := range s.plane.Running().Routing {
			for _, m := range tn.Models {
				if m.Shadow != nil {
					return false
				}
			}
		}
		return true
	})
}

func TestSlowCanaryFailsTheP99Gate(t *testing.T) {
	ms := startModels(t, goodWeights)
	// Delays well above the latency noise of a loaded machine (60 ms and
	// more at the tail under the race detector with the rest of the suite
	// running), which the p99's upper confidence bound rightly takes in.
	ms.v1.Server.SetDelay(300 * time.Millisecond)
	ms.v2.Server.SetDelay(600 * time.Millisecond)
	s := startStack(t, configText(ms, `canary: v2
interval: 20ms
gates: {max_error_rate_increase: 0.5}
steps:
  - weight: 50
    hold: {min_requests: 100000, min_duration: 0s}
  - weight: 100
`), "")
	s.driveWith(64, 120*time.Second, "the rollout to roll back", func() bool { return s.phase() == rollout.RolledBack })
	st := s.status(tokVic)
	if st.Step != 0 || !strings.Contains(st.Reason, judge.GateP99Ratio) {
		t.Fatalf("rolled back at step %d: %s", st.Step, st.Reason)
	}
}

func TestNoTrafficIsInconclusive(t *testing.T) {
	ms := startModels(t, goodWeights)
	s := startStack(t, configText(ms, `canary: v2
interval: 10ms
steps:
  - weight: 10
    hold: {min_requests: 0, min_duration: 0s, max_duration: 300ms}
  - weight: 100
`), "")
	await.Until(t, 10*time.Second, "the step to reach max_duration", func() bool { return s.phase() == rollout.Paused })
	st := s.status(tokVic)
	if st.Step != 0 || !strings.Contains(st.Reason, "no verdict after max_duration") {
		t.Fatalf("paused at step %d: %s", st.Step, st.Reason)
	}
	for _, d := range st.Decisions {
		if d.Result == "pass" || d.Action == rollout.ActionAdvanced {
			t.Fatalf("a decision without traffic: %+v", d)
		}
	}
	if len(st.Verdicts) == 0 {
		t.Fatal("no verdicts recorded")
	}
	for _, v := range st.Verdicts {
		if v.Result != judge.Inconclusive || v.Inputs.Canary.N != 0 {
			t.Fatalf("verdict without traffic: %+v", v)
		}
	}
	if w := s.weights(); w["v2"] != 10 {
		t.Fatalf("a paused rollout keeps its weights; got %v", w)
	}
}

func TestRestartResumesTheStep(t *testing.T) {
	ms := startModels(t, goodWeights)
	text := configText(ms, approveFirst)
	s := startStack(t, text, "")
	await.Until(t, 5*time.Second, "the rollout to start", func() bool { return s.phase() == rollout.WaitingApproval })
	for _, tok := range []string{tokAnn, tokBob} {
		if code, body := s.admin("POST", "/admin/rollouts/acme/fraud/approve", tok, ""); code != 200 {
			t.Fatalf("approve: %d %s", code, body)
		}
	}
	before := s.status(tokVic)
	if before.Step != 1 {
		t.Fatalf("step %d", before.Step)
	}
	s.stop()

	s2 := startStack(t, text, s.dir)
	after := s2.status(tokVic)
	if after.Step != before.Step || after.Phase != before.Phase || !after.StepStarted.Equal(before.StepStarted) ||
		!maps.Equal(after.Weights, before.Weights) {
		t.Fatalf("after restart: step %d %s since %s weights %v; before: step %d %s since %s weights %v",
			after.Step, after.Phase, after.StepStarted, after.Weights, before.Step, before.Phase, before.StepStarted, before.Weights)
	}
	if w := s2.weights(); !maps.Equal(w, before.Weights) {
		t.Fatalf("serving weights after restart %v, want %v", w, before.Weights)
	}
	if !after.Window.Since.After(before.Window.Since) {
		t.Fatalf("the window did not restart: since %s, before %s", after.Window.Since, before.Window.Since)
	}
	// A file reload while the rollout runs keeps its weights.
	s2.reload(text + "# touched\n")
	if w := s2.weights(); !maps.Equal(w, before.Weights) {
		t.Fatalf("weights after a file reload %v, want the rollout's %v", w, before.Weights)
	}
}

func TestRollbackRestoresStickyUsers(t *testing.T) {
	ms := startModels(t, goodWeights)
	s := startStack(t, configText(ms, `canary: v2
interval: 20ms
steps:
  - weight: 50
    hold: {min_requests: 100000, min_duration: 1h}
  - weight: 100
`), "")
	await.Until(t, 5*time.Second, "the canary's weight", func() bool { return s.weights()["v2"] == 50 })
	const users = 200
	during := map[string]string{}
	for u := range users {
		user := "user-" + itoa(u)
		code, v := s.infer(user)
		if code != 200 {
			t.Fatalf("infer: %d", code)
		}
		during[user] = v
		if code, again := s.infer(user); code != 200 || again != v {
			t.Fatalf("user %s moved from %s to %s within a step", user, v, again)
		}
	}
	onCanary := 0
	for _, v := range during {
		if v == "v2" {
			onCanary++
		}
	}
	if onCanary < users/4 || onCanary > 3*users/4 {
		t.Fatalf("%d of %d users on the canary at 50%%", onCanary, users)
	}
	if code, body := s.admin("POST", "/admin/rollouts/acme/fraud/reject", tokAnn, `{"comment":"support tickets"}`); code != 200 {
		t.Fatalf("reject: %d %s", code, body)
	}
	for user := range during {
		if code, v := s.infer(user); code != 200 || v != "v1" {
			t.Fatalf("after rollback user %s is served by %s (%d)", user, v, code)
		}
	}
}
