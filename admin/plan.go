package admin

import (
	"errors"
	"io"
	"net/http"
	"slices"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/control"
	"github.com/modelgate/modelgate/revision"
	"github.com/modelgate/modelgate/router"
)

// maxPlanBody bounds the config file POST /admin/plan reads.
const maxPlanBody = 8 << 20

// planView is the POST /admin/plan answer.
type planView struct {
	Running uint64   `json:"running"`
	Valid   bool     `json:"valid"`
	Errors  []string `json:"errors,omitempty"`
	Changes []string `json:"changes"`
	// Sticky lists, per model with a sticky_header in the new file whose
	// split changes, the exact share of sticky users that would switch
	// version (router.StickySwitchShare) and where they would go.
	Sticky []stickyPlan `json:"sticky"`
}

type stickyPlan struct {
	Tenant      string              `json:"tenant"`
	Model       string              `json:"model"`
	SwitchShare float64             `json:"switch_share"`
	Flows       []router.StickyFlow `json:"flows"`
}

// plan serves POST /admin/plan (viewer): the body is a config file; the
// answer says what a reload of it would change against the running
// revision, as a semantic diff, and the share of sticky users that would
// switch version, or every validation mistake with its YAML path (valid
// false, still 200: the plan itself succeeded). Nothing is applied. A
// scoped principal sees its tenants only.
func (a *api) plan(w http.ResponseWriter, req *http.Request) {
	p := principalOf(req)
	body, err := io.ReadAll(io.LimitReader(req.Body, maxPlanBody+1))
	if err != nil || len(body) > maxPlanBody {
		writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "the config file must be at most 8 MiB"})
		return
	}
	run := a.ctl.Running()
	out := planView{Running: run.N, Changes: []string{}, Sticky: []stickyPlan{}}
	cfg, err := configs.Parse(body)
	if err != nil {
		var verrs configs.Errors
		if errors.As(err, &verrs) {
			out.Errors = errorLines(verrs)
		} else {
			out.Errors = []string{err.Error()}
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	out.Valid = true
	out.Changes = visibleChanges(revision.Diff(run.Routing, cfg.Tenants), p)
	for _, t := range cfg.Tenants {
		if !p.Sees(t.Name) {
			continue
		}
		oi := slices.IndexFunc(run.Routing, func(o configs.Tenant) bool { return o.Name == t.Name })
		if oi < 0 {
			continue
		}
		for mi := range t.Models {
			m := &t.Models[mi]
			j := slices.IndexFunc(run.Routing[oi].Models, func(o configs.Model) bool { return o.Name == m.Name })
			if m.StickyHeader == "" || j < 0 {
				continue
			}
			old := &run.Routing[oi].Models[j]
			if share := router.StickySwitchShare(t.Name, old, m); share > 0 {
				out.Sticky = append(out.Sticky, stickyPlan{Tenant: t.Name, Model: m.Name, SwitchShare: share,
					Flows: router.StickyFlows(t.Name, old, m)})
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// weightsPlanView is the POST .../weights/plan answer.
type weightsPlanView struct {
	Running uint64   `json:"running"`
	Changes []string `json:"changes"`
	// StickyHeader is the model's sticky_header; "" when it has none, and
	// then SwitchShare is 0 and Flows empty.
	StickyHeader string `json:"sticky_header,omitempty"`
	// SwitchShare is the exact share (0–1) of sticky users that would
	// switch version (router.StickySwitchShare), and Flows where they go.
	SwitchShare float64             `json:"switch_share"`
	Flows       []router.StickyFlow `json:"flows"`
}

// planWeights serves POST /admin/tenants/{tenant}/models/{model}/weights/plan
// (viewer): the body is a weights change as PUT .../weights takes it; the
// answer says what it would change against the running revision and the
// share of the model's sticky users that would switch version. Nothing is
// applied and nothing audited. 400 for a bad body, 404 for a tenant or
// model that does not exist or is not the principal's, 422 for weights
// PUT would refuse (with the field's path). It does not say whether a
// rollout owns the model (PUT answers 409 then; GET /admin/rollouts
// tells).
func (a *api) planWeights(w http.ResponseWriter, req *http.Request) {
	p := principalOf(req)
	tenant, model := req.PathValue("tenant"), req.PathValue("model")
	var body weightsRequest
	if _, err := decodeMutation(req, &body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	run := a.ctl.Running()
	routing, err := control.WithWeights(run.Routing, p.Sees, tenant, model, body.Weights)
	var invalid *control.InvalidError
	switch {
	case errors.As(err, &invalid):
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": invalid.Error(), "path": invalid.Path})
		return
	case err != nil:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
		return
	}
	out := weightsPlanView{Running: run.N, Changes: visibleChanges(revision.Diff(run.Routing, routing), p), Flows: []router.StickyFlow{}}
	old, niu := findModel(run.Routing, tenant, model), findModel(routing, tenant, model)
	if old.StickyHeader != "" {
		out.StickyHeader = old.StickyHeader
		out.SwitchShare = router.StickySwitchShare(tenant, old, niu)
		if f := router.StickyFlows(tenant, old, niu); f != nil {
			out.Flows = f
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// findModel is tenant/model of routing, which has it.
func findModel(routing []configs.Tenant, tenant, model string) *configs.Model {
	ti := slices.IndexFunc(routing, func(t configs.Tenant) bool { return t.Name == tenant })
	mi := slices.IndexFunc(routing[ti].Models, func(m configs.Model) bool { return m.Name == model })
	return &routing[ti].Models[mi]
}
