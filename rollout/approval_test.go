package rollout_test

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/audit"
	"github.com/modelgate/modelgate/internal/await"
	"github.com/modelgate/modelgate/rollout"
)

// approveFirst signs off before the canary gets any traffic, then gives
// it 25%.
const approveFirst = `canary: v2
interval: 20ms
steps:
  - approve: {required: 2}
  - weight: 25
    hold: {min_requests: 100000, max_duration: 1h}
  - weight: 100
`

func TestApprovals(t *testing.T) {
	ms := startModels(t, goodWeights)
	s := startStack(t, configText(ms, approveFirst), "")
	await.Until(t, 5*time.Second, "the rollout to start", func() bool { return s.phase() == rollout.WaitingApproval })

	post := func(tok, action, body string) (int, string) {
		return s.admin("POST", "/admin/rollouts/acme/fraud/"+action, tok, body)
	}
	if code, body := post(tokVic, "approve", ""); code != 403 {
		t.Fatalf("a viewer's approval: %d %s", code, body)
	}
	if code, body := post(tokOps, "approve", ""); code != 403 {
		t.Fatalf("an operator's approval: %d %s", code, body)
	}
	if code, body := post(tokAnn, "approve", `{"comment":"offline eval ok"}`); code != 200 {
		t.Fatalf("ann's approval: %d %s", code, body)
	}
	if st := s.status(tokVic); st.Phase != rollout.WaitingApproval || len(st.Approvals) != 1 || st.ApprovalsRequired != 2 {
		t.Fatalf("after 1 of 2 approvals: %s, %d of %d", st.Phase, len(st.Approvals), st.ApprovalsRequired)
	}
	if code, body := post(tokAnn, "approve", ""); code != 409 || !strings.Contains(body, "distinct approvers") {
		t.Fatalf("ann approving twice: %d %s", code, body)
	}
	if st := s.status(tokVic); st.Step != 0 || len(st.Approvals) != 1 {
		t.Fatalf("the same approver twice moved the rollout: step %d, %d approvals", st.Step, len(st.Approvals))
	}
	if w := s.weights(); w["v2"] != 0 {
		t.Fatalf("the canary has weight %d before sign-off", w["v2"])
	}
	if code, body := post(tokBob, "approve", ""); code != 200 {
		t.Fatalf("bob's approval: %d %s", code, body)
	}
	st := s.status(tokVic)
	if st.Phase != rollout.Running || st.Step != 1 || st.Weights["v2"] != 25 || st.Weights["v1"] != 75 {
		t.Fatalf("after 2 approvals: %s step %d weights %v", st.Phase, st.Step, st.Weights)
	}
	if w := s.weights(); w["v2"] != 25 || w["v1"] != 75 {
		t.Fatalf("serving weights %v", w)
	}
	run := s.plane.Running()
	if run.Source != "rollout" || run.WeightSources["acme/fraud/v2"] != "rollout" {
		t.Fatalf("running revision %d: source %s, v2 weight source %s", run.N, run.Source, run.WeightSources["acme/fraud/v2"])
	}
	// An operator cannot take the weights from the rollout.
	code, body := s.admin("PUT", "/admin/tenants/acme/models/fraud/weights", tokOps, `{"weights":{"v1":50,"v2":50}}`)
	if code != 409 || !strings.Contains(body, "owned by its rollout") {
		t.Fatalf("setting weights of a model in a rollout: %d %s", code, body)
	}
	// /admin/routes shows who owns them.
	if code, body := s.admin("GET", "/admin/routes", tokVic, ""); code != 200 || !strings.Contains(body, `"weight_source": "rollout"`) {
		t.Fatalf("routes: %d %s", code, body)
	}
	want := []string{"started@0", "waiting_for_approval@0", "approved@0", "approved@0", "step_advanced@1"}
	if got := actions(s.status(tokVic)); !slices.Equal(got, want) {
		t.Fatalf("decisions %v, want %v", got, want)
	}

	// A reject needs a comment, then rolls back.
	if code, body := post(tokAnn, "reject", ""); code != 400 || !strings.Contains(body, "comment") {
		t.Fatalf("reject without comment: %d %s", code, body)
	}
	if code, body := post(tokAnn, "reject", `{"comment":"latency budget blown in staging"}`); code != 200 {
		t.Fatalf("reject: %d %s", code, body)
	}
	st = s.status(tokVic)
	if st.Phase != rollout.RolledBack || !strings.Contains(st.Reason, "latency budget") {
		t.Fatalf("after reject: %s (%s)", st.Phase, st.Reason)
	}
	if w := s.weights(); !maps.Equal(w, map[string]int{"v1": 100, "v2": 0}) {
		t.Fatalf("weights after reject %v", w)
	}

	// Retry starts over: approvals from before do not count.
	if code, body := post(tokOps, "retry", ""); code != 200 {
		t.Fatalf("retry: %d %s", code, body)
	}
	if st := s.status(tokVic); st.Phase != rollout.WaitingApproval || len(st.Approvals) != 0 || st.Step != 0 {
		t.Fatalf("after retry: %s step %d, %d approvals", st.Phase, st.Step, len(st.Approvals))
	}

	// The audit log has each operator action, refused ones included, and
	// the rollout's own steps.
	entries, err := s.alog.Query(audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Actor+":"+e.Action+":"+itoa(e.Status))
	}
	for _, w := range []string{"ann:rollout.approve:200", "ann:rollout.approve:409", "bob:rollout.approve:200",
		"rollout:rollout.step_advanced:200", "ann:rollout.reject:400", "ann:rollout.reject:200", "ops:rollout.retry:200",
		"vic:rollout.approve:403", "ops:weights:409"} {
		if !slices.Contains(got, w) {
			t.Errorf("audit log lacks %s; has %v", w, got)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
