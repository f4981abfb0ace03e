package rollout

import (
	"errors"
	"time"

	"github.com/modelgate/modelgate/rollout/judge"
)

// Phase is where a rollout is.
type Phase string

// Phases. Running, WaitingApproval and Paused are active: the rollout owns
// the model's weights and acts on verdicts (Paused only on operators).
// RolledBack, Completed and Aborted are final until retry (RolledBack,
// Aborted) or a new canary; their weights stay while the file names the
// same canary.
const (
	Running         Phase = "running"
	WaitingApproval Phase = "waiting_approval"
	Paused          Phase = "paused"
	RolledBack      Phase = "rolled_back"
	Completed       Phase = "completed"
	Aborted         Phase = "aborted"
)

// Active reports whether p is Running, WaitingApproval or Paused.
func (p Phase) Active() bool { return p == Running || p == WaitingApproval || p == Paused }

// Approval is one approver's sign-off of an approve step.
type Approval struct {
	Name    string    `json:"name"`
	Role    string    `json:"role"`
	Time    time.Time `json:"time"`
	Comment string    `json:"comment,omitempty"`
}

// Counts are one version's counts over a step's window, as the status
// shows them (the judge's inputs are in the verdicts).
type Counts struct {
	Requests uint64 `json:"requests"`
	Errors   uint64 `json:"errors"`
	// Compared and Matched are shadow answers (shadow steps, canary only).
	Compared uint64 `json:"compared,omitempty"`
	Matched  uint64 `json:"matched,omitempty"`
	// Top1Compared and Top1Agreed are compared answers with class scores.
	Top1Compared uint64 `json:"top1_compared,omitempty"`
	Top1Agreed   uint64 `json:"top1_agreed,omitempty"`
}

// WindowView is what a step's window holds so far.
type WindowView struct {
	Since    time.Time `json:"since"`
	Canary   Counts    `json:"canary"`
	Baseline Counts    `json:"baseline"`
}

// Decision is one thing the rollout did or was told to do, with what it
// was based on: the history explain shows.
type Decision struct {
	Time   time.Time `json:"time"`
	Step   int       `json:"step"`
	Kind   string    `json:"kind"`   // the step's kind: shadow, weight, approve
	Action string    `json:"action"` // see the Action* constants
	Actor  string    `json:"actor"`  // "rollout" for the controller's own decisions
	Reason string    `json:"reason"`
	// Result is the combined verdict of a look ("" for actions).
	Result   string          `json:"result,omitempty"`
	Verdicts []judge.Verdict `json:"verdicts,omitempty"`
	Window   *WindowView     `json:"window,omitempty"`
	Weights  map[string]int  `json:"weights,omitempty"` // the weights after it
	Revision uint64          `json:"revision,omitempty"`
}

// Actions recorded in Decision.Action (and sent as webhook event types,
// prefixed "rollout.").
const (
	ActionStarted         = "started"
	ActionLook            = "look" // a judged look that changed nothing
	ActionAdvanced        = "step_advanced"
	ActionWaitingApproval = "waiting_for_approval"
	ActionApproved        = "approved"
	ActionRejected        = "rejected"
	ActionPromoted        = "promoted"
	ActionPaused          = "paused"
	ActionResumed         = "resumed"
	ActionRolledBack      = "rolled_back"
	ActionCompleted       = "completed"
	ActionAborted         = "aborted"
	ActionRetried         = "retried"
	ActionEnded           = "ended" // the file no longer names this canary
)

// Status is a rollout as the admin API shows it.
type Status struct {
	Tenant   string `json:"tenant"`
	Model    string `json:"model"`
	Canary   string `json:"canary"`
	Baseline string `json:"baseline"`
	Phase    Phase  `json:"state"`
	// Reason says why the rollout is in Phase (the failed gate, who paused).
	Reason string `json:"reason,omitempty"`
	// Step is the 0-based index of the current step, of Steps.
	Step        int       `json:"step"`
	Steps       int       `json:"steps"`
	StepKind    string    `json:"step_kind"`
	StepStarted time.Time `json:"step_started"`
	TimeInStep  float64   `json:"time_in_step_seconds"`
	// Plan is every step as configured (Steps of them), defaults applied.
	Plan []StepView `json:"plan,omitempty"`
	// Weights are the model's weights the rollout sets now; Before the
	// weights it restores on rollback.
	Weights   map[string]int `json:"weights"`
	Before    map[string]int `json:"weights_before"`
	Shadowing bool           `json:"shadowing"`
	// Approvals of the current approve step, of ApprovalsRequired.
	Approvals         []Approval `json:"approvals,omitempty"`
	ApprovalsRequired int        `json:"approvals_required,omitempty"`
	// Window is the current step's evidence; Verdicts the last look's.
	Window   WindowView      `json:"window"`
	Verdicts []judge.Verdict `json:"verdicts,omitempty"`
	Looks    int             `json:"looks"`
	Started  time.Time       `json:"started"`
	Ended    *time.Time      `json:"ended,omitempty"`
	// Revision is the routing revision of the rollout's last change.
	Revision uint64 `json:"revision,omitempty"`
	// Decisions, newest last: only in the single-rollout view.
	Decisions []Decision `json:"decisions,omitempty"`
}

// Operator actions (POST /admin/rollouts/{tenant}/{model}/{action}).
const (
	OpApprove = "approve"
	OpReject  = "reject"
	OpPromote = "promote"
	OpPause   = "pause"
	OpResume  = "resume"
	OpAbort   = "abort"
	OpRetry   = "retry"
)

// Request is an operator's action on a rollout.
type Request struct {
	Op            string // one of the Op* constants
	Tenant, Model string
	Actor         string // the operator's name
	Role          string // the operator's role (configs.Role*)
	Comment       string
	Full          bool // promote: go to the last step at once
}

// Errors of Act, mapped to statuses by the admin API.
var (
	// ErrNotFound: no rollout for that tenant/model (404).
	ErrNotFound = errors.New("no rollout for that model")
	// ErrConflict wraps an action the rollout's state does not allow (409).
	ErrConflict = errors.New("not allowed now")
	// ErrForbidden: the role may not do that (403).
	ErrForbidden = errors.New("role not allowed")
	// ErrBadRequest: an unknown action or a missing comment (400).
	ErrBadRequest = errors.New("bad request")
)
