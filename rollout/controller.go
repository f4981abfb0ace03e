package rollout

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/modelgate/modelgate/audit"
	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/revision"
	"github.com/prometheus/client_golang/prometheus"
)

// Plane is the control plane a rollout drives (control.Plane).
type Plane interface {
	Running() *revision.Revision
	Reapply(actor, reason string) (*revision.Revision, error)
}

// Stats reads a version's cumulative counts from the gateway's own
// collectors (observability.Metrics).
type Stats interface {
	VersionCounts(tenant, model, version string) observability.VersionCounts
}

// Auditor records the controller's own decisions (audit.Log).
type Auditor interface {
	Append(e audit.Entry) (audit.Entry, error)
}

// Notify hands an event to the webhooks (webhook.Sender.Send); it must
// not block.
type Notify func(hooks []configs.Webhook, eventType string, payload []byte)

// Options configure a Controller. Plane, Stats and Store are required.
type Options struct {
	Plane      Plane
	Stats      Stats
	Store      *Store
	Audit      Auditor // nil: not audited
	Notify     Notify  // nil: no webhooks
	Log        *slog.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time // default time.Now
}

type key struct{ tenant, model string }

// window is the current step's starting readings, in memory only.
type window struct {
	canary, baseline observability.VersionCounts
}

// Controller runs every model's rollout: it starts one when a model's
// config gains a rollout block (or names another canary), evaluates each
// active one every rollout.interval, moves it through its steps and rolls
// it back, and carries out operators' actions (Act). It owns the models'
// weights through the control plane: it is the Plane's Owner (Overlay,
// Owns), and every change it makes is a revision of source "rollout".
//
// Its lock guards the states; it never holds it while calling the Plane,
// which calls Overlay and Owns under its own lock.
type Controller struct {
	o Options
	m *metrics

	mu      sync.RWMutex
	states  map[key]*State
	windows map[key]*window
	cfgs    map[key]*configs.Rollout // the block each state runs by, as last seen
	pending []change                 // decided, not yet carried out (flush)

	// outMu serializes flush, so decisions are applied, audited and
	// announced in the order they were made, whichever of a tick and an
	// operator's action made them.
	outMu sync.Mutex
}

// New returns a Controller resuming the states in o.Store. Set it as the
// Plane's owner before the Plane starts, and Run it after.
func New(o Options) (*Controller, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	saved, err := o.Store.Load()
	if err != nil {
		return nil, err
	}
	c := &Controller{o: o, m: newMetrics(o.Registerer), states: map[key]*State{}, windows: map[key]*window{}, cfgs: map[key]*configs.Rollout{}}
	now := o.Now()
	for _, st := range saved {
		// The window restarts with the process: its counters are new.
		st.WindowSince, st.NextLook = now, 0
		c.states[key{st.Tenant, st.Model}] = st
		c.windows[key{st.Tenant, st.Model}] = &window{}
	}
	return c, nil
}

// Overlay implements control.Owner: routing with each model whose rollout
// block names the canary of a known rollout set as that rollout sets it:
// its weights, and its shadow (the rollout's while it shadows the canary,
// else the file's).
func (c *Controller) Overlay(routing, file []configs.Tenant) []configs.Tenant {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := routing
	cloned := map[int]bool{}
	for ti := range routing {
		for mi := range routing[ti].Models {
			m := &routing[ti].Models[mi]
			st := c.states[key{routing[ti].Name, m.Name}]
			if m.Rollout == nil || st == nil || st.Canary != m.Rollout.Canary {
				continue
			}
			nm, changed := overlaid(*m, fileShadow(file, routing[ti].Name, m.Name), st.Weights, st.Canary, st.Shadowing)
			if !changed {
				continue
			}
			if len(cloned) == 0 {
				out = append([]configs.Tenant(nil), routing...)
			}
			if !cloned[ti] {
				out[ti].Models = append([]configs.Model(nil), routing[ti].Models...)
				cloned[ti] = true
			}
			out[ti].Models[mi] = nm
		}
	}
	return out
}

// Owns implements control.Owner: a model with a rollout state owns its
// weights, in every phase, while the config names its canary.
func (c *Controller) Owns(tenant, model string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.states[key{tenant, model}] != nil
}

// Run evaluates the rollouts every interval (the smallest
// rollout.interval configured, 1s without rollouts) until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	interval := c.Tick()
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			t.Reset(c.Tick())
		}
	}
}

// change is a rollout decision to carry out after the lock is released.
type change struct {
	st      *State // a snapshot for the event
	d       Decision
	routing bool // the weights or shadow changed: the Plane must reapply
	hooks   []configs.Webhook
	ended   bool // the rollout's series are to be forgotten
}

// Tick evaluates every rollout once and returns when to evaluate next.
func (c *Controller) Tick() time.Duration {
	run := c.o.Plane.Running()
	if run == nil {
		return configs.DefaultRolloutInterval
	}
	now := c.o.Now()
	blocks := map[key]*configs.Model{}
	next := configs.DefaultRolloutInterval
	for ti := range run.Routing {
		for mi := range run.Routing[ti].Models {
			m := &run.Routing[ti].Models[mi]
			if m.Rollout != nil {
				blocks[key{run.Routing[ti].Name, m.Name}] = m
				next = min(next, m.Rollout.Interval)
			}
		}
	}
	c.mu.Lock()
	var changes []change
	for k, st := range c.states {
		if m := blocks[k]; m == nil || m.Rollout.Canary != st.Canary {
			changes = append(changes, change{st: snapshot(st), ended: true, hooks: c.hooksOf(k),
				d: Decision{Time: now, Step: st.Step, Action: ActionEnded, Actor: "rollout",
					Reason: "the config file no longer has this rollout (block removed or another canary)"}})
			delete(c.states, k)
			delete(c.windows, k)
			delete(c.cfgs, k)
		}
	}
	for k, m := range blocks {
		c.cfgs[k] = m.Rollout
		if c.states[k] != nil {
			continue
		}
		st := start(k.tenant, m, now)
		c.states[k] = st
		c.windows[k] = c.read(st)
		d := Decision{Time: now, Step: st.Step, Kind: m.Rollout.Steps[0].Kind(), Action: ActionStarted, Actor: "rollout",
			Reason: "rollout of " + st.Canary + " against " + st.Baseline + " started", Weights: st.Weights}
		if st.Phase == Aborted {
			d.Action, d.Reason = ActionAborted, st.Reason
		}
		changes = append(changes, c.recordLocked(st, d, true))
		if st.Phase == WaitingApproval {
			changes = append(changes, c.recordLocked(st, Decision{Time: now, Step: st.Step, Kind: "approve",
				Action: ActionWaitingApproval, Actor: "rollout", Reason: st.Reason}, false))
		}
	}
	for k, st := range c.states {
		r := c.cfgs[k]
		if st.Step >= len(r.Steps) {
			st.Step = len(r.Steps) - 1 // the file's steps shrank
		}
		ev, view, err := c.evidence(k, st, r)
		if err != nil {
			c.o.Log.Warn("rollout window restarted", "tenant", k.tenant, "model", k.model, "err", err)
			c.windows[k] = c.read(st)
			st.WindowSince = now
			continue
		}
		if st.Phase == Running || st.Phase == WaitingApproval {
			changes = append(changes, c.evaluate(st, r, ev, view, now)...)
		}
		c.m.set(st, st.status(r, view, now, false).TimeInStep, sampleSize(st.judgedKind(r), ev.canary), ev.baseline.Requests)
	}
	if len(changes) > 0 {
		c.saveLocked()
		c.pending = append(c.pending, changes...)
	}
	c.mu.Unlock()
	c.flush()
	return next
}

// flush carries out the pending changes, in the order they were decided.
func (c *Controller) flush() {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	c.mu.Lock()
	changes := c.pending
	c.pending = nil
	c.mu.Unlock()
	c.carryOut(changes)
}

// evaluate is one look at an active rollout; called with c.mu held.
func (c *Controller) evaluate(st *State, r *configs.Rollout, ev evidence, view WindowView, now time.Time) []change {
	step := st.Step
	kind := r.Steps[step].Kind()
	o := decide(st, r, ev, now)
	if !o.looked {
		return nil
	}
	c.m.judged(st, o.verdicts)
	d := Decision{Time: now, Step: step, Kind: kind, Action: o.action, Actor: "rollout", Reason: o.reason,
		Result: o.result.String(), Verdicts: o.verdicts, Window: &view}
	routing := false
	switch o.action {
	case ActionAdvanced, ActionCompleted:
		st.advance(r, now)
		c.windows[key{st.Tenant, st.Model}] = c.read(st)
		routing = true
	case ActionRolledBack:
		st.rollBack(RolledBack, now, o.reason)
		routing = true
	case ActionPaused:
		st.PausedFrom, st.Phase, st.Reason = st.Phase, Paused, o.reason
	case ActionLook:
		d.Reason = "look " + itoa(st.Looks) + " of at most " + itoa(MaxLooks) + ": " + o.result.String()
	}
	d.Weights = st.Weights
	out := []change{c.recordLocked(st, d, routing)}
	if o.action == ActionAdvanced && st.Phase == WaitingApproval {
		out = append(out, c.recordLocked(st, Decision{Time: now, Step: st.Step, Kind: "approve",
			Action: ActionWaitingApproval, Actor: "rollout", Reason: st.Reason}, false))
	}
	return out
}

// evidence reads the window of st's current step; called with c.mu held.
func (c *Controller) evidence(k key, st *State, r *configs.Rollout) (evidence, WindowView, error) {
	w := c.windows[k]
	if w == nil {
		w = &window{}
		c.windows[k] = w
	}
	cEnd := c.o.Stats.VersionCounts(st.Tenant, st.Model, st.Canary)
	bEnd := c.o.Stats.VersionCounts(st.Tenant, st.Model, st.Baseline)
	ev := evidence{baselineStep: -1}
	var err error
	if st.judgedKind(r) == "shadow" {
		ev.canary, err = ShadowWindow(cEnd, w.canary)
	} else {
		ev.canary, err = PrimaryWindow(cEnd, w.canary)
	}
	if err != nil {
		return ev, WindowView{}, err
	}
	if ev.baseline, err = PrimaryWindow(bEnd, w.baseline); err != nil {
		return ev, WindowView{}, err
	}
	view := WindowView{Since: st.WindowSince, Canary: countsOf(ev.canary), Baseline: countsOf(ev.baseline)}
	if st.judgedKind(r) == "weight" && st.Weights[st.Baseline] == 0 && st.LastBaseline != nil {
		ev.baseline, ev.baselineStep = *st.LastBaseline, st.LastBaselineStep
	}
	return ev, view, nil
}

// read takes the window's starting readings for st's versions.
func (c *Controller) read(st *State) *window {
	return &window{canary: c.o.Stats.VersionCounts(st.Tenant, st.Model, st.Canary),
		baseline: c.o.Stats.VersionCounts(st.Tenant, st.Model, st.Baseline)}
}

// recordLocked adds d to st's history and returns the change that
// announces it; called with c.mu held.
func (c *Controller) recordLocked(st *State, d Decision, routing bool) change {
	st.record(d)
	return change{st: snapshot(st), d: d, routing: routing, hooks: c.hooksOf(key{st.Tenant, st.Model})}
}

func (c *Controller) hooksOf(k key) []configs.Webhook {
	if r := c.cfgs[k]; r != nil {
		return r.Webhooks
	}
	return nil
}

// saveLocked stores every state; called with c.mu held. A failed save is
// logged: the rollout goes on from memory and the next change saves again.
func (c *Controller) saveLocked() {
	all := make([]*State, 0, len(c.states))
	for _, st := range c.states {
		all = append(all, st)
	}
	if err := c.o.Store.Save(all); err != nil {
		c.o.Log.Error("saving rollout state failed", "path", c.o.Store.Path(), "err", err)
	}
}

// carryOut applies the routing of changes (one Reapply for all of them),
// then audits and announces each; called by flush, without c.mu.
func (c *Controller) carryOut(changes []change) {
	if len(changes) == 0 {
		return
	}
	var reasons []string
	for _, ch := range changes {
		if ch.routing {
			reasons = append(reasons, ch.st.Tenant+"/"+ch.st.Model+": "+ch.d.Action+" ("+ch.d.Reason+")")
		}
	}
	var before, after *revision.Revision
	if len(reasons) > 0 {
		before = c.o.Plane.Running()
		r, err := c.o.Plane.Reapply("rollout", strings.Join(reasons, "; "))
		if err != nil {
			c.o.Log.Error("applying the rollout's routing failed", "err", err)
		} else {
			after = r
			c.mu.Lock()
			for _, ch := range changes {
				if st := c.states[key{ch.st.Tenant, ch.st.Model}]; st != nil && ch.routing {
					st.Revision = r.N
					for i := len(st.Decisions) - 1; i >= 0; i-- {
						if d := &st.Decisions[i]; d.Time.Equal(ch.d.Time) && d.Action == ch.d.Action && d.Revision == 0 {
							d.Revision = r.N
							break
						}
					}
				}
			}
			c.mu.Unlock()
		}
	}
	for _, ch := range changes {
		if ch.ended {
			c.m.forget(ch.st.Tenant, ch.st.Model)
		}
		// Operators' actions are audited by the admin API, which knows
		// their address and the outcome; the controller audits its own.
		if c.o.Audit != nil && ch.d.Action != ActionLook && ch.d.Actor == "rollout" {
			e := audit.Entry{Actor: "rollout", Role: "system", Action: "rollout." + ch.d.Action, Tenant: ch.st.Tenant,
				Model: ch.st.Model, Reason: ch.d.Reason, Status: 200}
			if ch.routing && before != nil && after != nil {
				e.BeforeRevision, e.BeforeHash, e.AfterRevision, e.AfterHash = before.N, before.Hash, after.N, after.Hash
			}
			if _, err := c.o.Audit.Append(e); err != nil {
				c.o.Log.Error("audit log write failed", "action", e.Action, "err", err)
			}
		}
		if ch.d.Action != ActionLook {
			c.o.Log.Info("rollout", "tenant", ch.st.Tenant, "model", ch.st.Model, "action", ch.d.Action,
				"step", ch.d.Step, "state", ch.st.Phase, "reason", ch.d.Reason)
			c.notify(ch, after)
		}
	}
}

// event is a webhook's JSON body.
type event struct {
	Type     string         `json:"type"`
	Time     time.Time      `json:"time"`
	Tenant   string         `json:"tenant"`
	Model    string         `json:"model"`
	Canary   string         `json:"canary"`
	Baseline string         `json:"baseline"`
	State    Phase          `json:"state"`
	Step     int            `json:"step"`
	Weights  map[string]int `json:"weights"`
	Actor    string         `json:"actor"`
	Reason   string         `json:"reason"`
	Result   string         `json:"result,omitempty"`
	Revision uint64         `json:"revision,omitempty"`
}

func (c *Controller) notify(ch change, after *revision.Revision) {
	if c.o.Notify == nil || len(ch.hooks) == 0 {
		return
	}
	e := event{Type: "rollout." + ch.d.Action, Time: ch.d.Time.UTC(), Tenant: ch.st.Tenant, Model: ch.st.Model,
		Canary: ch.st.Canary, Baseline: ch.st.Baseline, State: ch.st.Phase, Step: ch.st.Step, Weights: ch.st.Weights,
		Actor: ch.d.Actor, Reason: ch.d.Reason, Result: ch.d.Result}
	if ch.routing && after != nil {
		e.Revision = after.N
	}
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	c.o.Notify(ch.hooks, e.Type, b)
}

// snapshot copies what an event and an audit entry need of st.
func snapshot(st *State) *State {
	return &State{Tenant: st.Tenant, Model: st.Model, Canary: st.Canary, Baseline: st.Baseline, Phase: st.Phase,
		Step: st.Step, Weights: st.Weights}
}

func countsOf(w judgeWindow) Counts {
	return Counts{Requests: w.Requests, Errors: w.Errors, Compared: w.ShadowCompared, Matched: w.ShadowMatched,
		Top1Compared: w.Top1Compared, Top1Agreed: w.Top1Agreed}
}
