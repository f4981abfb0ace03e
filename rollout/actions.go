package rollout

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/rollout/judge"
)

type judgeWindow = judge.Window

func itoa(n int) string { return strconv.Itoa(n) }

// List returns the rollouts of the tenants visible says the caller sees,
// sorted by tenant and model, without their histories.
func (c *Controller) List(visible func(string) bool) []Status {
	c.mu.RLock()
	defer c.mu.RUnlock()
	now := c.o.Now()
	var out []Status
	for k, st := range c.states {
		if visible(k.tenant) {
			out = append(out, st.status(c.cfgs[k], c.viewLocked(k, st), now, false))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Tenant != out[j].Tenant {
			return out[i].Tenant < out[j].Tenant
		}
		return out[i].Model < out[j].Model
	})
	return out
}

// Get returns tenant/model's rollout with its history of decisions.
func (c *Controller) Get(tenant, model string) (Status, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	k := key{tenant, model}
	st := c.states[k]
	if st == nil {
		return Status{}, false
	}
	return st.status(c.cfgs[k], c.viewLocked(k, st), c.o.Now(), true), true
}

// viewLocked reads the window's counts now, for a status; called with
// c.mu held (read). A window that cannot be read shows as empty.
func (c *Controller) viewLocked(k key, st *State) WindowView {
	r := c.cfgs[k]
	w := c.windows[k]
	if r == nil || w == nil || st.Step >= len(r.Steps) || !st.Phase.Active() {
		return WindowView{Since: st.WindowSince}
	}
	cEnd := c.o.Stats.VersionCounts(st.Tenant, st.Model, st.Canary)
	bEnd := c.o.Stats.VersionCounts(st.Tenant, st.Model, st.Baseline)
	var cw, bw judge.Window
	if st.judgedKind(r) == "shadow" {
		cw, _ = ShadowWindow(cEnd, w.canary)
	} else {
		cw, _ = PrimaryWindow(cEnd, w.canary)
	}
	bw, _ = PrimaryWindow(bEnd, w.baseline)
	return WindowView{Since: st.WindowSince, Canary: countsOf(cw), Baseline: countsOf(bw)}
}

// needs is the least role each operator action requires.
var needs = map[string]string{
	OpApprove: configs.RoleApprover, OpReject: configs.RoleApprover, OpPromote: configs.RoleApprover,
	OpPause: configs.RoleOperator, OpResume: configs.RoleOperator, OpAbort: configs.RoleOperator, OpRetry: configs.RoleOperator,
}

// Act carries out an operator's action and returns the rollout's status
// after it. Errors wrap ErrNotFound, ErrForbidden, ErrConflict or
// ErrBadRequest, with a sentence saying why.
//
//   - approve (approver): counts the actor's approval of the current
//     approve step once; the step's required distinct approvals move the
//     rollout on.
//   - reject (approver, comment required): rolls back.
//   - promote (approver): ends the current step's wait and moves on; with
//     Full, goes to the last step's weights and completes. It never
//     replaces a sign-off: an approve step, current or skipped by Full, is
//     a conflict.
//   - pause, resume (operator): hold the weights and stop judging; resume
//     starts a fresh window in the same step.
//   - abort (operator): restores the weights before the rollout.
//   - retry (operator): starts a rolled-back, aborted or paused rollout
//     again from its first step.
func (c *Controller) Act(req Request) (Status, error) {
	need, known := needs[req.Op]
	if !known {
		return Status{}, fmt.Errorf("%w: unknown action %q", ErrBadRequest, req.Op)
	}
	if configs.RoleRank(req.Role) < configs.RoleRank(need) {
		return Status{}, fmt.Errorf("%w: %s needs role %s or above", ErrForbidden, req.Op, need)
	}
	c.mu.Lock()
	k := key{req.Tenant, req.Model}
	st, r := c.states[k], c.cfgs[k]
	if st == nil || r == nil {
		c.mu.Unlock()
		return Status{}, ErrNotFound
	}
	now := c.o.Now()
	var changes []change
	d := Decision{Time: now, Step: st.Step, Kind: r.Steps[min(st.Step, len(r.Steps)-1)].Kind(), Actor: req.Actor, Reason: req.Comment}
	conflict := func(format string, args ...any) (Status, error) {
		c.mu.Unlock()
		return Status{}, fmt.Errorf("%w: "+format, append([]any{ErrConflict}, args...)...)
	}
	switch req.Op {
	case OpApprove:
		if st.Phase != WaitingApproval {
			return conflict("the rollout is %s, not waiting for approval", st.Phase)
		}
		if st.approvedBy(req.Actor) {
			return conflict("%s already approved this step (%d of %d): approvals must come from distinct approvers",
				req.Actor, len(st.Approvals), r.Steps[st.Step].Approve.Required)
		}
		st.Approvals = append(st.Approvals, Approval{Name: req.Actor, Role: req.Role, Time: now, Comment: req.Comment})
		required := r.Steps[st.Step].Approve.Required
		d.Action = ActionApproved
		d.Reason = fmt.Sprintf("approval %d of %d by %s", len(st.Approvals), required, req.Actor)
		if req.Comment != "" {
			d.Reason += ": " + req.Comment
		}
		changes = append(changes, c.recordLocked(st, d, false))
		if len(st.Approvals) >= required {
			st.advance(r, now)
			c.windows[k] = c.read(st)
			changes = append(changes, c.recordLocked(st, Decision{Time: now, Step: st.Step, Kind: c.kindLocked(st, r),
				Action: advancedOrCompleted(st), Actor: "rollout", Reason: fmt.Sprintf("%d approval(s) received", required), Weights: st.Weights}, true))
		}
	case OpReject:
		if req.Comment == "" {
			c.mu.Unlock()
			return Status{}, fmt.Errorf("%w: a reject needs a comment saying why", ErrBadRequest)
		}
		if !st.Phase.Active() {
			return conflict("the rollout is %s", st.Phase)
		}
		st.rollBack(RolledBack, now, "rejected by "+req.Actor+": "+req.Comment)
		d.Action, d.Reason, d.Weights = ActionRejected, st.Reason, st.Weights
		changes = append(changes, c.recordLocked(st, d, true))
	case OpPromote:
		if st.Phase != Running && st.Phase != Paused {
			return conflict("the rollout is %s: only a running or paused step can be promoted", st.Phase)
		}
		if r.Steps[st.Step].Approve != nil {
			return conflict("step %d is a sign-off: promote never replaces approvals", st.Step)
		}
		if req.Full {
			for i := st.Step + 1; i < len(r.Steps); i++ {
				if r.Steps[i].Approve != nil {
					return conflict("step %d ahead is a sign-off: promote never replaces approvals", i)
				}
			}
			st.enter(r, len(r.Steps)-1, now)
		}
		st.advance(r, now)
		c.windows[k] = c.read(st)
		d.Action, d.Weights = ActionPromoted, st.Weights
		d.Reason = "promoted by " + req.Actor + joinComment(req.Comment)
		changes = append(changes, c.recordLocked(st, d, true))
		if st.Phase == WaitingApproval {
			changes = append(changes, c.recordLocked(st, Decision{Time: now, Step: st.Step, Kind: "approve",
				Action: ActionWaitingApproval, Actor: "rollout", Reason: st.Reason}, false))
		}
	case OpPause:
		if st.Phase != Running && st.Phase != WaitingApproval {
			return conflict("the rollout is %s", st.Phase)
		}
		st.PausedFrom, st.Phase, st.Reason = st.Phase, Paused, "paused by "+req.Actor+joinComment(req.Comment)
		d.Action, d.Reason = ActionPaused, st.Reason
		changes = append(changes, c.recordLocked(st, d, false))
	case OpResume:
		if st.Phase != Paused {
			return conflict("the rollout is %s, not paused", st.Phase)
		}
		st.Phase, st.Reason = st.PausedFrom, ""
		if st.Phase == "" {
			st.Phase = Running
		}
		if st.Phase == WaitingApproval {
			st.Reason = fmt.Sprintf("waiting for %d approval(s)", r.Steps[st.Step].Approve.Required)
		}
		st.PausedFrom = ""
		st.StepStarted, st.WindowSince = now, now
		st.Looks, st.NextLook, st.HoldLooked, st.Verdicts = 0, 0, false, nil
		c.windows[k] = c.read(st)
		d.Action, d.Reason = ActionResumed, "resumed by "+req.Actor+joinComment(req.Comment)
		changes = append(changes, c.recordLocked(st, d, false))
	case OpAbort:
		if !st.Phase.Active() {
			return conflict("the rollout is %s", st.Phase)
		}
		st.rollBack(Aborted, now, "aborted by "+req.Actor+joinComment(req.Comment))
		d.Action, d.Reason, d.Weights = ActionAborted, st.Reason, st.Weights
		changes = append(changes, c.recordLocked(st, d, true))
	case OpRetry:
		if st.Phase != RolledBack && st.Phase != Aborted && st.Phase != Paused {
			return conflict("the rollout is %s: only a rolled-back, aborted or paused rollout can be retried", st.Phase)
		}
		st.Started, st.Ended = now, nil
		st.LastBaseline = nil
		st.enter(r, 0, now)
		c.windows[k] = c.read(st)
		d.Action, d.Weights, d.Step, d.Kind = ActionRetried, st.Weights, 0, r.Steps[0].Kind()
		d.Reason = "retried by " + req.Actor + joinComment(req.Comment)
		changes = append(changes, c.recordLocked(st, d, true))
	}
	c.saveLocked()
	c.pending = append(c.pending, changes...)
	c.mu.Unlock()
	c.flush()
	s, _ := c.Get(req.Tenant, req.Model)
	return s, nil
}

func (c *Controller) kindLocked(st *State, r *configs.Rollout) string {
	if st.Step < len(r.Steps) {
		return r.Steps[st.Step].Kind()
	}
	return ""
}

func advancedOrCompleted(st *State) string {
	if st.Phase == Completed {
		return ActionCompleted
	}
	return ActionAdvanced
}

func joinComment(c string) string {
	if c == "" {
		return ""
	}
	return ": " + c
}
