package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/await"
	"github.com/modelgate/modelgate/internal/modelserver"
	"github.com/modelgate/modelgate/internal/testlog"
	"github.com/modelgate/modelgate/rollout"
	"github.com/modelgate/modelgate/rollout/judge"
	"github.com/modelgate/modelgate/tenants"
)

// rolloutConfig has two rollouts of canary v2 against v1:
//
//   - acme/fraud (v1 90, v2 10): an approve step needing 2 approvers, then
//     weight 100. It needs no traffic: approvals move it.
//   - globex/fraud (v1 1, v2 0): weight 5 held at most 50ms, then weight
//     100, judged every 10ms. With no traffic its look at max_duration is
//     inconclusive on both gates and it pauses (on_inconclusive's default).
//
// Operators (tokens are their names): ana and ben (approver), otto
// (operator), vera (viewer).
func rolloutConfig(v1, v2 *modelserver.Running) string {
	op := func(name, role string) string {
		return `    - {name: ` + name + `, token_sha256: "` + tenants.HashKey(name) + `", role: ` + role + "}\n"
	}
	model := func(w1, w2 int, rollout string) string {
		return `      - name: fraud
        health_check: {disabled: true}
        versions:
          - {name: v1, weight: ` + itoa(w1) + `, endpoints: ["` + v1.URL + `"]}
          - {name: v2, weight: ` + itoa(w2) + `, endpoints: ["` + v2.URL + `"]}
        rollout:
` + rollout
	}
	return `server: {listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0", shutdown_timeout: 5s}
admin:
  token_sha256: "` + tenants.HashKey("admin-token") + `"
  operators:
` + op("ana", "approver") + op("ben", "approver") + op("otto", "operator") + op("vera", "viewer") + `tenants:
  - name: acme
    api_keys: [{sha256: "` + tenants.HashKey("k-acme") + `"}]
    models:
` + model(90, 10, `          canary: v2
          steps:
            - approve: {required: 2}
            - weight: 100
`) + `  - name: globex
    api_keys: [{sha256: "` + tenants.HashKey("k-globex") + `"}]
    models:
` + model(1, 0, `          canary: v2
          interval: 10ms
          steps:
            - {weight: 5, hold: {min_requests: 500, min_duration: 10ms, max_duration: 50ms}}
            - weight: 100
`)
}

// startRollouts runs a gateway of rolloutConfig and waits until both
// rollouts started and globex/fraud paused after its inconclusive look.
func startRollouts(t *testing.T) *running {
	t.Helper()
	v1, v2 := startModel(t, "v1", 0), startModel(t, "v2", 0)
	path, _ := writeConfig(t, rolloutConfig(v1, v2))
	gw := startServe(t, path, t.TempDir())
	await.Until(t, 10*time.Second, "acme/fraud waiting for approval and globex/fraud paused", func() bool {
		return gw.rollout("acme/fraud").Phase == rollout.WaitingApproval && gw.rollout("globex/fraud").Phase == rollout.Paused
	})
	return gw
}

// rollout is GET /admin/rollouts/TARGET as vera, decoded (zero if absent).
func (r *running) rollout(target string) rollout.Status {
	r.t.Helper()
	var s rollout.Status
	if a := r.call("GET", "/admin/rollouts/"+target, "vera", ""); a.code == 200 {
		if err := json.Unmarshal([]byte(a.body), &s); err != nil {
			r.t.Fatalf("decoding the rollout %s: %v", target, err)
		}
	}
	return s
}

// timeInStep matches the one member of a rollout's JSON that changes
// with every read.
var timeInStep = regexp.MustCompile(`"time_in_step_seconds": [0-9.e+-]+`)

// sameButClock reports whether two rollout documents are the same text
// but for their time in step.
func sameButClock(a, b string) bool {
	const x = `"time_in_step_seconds": 0`
	return timeInStep.ReplaceAllString(a, x) == timeInStep.ReplaceAllString(b, x)
}

// wantErr fails unless the command exited code with nothing on stdout and
// stderr containing every one of errs.
func (c cliRun) wantErr(t *testing.T, code int, errs ...string) {
	t.Helper()
	if c.code != code || c.stdout != "" {
		t.Errorf("got exit %d, want %d (and no stdout); stdout:\n%s\nstderr:\n%s", c.code, code, c.stdout, c.stderr)
	}
	for _, e := range errs {
		if !strings.Contains(c.stderr, e) {
			t.Errorf("stderr lacks %q; got:\n%s", e, c.stderr)
		}
	}
}

// TestRolloutCLI drives a rollout through its approve step and every
// operator action with the CLI against a real gateway, checking what the
// status, the detail and explain show after each, and the exit codes of
// the refused actions.
func TestRolloutCLI(t *testing.T) {
	gw := startRollouts(t)

	t.Run("status table", func(t *testing.T) {
		r := gw.as("vera", "rollout", "status")
		r.want(t, 0)
		rows := tableRows(r.stdout, 0)
		want := [][]string{
			{"TENANT/MODEL", "CANARY", "STATE", "STEP", "WEIGHT", "ELAPSED", "SAMPLES", "VERDICTS"},
			{"acme/fraud", "v2", "vs", "v1", "waiting_approval", "0/2", "approve", "0%"},
			{"globex/fraud", "v2", "vs", "v1", "paused", "0/2", "weight", "5%"},
		}
		if len(rows) != len(want) || !equalRows(rows[:1], want[:1]) || !aligned(r.stdout, 0, 8) {
			t.Fatalf("status table:\n%s", r.stdout)
		}
		for i, w := range want[1:] {
			got := rows[i+1]
			if len(got) < len(w)+2 || strings.Join(got[:len(w)], " ") != strings.Join(w, " ") || got[len(w)+1] != "0/0" {
				t.Errorf("row %d: got %v, want it to start %v then ELAPSED and samples 0/0", i+1, got, w)
			}
		}
		if !strings.HasSuffix(strings.Join(rows[1], " "), " 0/0 -") {
			t.Errorf("acme/fraud has no look, want verdicts -: %v", rows[1])
		}
		if !strings.HasSuffix(strings.Join(rows[2], " "), " 0/0 max_error_rate_increase=inconclusive max_p99_ratio=inconclusive") {
			t.Errorf("globex/fraud: want its look's inconclusive verdicts: %v", rows[2])
		}
		// -o json: the API's document as is (but for the clock).
		if r, api := gw.as("vera", "rollout", "status", "-o", "json"), gw.call("GET", "/admin/rollouts", "vera", ""); r.code != 0 || !sameButClock(r.stdout, api.body) {
			t.Errorf("status -o json:\n%s\nwant the API's body:\n%s", r.stdout, api.body)
		}
	})

	t.Run("status detail", func(t *testing.T) {
		gw.as("vera", "rollout", "status", "acme/fraud").want(t, 0,
			"rollout acme/fraud: canary v2, baseline v1\n",
			"\nstate:      waiting_approval (waiting for 2 approval(s))\n",
			"\nstep:       0/2 approve, ",
			"\n  → 0  approve  2 distinct approval(s)\n",
			"\n    1  weight   canary 100%, hold ≥1,000 canary requests and ≥1m, at most 1h\n",
			"\nweights:    v1=90 v2=0 (canary 0%), before the rollout v1=90 v2=10\n",
			"\napprovals:  0 of 2\n",
			"\nlast look:  none in this step yet (0 looks)\n",
			"\ndecision:   ", " waiting_for_approval by rollout: waiting for 2 approval(s)\n")
		// The look's verdicts, one line each: gate, result, estimate, the
		// bounds against the threshold, the sample sizes.
		gw.as("vera", "rollout", "status", "globex/fraud").want(t, 0,
			"\nstate:      paused (no verdict after max_duration 50ms (0 canary samples): ",
			"\n  → 0  weight  canary 5%, hold ≥500 canary requests and ≥10ms, at most 50ms\n",
			"\nweights:    v1=95 v2=5 (canary 5%), before the rollout v1=1 v2=0\n",
			"\nlast look:  look 1 of at most 12: inconclusive\n",
			"\n  max_error_rate_increase  inconclusive  n/a  lower -100.00% ≤ 1% < upper +100.00%  (canary 0 req, baseline 0; 100 each needed)\n",
			"\n  max_p99_ratio            inconclusive  n/a  lower ×0.00 ≤ ×1.5 < upper ×∞         (canary 0 req, baseline 0; 100 each needed)\n")
	})

	t.Run("approvals", func(t *testing.T) {
		gw.as("ana", "rollout", "approve", "acme/fraud", "--comment", "dashboards look fine").want(t, 0,
			"acme/fraud: waiting_approval (waiting for 2 approval(s)), step 0/2 approve, canary v2 0% (v1=90 v2=0), approvals 1 of 2: ana\n")
		gw.as("vera", "rollout", "status", "acme/fraud").want(t, 0, "\napprovals:  1 of 2: ana\n", "\n  ana (approver) at ", `: "dashboards look fine"`)
		gw.as("ana", "rollout", "approve", "acme/fraud").wantErr(t, 5,
			"modelgate rollout approve: 409 Conflict: not allowed now: ana already approved this step (1 of 2)")
		gw.as("vera", "rollout", "approve", "acme/fraud").wantErr(t, 4, "modelgate rollout approve: 403 Forbidden: role not allowed: approve needs role approver")
		gw.as("otto", "rollout", "approve", "acme/fraud").wantErr(t, 4, "403 Forbidden")
		if s := gw.rollout("acme/fraud"); s.Phase != rollout.WaitingApproval || len(s.Approvals) != 1 {
			t.Fatalf("after refused approvals: %s with %d approvals, want waiting_approval with ana's only", s.Phase, len(s.Approvals))
		}
		gw.as("ben", "rollout", "approve", "acme/fraud").want(t, 0,
			"acme/fraud: running, step 1/2 weight, canary v2 100% (v1=0 v2=100)\n")
		if rb, _ := gw.routes("vera"); rb.weights("acme", "fraud") != "v1=0(rollout) v2=100(rollout)" {
			t.Errorf("routing after the second approval: %s, want v2 at 100 set by the rollout", rb.weights("acme", "fraud"))
		}
		gw.as("vera", "rollout", "status", "acme/fraud").want(t, 0, "\nstate:      running\n", "\nstep:       1/2 weight, ",
			"\n  ✓ 0  approve", "\n  → 1  weight ", "\nweights:    v1=0 v2=100 (canary 100%), before the rollout v1=90 v2=10\n")
		if r := gw.as("vera", "rollout", "status", "acme/fraud"); strings.Contains(r.stdout, "approvals:") {
			t.Errorf("a weight step shows approvals:\n%s", r.stdout)
		}
	})

	t.Run("reject and retry", func(t *testing.T) {
		gw.as("ana", "rollout", "reject", "acme/fraud").wantErr(t, 2, "modelgate rollout reject: a reject needs --comment TEXT", "nothing was sent", "\n\nUsage:\n")
		if s := gw.rollout("acme/fraud"); s.Phase != rollout.Running {
			t.Fatalf("a reject without comment reached the server: %s", s.Phase)
		}
		gw.as("ana", "rollout", "reject", "acme/fraud", "--comment", "p99 too high").want(t, 0,
			"acme/fraud: rolled_back (rejected by ana: p99 too high), step 1/2 weight, canary v2 0% (v1=90 v2=0)\n")
		if rb, _ := gw.routes("vera"); rb.weights("acme", "fraud") != "v1=90(file) v2=0(rollout)" {
			t.Errorf("routing after the reject: %s, want v1's weight back, v2 at 0", rb.weights("acme", "fraud"))
		}
		gw.as("vera", "rollout", "status", "acme/fraud").want(t, 0, "\n  ✓ 0  approve", "\n  ✗ 1  weight ", "\nstarted:    ", ", ended ")
		gw.as("ana", "rollout", "reject", "acme/fraud", "--comment", "again").wantErr(t, 5, "409 Conflict: not allowed now: the rollout is rolled_back")
		gw.as("vera", "rollout", "retry", "acme/fraud").wantErr(t, 4, "403 Forbidden")
		gw.as("otto", "rollout", "retry", "acme/fraud", "--comment", "fixed the p99").want(t, 0,
			"acme/fraud: waiting_approval (waiting for 2 approval(s)), step 0/2 approve, canary v2 0% (v1=90 v2=0), approvals 0 of 2\n")
	})

	t.Run("pause resume abort", func(t *testing.T) {
		gw.as("otto", "rollout", "resume", "acme/fraud").wantErr(t, 5, "the rollout is waiting_approval, not paused")
		gw.as("otto", "rollout", "pause", "acme/fraud", "--comment", "freeze").want(t, 0, "acme/fraud: paused (paused by otto: freeze), step 0/2 approve")
		gw.as("ana", "rollout", "approve", "acme/fraud").wantErr(t, 5, "the rollout is paused, not waiting for approval")
		gw.as("ana", "rollout", "promote", "acme/fraud", "--full").wantErr(t, 5, "step 0 is a sign-off: promote never replaces approvals")
		gw.as("otto", "rollout", "resume", "acme/fraud").want(t, 0, "acme/fraud: waiting_approval (waiting for 2 approval(s)), step 0/2 approve, canary v2 0% (v1=90 v2=0), approvals 0 of 2\n")
		gw.as("ana", "rollout", "promote", "acme/fraud").wantErr(t, 5, "the rollout is waiting_approval: only a running or paused step can be promoted")
		gw.as("otto", "rollout", "abort", "acme/fraud").want(t, 0, "acme/fraud: aborted (aborted by otto), step 0/2 approve, canary v2 0% (v1=90 v2=0)")
		gw.as("otto", "rollout", "abort", "acme/fraud").wantErr(t, 5, "the rollout is aborted")
		gw.as("vera", "rollout", "status", "acme/fraud").want(t, 0, "\n  ✗ 0  approve")
		// -o json: the answer's status as is.
		r := gw.as("otto", "rollout", "retry", "acme/fraud", "-o", "json")
		var s rollout.Status
		if err := json.Unmarshal([]byte(r.stdout), &s); r.code != 0 || err != nil || s.Phase != rollout.WaitingApproval || len(s.Decisions) == 0 {
			t.Errorf("retry -o json: exit %d, %v:\n%s", r.code, err, r.stdout)
		}
	})

	t.Run("explain", func(t *testing.T) {
		r := gw.as("vera", "rollout", "explain", "acme/fraud")
		r.want(t, 0, "acme/fraud: waiting_approval (waiting for 2 approval(s)), step 0/2 approve")
		lines := strings.Split(r.stdout, "\n")
		type decision struct{ action, actor string }
		want := []decision{{"started", "rollout"}, {"waiting_for_approval", "rollout"}, {"approved", "ana"}, {"approved", "ben"},
			{"step_advanced", "rollout"}, {"rejected", "ana"}, {"retried", "otto"}, {"paused", "otto"}, {"resumed", "otto"},
			{"aborted", "otto"}, {"retried", "otto"}}
		if len(lines) < len(want)+2 || strings.Join(strings.Fields(lines[1]), " ") != "# TIME STEP KIND ACTION ACTOR RESULT REASON" {
			t.Fatalf("explain:\n%s", r.stdout)
		}
		for i, w := range want {
			f := strings.Fields(lines[i+2])
			if len(f) < 8 || f[0] != itoa(i+1) || f[4] != w.action || f[5] != w.actor {
				t.Errorf("decision %d: got %q, want action %s by %s", i+1, lines[i+2], w.action, w.actor)
			}
		}
		if !aligned(strings.Join(lines[1:len(want)+2], "\n"), 0, 8) {
			t.Errorf("explain table not aligned:\n%s", r.stdout)
		}
		for _, s := range []string{"approval 1 of 2 by ana: dashboards look fine", "2 approval(s) received", "rejected by ana: p99 too high", "retried by otto: fixed the p99"} {
			if !strings.Contains(r.stdout, s) {
				t.Errorf("explain lacks the reason %q:\n%s", s, r.stdout)
			}
		}
		// A look's verdicts with every input.
		gw.as("vera", "rollout", "explain", "globex/fraud").want(t, 0,
			"\n#2 paused at step 0 (weight), ",
			": inconclusive\n  window since ",
			"\n  max_error_rate_increase: inconclusive: canary has 0 requests and baseline 0; at least 100 each are needed\n",
			"\n    method newcombe-wilson difference of proportions, confidence 99.7917% (z 2.865), threshold 1%, at least 100 samples a side\n",
			"\n    canary    n 0  events 0  value n/a  bounds [0.000%, 100.000%]\n",
			"\n    baseline  n 0  events 0  value n/a  bounds [0.000%, 100.000%]\n",
			"\n    estimate n/a, interval [-100.000%, +100.000%]\n",
			"\n  max_p99_ratio: inconclusive: ",
			"\n    method distribution-free quantile CI from histogram buckets, confidence 99.7917%, quantile 0.99, threshold ×1.5, ",
			"\n    canary    n 0  events -  value n/a  bounds [0s, ∞]",
			"\n    estimate n/a, interval [×0.000, ×∞]\n")
		if r, api := gw.as("vera", "rollout", "explain", "acme/fraud", "-o", "json"), gw.call("GET", "/admin/rollouts/acme/fraud", "vera", ""); r.code != 0 ||
			!strings.Contains(r.stdout, `"decisions": [`) || !sameButClock(r.stdout, api.body) {
			t.Errorf("explain -o json: exit %d\n%s\nwant the API's body:\n%s", r.code, r.stdout, api.body)
		}
	})

	// --full: globex/fraud, paused at step 0 of 2, completes at once (a
	// plain promote would only reach step 1).
	t.Run("promote full", func(t *testing.T) {
		gw.as("otto", "rollout", "promote", "globex/fraud", "--full").wantErr(t, 4, "403 Forbidden: role not allowed: promote needs role approver")
		gw.as("ana", "rollout", "promote", "globex/fraud", "--full", "--comment", "hotfix").want(t, 0,
			"globex/fraud: completed (every step passed), step 1/2 weight, canary v2 100% (v1=0 v2=100)\n")
		if s := gw.rollout("globex/fraud"); len(s.Decisions) == 0 || s.Decisions[len(s.Decisions)-1].Reason != "promoted by ana: hotfix" {
			t.Errorf("the promote's decision: %+v", s.Decisions)
		}
	})

	t.Run("not found", func(t *testing.T) {
		for _, args := range [][]string{{"rollout", "status", "acme/churn"}, {"rollout", "explain", "nope/fraud"},
			{"rollout", "watch", "acme/churn"}, {"rollout", "abort", "acme/churn"}} {
			gw.as("otto", args...).wantErr(t, 1, "modelgate rollout "+args[1]+": 404 Not Found: no rollout for that model")
		}
		gw.as("", "rollout", "status").wantErr(t, 4, "401 Unauthorized", "no token given")
	})

	// 409 is exit 5 for every command: weights of a model in a rollout.
	t.Run("weights owned by the rollout", func(t *testing.T) {
		gw.as("otto", "weights", "acme/fraud", "v1=50", "v2=50").wantErr(t, 5,
			"modelgate weights: 409 Conflict: the model's weights are owned by its rollout")
	})
}

// TestRolloutCLIUsage: usage errors exit 2 and send nothing (they run
// against an address where nothing listens, which would be exit 1).
func TestRolloutCLIUsage(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := "http://" + closed.Addr().String()
	closed.Close()
	for _, tt := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"rollout"}, "modelgate rollout: want a subcommand: status, watch, "},
		{[]string{"rollout", "frob", "acme/fraud"}, `modelgate rollout: unknown subcommand "frob"`},
		{[]string{"rollout", "status", "acme"}, `modelgate rollout status: want TENANT/MODEL, got "acme"`},
		{[]string{"rollout", "status", "acme/fraud", "acme/churn"}, "want one TENANT/MODEL, got 2 arguments"},
		{[]string{"rollout", "explain"}, "want one TENANT/MODEL, got 0 arguments"},
		{[]string{"rollout", "approve"}, "modelgate rollout approve: want one TENANT/MODEL"},
		{[]string{"rollout", "reject", "acme/fraud"}, "a reject needs --comment TEXT"},
		{[]string{"rollout", "reject", "acme/fraud", "--comment", "  "}, "a reject needs --comment TEXT"},
		{[]string{"rollout", "approve", "acme/fraud", "--full"}, "--full is not a flag of approve"},
		{[]string{"rollout", "status", "--comment", "x"}, "--comment is not a flag of status"},
		{[]string{"rollout", "explain", "acme/fraud", "--interval", "1s"}, "--interval is not a flag of explain"},
		{[]string{"rollout", "watch", "acme/fraud", "--interval", "10ms"}, "--interval must be at least 100ms, got 10ms"},
		{[]string{"rollout", "watch", "acme/fraud", "--interval", "soon"}, `invalid value "soon" for flag -interval`},
		{[]string{"rollout", "--bogus", "status"}, "flag provided but not defined: -bogus"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := cli(t, append(tt.args, "--admin", nobody, "--token", "otto")...)
			r.wantErr(t, 2, tt.wantErr, "\n\nUsage:\n  modelgate rollout status")
		})
	}
	// Flags may come before the subcommand.
	r := cli(t, "rollout", "--admin", nobody, "--token", "otto", "reject", "--comment", "why", "acme/fraud")
	r.wantErr(t, 1, "modelgate rollout reject: cannot reach the admin API at "+nobody)
	if r := cli(t, "rollout", "-h"); r.code != 0 || !strings.Contains(r.stdout, "modelgate rollout watch TENANT/MODEL") || !strings.Contains(r.stdout, "5 not allowed in the current state (409") {
		t.Errorf("rollout -h: exit %d\n%s", r.code, r.stdout)
	}
}

// watchRun is a watch started in the background.
type watchRun struct {
	out    *testlog.Buffer
	errOut *testlog.Buffer
	done   chan int
	cancel context.CancelFunc
}

// watch starts `modelgate rollout watch` with token and args, stdout a
// buffer (not a terminal).
func (r *running) watch(token string, args ...string) *watchRun {
	ctx, cancel := context.WithCancel(context.Background())
	w := &watchRun{out: &testlog.Buffer{}, errOut: &testlog.Buffer{}, done: make(chan int, 1), cancel: cancel}
	args = append([]string{"rollout", "watch", "--admin", "http://" + r.admin, "--token", token, "--interval", "100ms"}, args...)
	go func() { w.done <- run(ctx, args, w.out, w.errOut) }()
	r.t.Cleanup(func() {
		cancel()
		<-w.done
	})
	return w
}

// shows waits until the watch's output contains s.
func (w *watchRun) shows(t *testing.T, s string) {
	t.Helper()
	await.Until(t, 10*time.Second, "watch to show "+s, func() bool { return strings.Contains(w.out.String(), s) })
}

// exit waits for the watch to return and its exit code.
func (w *watchRun) exit(t *testing.T) int {
	t.Helper()
	select {
	case code := <-w.done:
		w.done <- code // for the cleanup
		return code
	case <-time.After(10 * time.Second):
		t.Fatalf("watch did not return; output:\n%s\nstderr:\n%s", w.out.String(), w.errOut.String())
		return 0
	}
}

// TestRolloutWatch runs watch against a real gateway with stdout a buffer
// while other CLI calls move the rollout: it prints a block per change,
// and returns when the rollout ends (1 aborted, 0 completed) or on Ctrl-C
// (130).
func TestRolloutWatch(t *testing.T) {
	gw := startRollouts(t)

	t.Run("aborted", func(t *testing.T) {
		w := gw.watch("vera", "acme/fraud")
		w.shows(t, "state:      waiting_approval")
		gw.as("otto", "rollout", "abort", "acme/fraud").want(t, 0, "aborted")
		if code := w.exit(t); code != 1 {
			t.Errorf("watch of an aborted rollout: exit %d, want 1; stderr %s", code, w.errOut.String())
		}
		out := w.out.String()
		if !strings.Contains(out, "\nstate:      aborted (aborted by otto)\n") ||
			!strings.HasSuffix(out, "\nthe rollout ended: acme/fraud: aborted (aborted by otto), step 0/2 approve, canary v2 0% (v1=90 v2=0), approvals 0 of 2\n") {
			t.Errorf("watch output:\n%s", out)
		}
		// Not a terminal: no escape sequences, and a block only per change
		// (the clock alone is none): waiting, then aborted.
		if strings.Contains(out, "\x1b[") || strings.Count(out, "\n# ") != 1 || !strings.HasPrefix(out, "# ") {
			t.Errorf("want exactly two blocks and no escapes:\n%q", out)
		}
	})

	t.Run("interrupted", func(t *testing.T) {
		gw.as("otto", "rollout", "retry", "acme/fraud").want(t, 0, "waiting_approval")
		w := gw.watch("vera", "acme/fraud", "-o", "json")
		w.shows(t, "\n")
		w.cancel() // Ctrl-C
		if code := w.exit(t); code != exitInterrupted {
			t.Errorf("watch after Ctrl-C: exit %d, want %d", code, exitInterrupted)
		}
		var s rollout.Status
		if lines := strings.Split(strings.TrimSuffix(w.out.String(), "\n"), "\n"); len(lines) != 1 ||
			json.Unmarshal([]byte(lines[0]), &s) != nil || s.Phase != rollout.WaitingApproval {
			t.Errorf("watch -o json: want one JSON line of the waiting rollout:\n%s", w.out.String())
		}
	})

	t.Run("completed", func(t *testing.T) {
		gw.as("ana", "rollout", "approve", "acme/fraud").want(t, 0, "approvals 1 of 2: ana")
		w := gw.watch("vera", "acme/fraud")
		w.shows(t, "approvals:  1 of 2: ana\n")
		gw.as("ben", "rollout", "approve", "acme/fraud").want(t, 0, "running, step 1/2 weight")
		w.shows(t, "state:      running\n")
		gw.as("ana", "rollout", "promote", "acme/fraud", "--comment", "ship it").want(t, 0, "acme/fraud: completed (every step passed), step 1/2 weight, canary v2 100% (v1=0 v2=100)")
		if code := w.exit(t); code != 0 {
			t.Errorf("watch of a completed rollout: exit %d, want 0; stderr %s", code, w.errOut.String())
		}
		out := w.out.String()
		if strings.Count(out, "\n# ") != 2 || !strings.Contains(out, "\n  ✓ 0  approve") || !strings.Contains(out, "\n  ✓ 1  weight") ||
			!strings.HasSuffix(out, "the rollout ended: acme/fraud: completed (every step passed), step 1/2 weight, canary v2 100% (v1=0 v2=100)\n") {
			t.Errorf("want three blocks (1 of 2, running, completed):\n%s", out)
		}
	})

	t.Run("already over", func(t *testing.T) {
		var out bytes.Buffer
		code := run(context.Background(), []string{"rollout", "watch", "acme/fraud", "--admin", "http://" + gw.admin, "--token", "vera"}, &out, io.Discard)
		if code != 0 || strings.Count(out.String(), "# ") != 1 {
			t.Errorf("watch of a completed rollout: exit %d, want 0 at once with one block:\n%s", code, out.String())
		}
	})
}

// TestRolloutVerdictLine renders verdicts the real judge computes from
// known counts: the bound that decides is the one named, at enough
// decimals to differ from the threshold.
func TestRolloutVerdictLine(t *testing.T) {
	conf := 0.95
	tests := []struct {
		desc string
		v    judge.Verdict
		want string
	}{
		{desc: "error rate pass", v: judge.ErrorRateIncrease(judge.Window{Requests: 2000, Errors: 4}, judge.Window{Requests: 38000, Errors: 38}, 0.01, conf),
			want: "max_error_rate_increase pass +0.10% upper +0.35% ≤ 1% (canary 2,000 req, baseline 38,000)"},
		{desc: "error rate fail", v: judge.ErrorRateIncrease(judge.Window{Requests: 2000, Errors: 100}, judge.Window{Requests: 38000, Errors: 38}, 0.01, conf),
			want: "max_error_rate_increase fail +4.90% lower +4.16% > 1% (canary 2,000 req, baseline 38,000)"},
		{desc: "error rate undecided", v: judge.ErrorRateIncrease(judge.Window{Requests: 200, Errors: 3}, judge.Window{Requests: 400, Errors: 2}, 0.01, conf),
			want: "max_error_rate_increase inconclusive +1.00% lower -0.34% ≤ 1% < upper +3.22% (canary 200 req, baseline 400)"},
		{desc: "too few", v: judge.ErrorRateIncrease(judge.Window{Requests: 50}, judge.Window{Requests: 5000}, 0.5, conf),
			want: "max_error_rate_increase inconclusive +0.00% upper +5.13% ≤ 50% (canary 50 req, baseline 5,000; 100 each needed)"},
		{desc: "agreement pass", v: judge.ShadowAgreement(judge.Window{ShadowCompared: 2000, ShadowMatched: 1995}, 0.99, conf),
			want: "min_shadow_agreement pass 99.75% lower 99.49% ≥ 99% (canary 2,000 compared)"},
		{desc: "agreement fail", v: judge.ShadowAgreement(judge.Window{ShadowCompared: 2000, ShadowMatched: 1900}, 0.99, conf),
			want: "min_shadow_agreement fail 95.00% upper 95.74% < 99% (canary 2,000 compared)"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := strings.Join(strings.Fields(strings.Join(verdictCells(tt.v), " ")), " "); got != tt.want {
				t.Errorf("got  %s\nwant %s\n(verdict %s: %s)", got, tt.want, tt.v.Result, tt.v.Reason)
			}
		})
	}
	// A bound equal to the threshold at 2 decimals gets more of them.
	v := judge.ShadowAgreement(judge.Window{ShadowCompared: 2000, ShadowMatched: 1995}, 0.99, conf)
	v.Inputs.Threshold = float64(v.Inputs.Lower) - 1e-6
	if got := verdictCells(v)[3]; got != "lower 99.4873% ≥ 99.4872%" {
		t.Errorf("a bound next to the threshold: got %q", got)
	}
}
