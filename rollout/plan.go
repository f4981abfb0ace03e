package rollout

import "github.com/modelgate/modelgate/configs"

// StepView is one of a rollout's configured steps as the status shows it
// (Status.Plan), defaults applied, so that a client can list the steps
// ahead without the config file.
type StepView struct {
	Kind string `json:"kind"` // shadow, weight or approve
	// Weight is a weight step's canary percent (1–100).
	Weight int `json:"weight,omitempty"`
	// MinRequests, MinDuration and MaxDuration are a shadow or weight
	// step's hold (MinRequests: compared answers for shadow, canary
	// requests for weight); durations in seconds.
	MinRequests int     `json:"min_requests,omitempty"`
	MinDuration float64 `json:"min_duration_seconds,omitempty"`
	MaxDuration float64 `json:"max_duration_seconds,omitempty"`
	// ApprovalsRequired is an approve step's distinct approvers.
	ApprovalsRequired int `json:"approvals_required,omitempty"`
}

// planOf lists r's steps as the status shows them.
func planOf(r *configs.Rollout) []StepView {
	out := make([]StepView, 0, len(r.Steps))
	for _, s := range r.Steps {
		v := StepView{Kind: s.Kind()}
		hold := s.Hold
		switch {
		case s.Shadow != nil:
			hold = s.Shadow
		case s.Weight != nil:
			v.Weight = *s.Weight
		case s.Approve != nil:
			v.ApprovalsRequired = s.Approve.Required
			hold = nil
		}
		if hold != nil {
			v.MinRequests, v.MinDuration, v.MaxDuration = hold.Requests(), hold.Least().Seconds(), hold.MaxDuration.Seconds()
		}
		out = append(out, v)
	}
	return out
}
