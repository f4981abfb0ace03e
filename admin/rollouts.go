package admin

import (
	"errors"
	"net/http"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/rollout"
)

// Rollouts is the rollout controller the rollout endpoints read and drive
// (rollout.Controller).
type Rollouts interface {
	List(visible func(string) bool) []rollout.Status
	Get(tenant, model string) (rollout.Status, bool)
	Act(req rollout.Request) (rollout.Status, error)
}

// WithRollouts serves the rollout endpoints:
//
//	GET  /admin/rollouts                           every rollout the principal sees (viewer)
//	GET  /admin/rollouts/{tenant}/{model}          one, with its decisions (viewer)
//	POST /admin/rollouts/{tenant}/{model}/{action} approve, reject, promote (approver);
//	                                               pause, resume, abort, retry (operator)
//
// A POST body is optional: {"comment": "…"} (required by reject), and
// {"full": true} for promote. Answers: 200 with the rollout's status, 400
// (bad body, reject without comment, unknown action), 403 (role), 404 (no
// rollout, or a tenant not the principal's), 409 (the rollout's state
// does not allow it, e.g. the same approver twice).
func WithRollouts(r Rollouts) Option { return func(a *api) { a.rollouts = r } }

// rolloutRequest is the optional POST body.
type rolloutRequest struct {
	Comment string `json:"comment"`
	Full    bool   `json:"full"`
}

func (a *api) rolloutList(w http.ResponseWriter, req *http.Request) {
	list := a.rollouts.List(principalOf(req).Sees)
	if list == nil {
		list = []rollout.Status{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"rollouts": list})
}

func (a *api) rolloutOne(w http.ResponseWriter, req *http.Request) {
	tenant, model := req.PathValue("tenant"), req.PathValue("model")
	s, ok := a.rollouts.Get(tenant, model)
	if !ok || !principalOf(req).Sees(tenant) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no rollout for that model"})
		return
	}
	writeJSON(w, http.StatusOK, s)
}

// rolloutAct answers POST /admin/rollouts/{tenant}/{model}/{action}. It
// is routed with role viewer: Act checks the action's own role, so a
// viewer's attempt is refused (403) and audited like any other.
func (a *api) rolloutAct(w http.ResponseWriter, req *http.Request) {
	p := principalOf(req)
	tenant, model, op := req.PathValue("tenant"), req.PathValue("model"), req.PathValue("action")
	rec := a.auditStart(req, p, "rollout."+op, tenant, model)
	if !p.Sees(tenant) {
		rec.Tenant, rec.Model = "", ""
		a.finish(w, rec, http.StatusNotFound, map[string]string{"error": "no rollout for that model"})
		return
	}
	var body rolloutRequest
	if req.ContentLength != 0 {
		if _, err := decodeMutation(req, &body); err != nil {
			a.finish(w, rec, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
	}
	rec.Reason = body.Comment
	s, err := a.rollouts.Act(rollout.Request{Op: op, Tenant: tenant, Model: model, Actor: p.Name, Role: p.Role,
		Comment: body.Comment, Full: body.Full})
	if a.ctl != nil {
		if run := a.ctl.Running(); rec.before == nil || run.N != rec.before.N {
			rec.After = run
		}
	}
	switch {
	case err == nil:
		a.finish(w, rec, http.StatusOK, s)
	case errors.Is(err, rollout.ErrNotFound):
		a.finish(w, rec, http.StatusNotFound, map[string]string{"error": err.Error()})
	case errors.Is(err, rollout.ErrForbidden):
		a.finish(w, rec, http.StatusForbidden, map[string]string{"error": err.Error()})
	case errors.Is(err, rollout.ErrConflict):
		a.finish(w, rec, http.StatusConflict, map[string]string{"error": err.Error()})
	case errors.Is(err, rollout.ErrBadRequest):
		a.finish(w, rec, http.StatusBadRequest, map[string]string{"error": err.Error()})
	default:
		a.finish(w, rec, http.StatusInternalServerError, map[string]string{"error": err.Error()})
	}
}

// rolloutRoutes registers the rollout endpoints on mux.
func (a *api) rolloutRoutes(mux *http.ServeMux) {
	viewer := func(h http.HandlerFunc) http.Handler { return a.require(configs.RoleViewer, h) }
	mux.Handle("GET /admin/rollouts", viewer(a.rolloutList))
	mux.Handle("GET /admin/rollouts/{tenant}/{model}", viewer(a.rolloutOne))
	mux.Handle("POST /admin/rollouts/{tenant}/{model}/{action}", viewer(a.rolloutAct))
}
