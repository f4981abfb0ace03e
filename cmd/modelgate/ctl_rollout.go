package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/modelgate/modelgate/rollout"
)

const rolloutUsage = `Usage:
  modelgate rollout status [TENANT/MODEL] [flags]
      without an argument every rollout the token sees (GET /admin/rollouts), a
      row each: canary vs baseline, state, step i/n and its kind (steps are
      numbered from 0, as the API and the rollout's reasons number them), the
      canary's share of the traffic, time in the step, the window's samples
      canary/baseline and the last look's verdict per gate. With TENANT/MODEL
      the detail (GET /admin/rollouts/TENANT/MODEL): the steps with the current
      one marked, the weights now and before the rollout, approvals, the window,
      and the last look's verdicts, a line per gate: result, estimate, the bound
      that decides against the threshold, sample sizes.
  modelgate rollout watch TENANT/MODEL [--interval 1s] [flags]
      the detail, read every --interval (default 1s, at least 100ms): on a
      terminal redrawn in place; otherwise a new block each time the state,
      step, weights, approvals or a look's verdicts change (not for the clock
      or the window's counts). Ends when the rollout does: exit 0 when it
      completed, 1 when it was rolled back or aborted; a failed read ends it
      with that read's exit code (1, or 4 for the token); 130 on Ctrl-C.
      -o json: the rollout's JSON, one line per change.
  modelgate rollout explain TENANT/MODEL [flags]
      every decision of the rollout, oldest first (time, step, kind, action,
      actor, reason), then each look's verdicts with their inputs: method,
      confidence, threshold, per version n, events, value and bounds, the
      estimate and its interval.
  modelgate rollout ACTION TENANT/MODEL [--comment TEXT] [--full] [flags]
      ACTION is approve, reject, promote (role approver or admin), pause,
      resume, abort or retry (role operator or above); POST
      /admin/rollouts/TENANT/MODEL/ACTION, then prints the rollout's state.
      --comment TEXT goes with the decision and into the audit log; reject
      needs one (else exit 2, nothing is sent). --full (promote only): to the
      last step at once. Exit 5 when the rollout's state does not allow the
      action (409: not waiting for approval, the same approver twice, promote
      over an approve step, retry of a running rollout).
`

// rolloutSub is a rollout subcommand and the flags it accepts besides
// the common ones.
type rolloutSub struct {
	name  string
	flags []string
}

// rolloutSubcommands are the rollout subcommands, in the usage's order.
var rolloutSubcommands = []rolloutSub{
	{"status", nil}, {"watch", []string{"interval"}}, {"explain", nil},
	{rollout.OpApprove, []string{"comment"}}, {rollout.OpReject, []string{"comment"}},
	{rollout.OpPromote, []string{"comment", "full"}}, {rollout.OpPause, []string{"comment"}},
	{rollout.OpResume, []string{"comment"}}, {rollout.OpAbort, []string{"comment"}},
	{rollout.OpRetry, []string{"comment"}},
}

// minWatchInterval bounds how often watch reads the admin API.
const minWatchInterval = 100 * time.Millisecond

// exitInterrupted is watch's exit code after Ctrl-C (SIGINT), as a shell
// reports a command that SIGINT ended.
const exitInterrupted = 130

// rolloutCmd runs "modelgate rollout SUBCOMMAND …".
func rolloutCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const base = "modelgate rollout"
	var comment string
	var full bool
	var interval time.Duration
	var fs *flag.FlagSet
	c, pos, code := parseCtl(ctx, base, rolloutUsage, args, stdout, stderr, func(f *flag.FlagSet) {
		fs = f
		f.StringVar(&comment, "comment", "", "why, recorded with the decision and in the audit log")
		f.BoolVar(&full, "full", false, "promote: to the last step at once")
		f.DurationVar(&interval, "interval", time.Second, "watch: how often to read the rollout")
	})
	if c == nil {
		return code
	}
	if len(pos) == 0 {
		return usageError(stderr, base, rolloutUsage, "want a subcommand: status, watch, explain, approve, reject, promote, pause, resume, abort or retry")
	}
	sub, pos := pos[0], pos[1:]
	i := slices.IndexFunc(rolloutSubcommands, func(s rolloutSub) bool { return s.name == sub })
	if i < 0 {
		return usageError(stderr, base, rolloutUsage, fmt.Sprintf("unknown subcommand %q", sub))
	}
	c.name = base + " " + sub
	var misplaced string
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "comment", "full", "interval":
			if !slices.Contains(rolloutSubcommands[i].flags, f.Name) && misplaced == "" {
				misplaced = f.Name
			}
		}
	})
	if misplaced != "" {
		return usageError(stderr, c.name, rolloutUsage, fmt.Sprintf("--%s is not a flag of %s", misplaced, sub))
	}
	var tenant, model string
	switch {
	case sub == "status" && len(pos) == 0:
	case len(pos) == 1:
		var ok bool
		if tenant, model, ok = splitTarget(pos[0], true); !ok {
			return usageError(stderr, c.name, rolloutUsage, fmt.Sprintf("want TENANT/MODEL, got %q", pos[0]))
		}
	default:
		return usageError(stderr, c.name, rolloutUsage, fmt.Sprintf("want one TENANT/MODEL, got %d arguments", len(pos)))
	}
	path := "/admin/rollouts/" + url.PathEscape(tenant) + "/" + url.PathEscape(model)
	switch sub {
	case "status":
		if tenant == "" {
			return c.rolloutList()
		}
		return c.rolloutShow(path, false)
	case "explain":
		return c.rolloutShow(path, true)
	case "watch":
		if interval < minWatchInterval {
			return usageError(stderr, c.name, rolloutUsage, fmt.Sprintf("--interval must be at least %v, got %v", minWatchInterval, interval))
		}
		return c.rolloutWatch(path, interval)
	}
	if sub == rollout.OpReject && strings.TrimSpace(comment) == "" {
		return usageError(stderr, c.name, rolloutUsage, "a reject needs --comment TEXT saying why (it is recorded with the rollback and in the audit log); nothing was sent")
	}
	body, _ := json.Marshal(struct {
		Comment string `json:"comment,omitempty"`
		Full    bool   `json:"full,omitempty"`
	}{comment, full})
	a, err := c.call(http.MethodPost, path+"/"+sub, body, "application/json", "")
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		c.printRaw(a.body)
		return exitOK
	}
	var s rollout.Status
	if err := json.Unmarshal(a.body, &s); err != nil {
		return c.fail(fmt.Errorf("the %s was done, but its answer is not the expected JSON: %w", sub, err))
	}
	fmt.Fprintln(c.stdout, statusLine(s))
	return exitOK
}

// rolloutList prints every rollout the token sees, a row each.
func (c *ctl) rolloutList() int {
	var doc struct {
		Rollouts []rollout.Status `json:"rollouts"`
	}
	a, err := c.getJSON("/admin/rollouts", &doc)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		c.printRaw(a.body)
		return exitOK
	}
	if len(doc.Rollouts) == 0 {
		fmt.Fprintln(c.stdout, "no rollouts (a model's rollout: block in the config file starts one)")
		return exitOK
	}
	tw := c.table()
	row(tw, "TENANT/MODEL", "CANARY", "STATE", "STEP", "WEIGHT", "ELAPSED", "SAMPLES", "VERDICTS")
	for _, s := range doc.Rollouts {
		row(tw, dash(s.Tenant+"/"+s.Model), dash(s.Canary)+" vs "+dash(s.Baseline), dash(string(s.Phase)), stepOf(s),
			fmtShare(canaryShare(s)), fmtSeconds(s.TimeInStep), samplesOf(s), gateResults(s))
	}
	tw.Flush()
	return exitOK
}

// rolloutShow prints one rollout: its detail, or with explain its history
// of decisions and verdicts.
func (c *ctl) rolloutShow(path string, explain bool) int {
	var s rollout.Status
	a, err := c.getJSON(path, &s)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		c.printRaw(a.body)
		return exitOK
	}
	if explain {
		printExplain(c.stdout, s)
	} else {
		printDetail(c.stdout, s)
	}
	return exitOK
}
