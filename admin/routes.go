package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/control"
	"github.com/modelgate/modelgate/revision"
)

// Control is the control plane the routing endpoints drive
// (control.Plane).
type Control interface {
	Running() *revision.Revision
	Drift() bool
	SetWeights(actor string, visible func(string) bool, tenant, model string, weights map[string]int, ifMatch uint64, reason string) (*revision.Revision, error)
	Rollback(actor string, scope []string, to, ifMatch uint64, reason string) (*revision.Revision, error)
	Revisions(before uint64, limit int) ([]*revision.Revision, error)
	Revision(n uint64) (*revision.Revision, bool, error)
}

// maxMutationBody bounds the JSON body of a weights change or rollback.
const maxMutationBody = 64 << 10

// routesView is the GET /admin/routes body.
type routesView struct {
	Revision uint64            `json:"revision"`
	Hash     string            `json:"hash"`
	Source   revision.Source   `json:"source"`
	Actor    string            `json:"actor"`
	Time     time.Time         `json:"time"`
	FileHash string            `json:"file_hash"`
	Drift    bool              `json:"drift"`
	Tenants  []routeTenantView `json:"tenants"`
}

type routeTenantView struct {
	Name   string           `json:"name"`
	Models []routeModelView `json:"models"`
}

type routeModelView struct {
	Name     string             `json:"name"`
	Fallback string             `json:"fallback,omitempty"`
	Shadow   string             `json:"shadow,omitempty"` // the shadow version
	Versions []routeVersionView `json:"versions"`
}

type routeVersionView struct {
	Name             string          `json:"name"`
	Weight           int             `json:"weight"`
	Share            float64         `json:"share_percent"`
	WeightSource     revision.Source `json:"weight_source"`
	ContainerVersion string          `json:"container_version,omitempty"`
	Endpoints        []string        `json:"endpoints"`
}

// revisionView is a revision as the API shows it to a principal: the
// routing and changes of the tenants it sees, never key hashes.
type revisionView struct {
	N        uint64            `json:"n"`
	Time     time.Time         `json:"time"`
	Source   revision.Source   `json:"source"`
	Actor    string            `json:"actor"`
	Reason   string            `json:"reason,omitempty"`
	Hash     string            `json:"hash"`
	FileHash string            `json:"file_hash"`
	Changes  []string          `json:"changes"`
	Overrode []string          `json:"overrode,omitempty"`
	Routing  []routeTenantView `json:"routing,omitempty"`
}

func (a *api) routes(w http.ResponseWriter, req *http.Request) {
	p := principalOf(req)
	run := a.ctl.Running()
	v := routesView{Revision: run.N, Hash: run.Hash, Source: run.Source, Actor: run.Actor, Time: run.Time,
		FileHash: run.FileHash, Drift: a.ctl.Drift(), Tenants: routingView(run, p.Sees)}
	setETag(w, run.N)
	writeJSON(w, http.StatusOK, v)
}

// routingView renders the tenants of r that sees admits.
func routingView(r *revision.Revision, sees func(string) bool) []routeTenantView {
	out := []routeTenantView{}
	for _, t := range r.Routing {
		if !sees(t.Name) {
			continue
		}
		tv := routeTenantView{Name: t.Name, Models: []routeModelView{}}
		for _, m := range t.Models {
			mv := routeModelView{Name: m.Name, Fallback: m.Fallback, Versions: []routeVersionView{}}
			if m.Shadow != nil {
				mv.Shadow = m.Shadow.Version
			}
			shares := sharesOf(m.Versions)
			for i, v := range m.Versions {
				src := r.WeightSources[t.Name+"/"+m.Name+"/"+v.Name]
				if src == "" {
					src = revision.SourceFile
				}
				mv.Versions = append(mv.Versions, routeVersionView{Name: v.Name, Weight: v.Weight, Share: shares[i],
					WeightSource: src, ContainerVersion: v.ContainerVersion, Endpoints: v.Endpoints})
			}
			tv.Models = append(tv.Models, mv)
		}
		out = append(out, tv)
	}
	return out
}

// viewOf renders r for a principal that sees what sees admits; ok is false
// when nothing of r concerns it (a revision that changed only other
// tenants' routing is invisible to a scoped principal). withRouting adds
// the routing.
func viewOf(r *revision.Revision, p *Principal, withRouting bool) (v revisionView, ok bool) {
	v = revisionView{N: r.N, Time: r.Time, Source: r.Source, Actor: r.Actor, Reason: r.Reason, Hash: r.Hash,
		FileHash: r.FileHash, Changes: visibleChanges(r.Changes, p), Overrode: visibleChanges(r.Overrode, p)}
	if withRouting {
		v.Routing = routingView(r, p.Sees)
	}
	if p.Scoped() && len(v.Changes) == 0 && len(v.Overrode) == 0 && len(r.Changes) > 0 {
		return v, false
	}
	if p.Scoped() {
		// Hashes cover every tenant's routing: they would tell a scoped
		// principal that other tenants changed.
		v.Hash, v.FileHash = "", ""
	}
	return v, true
}

func visibleChanges(cs []revision.Change, p *Principal) []string {
	out := []string{}
	for _, c := range cs {
		if c.Tenant == "" && p.Scoped() || c.Tenant != "" && !p.Sees(c.Tenant) {
			continue
		}
		out = append(out, c.String())
	}
	return out
}

func (a *api) revisions(w http.ResponseWriter, req *http.Request) {
	p := principalOf(req)
	q := req.URL.Query()
	before, err1 := optUint(q.Get("before"))
	limit, err2 := optUint(q.Get("limit"))
	if err := errors.Join(err1, err2); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "before and limit must be numbers"})
		return
	}
	list, err := a.ctl.Revisions(before, int(limit))
	if err != nil {
		a.internal(w, err)
		return
	}
	out := []revisionView{}
	for _, r := range list {
		if v, ok := viewOf(r, p, false); ok {
			out = append(out, v)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"revisions": out})
}

// revisionN finds revision {n} of the path as p may see it; it answers
// 404 itself and returns ok false when there is none.
func (a *api) revisionN(w http.ResponseWriter, req *http.Request, raw string) (*revision.Revision, bool) {
	n, err := strconv.ParseUint(raw, 10, 64)
	if err != nil || n == 0 {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such revision"})
		return nil, false
	}
	r, ok, err := a.ctl.Revision(n)
	if err != nil {
		a.internal(w, err)
		return nil, false
	}
	if ok {
		if _, visible := viewOf(r, principalOf(req), false); visible {
			return r, true
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such revision (never made, trimmed, or not yours to see)"})
	return nil, false
}

func (a *api) revisionOne(w http.ResponseWriter, req *http.Request) {
	r, ok := a.revisionN(w, req, req.PathValue("n"))
	if !ok {
		return
	}
	v, _ := viewOf(r, principalOf(req), true)
	writeJSON(w, http.StatusOK, v)
}

func (a *api) revisionDiff(w http.ResponseWriter, req *http.Request) {
	to, ok := a.revisionN(w, req, req.PathValue("n"))
	if !ok {
		return
	}
	from := strconv.FormatUint(to.N-1, 10)
	if f := req.URL.Query().Get("from"); f != "" {
		from = f
	}
	fr, ok := a.revisionN(w, req, from)
	if !ok {
		return
	}
	p := principalOf(req)
	writeJSON(w, http.StatusOK, map[string]any{"from": fr.N, "to": to.N,
		"changes": visibleChanges(revision.Diff(fr.Routing, to.Routing), p)})
}

// weightsRequest is the PUT .../weights body.
type weightsRequest struct {
	Weights map[string]int `json:"weights"`
	Reason  string         `json:"reason"`
}

// rollbackRequest is the POST /admin/rollback body.
type rollbackRequest struct {
	To     uint64 `json:"to"`
	Reason string `json:"reason"`
}

func (a *api) setWeights(w http.ResponseWriter, req *http.Request) {
	p := principalOf(req)
	tenant, model := req.PathValue("tenant"), req.PathValue("model")
	rec := a.auditStart(req, p, "weights", tenant, model)
	if !p.Sees(tenant) {
		// Not recorded under a tenant the principal cannot see. The names
		// still go to SetWeights, whose visible check answers exactly as
		// for a tenant that does not exist (the 404 must not tell them apart).
		rec.Tenant, rec.Model = "", ""
	}
	var body weightsRequest
	ifMatch, err := decodeMutation(req, &body)
	if err != nil {
		a.finish(w, rec, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	rec.Reason = body.Reason
	r, err := a.ctl.SetWeights(p.Name, p.Sees, tenant, model, body.Weights, ifMatch, body.Reason)
	a.answerMutation(w, rec, r, err)
}

func (a *api) rollback(w http.ResponseWriter, req *http.Request) {
	p := principalOf(req)
	rec := a.auditStart(req, p, "rollback", "", "")
	if len(p.Tenants) == 1 {
		rec.Tenant = p.Tenants[0] // a scoped rollback touches that tenant only: its audit entry is the tenant's
	}
	var body rollbackRequest
	ifMatch, err := decodeMutation(req, &body)
	if err == nil && body.To == 0 {
		err = errors.New(`"to" is required: the revision to restore`)
	}
	if err != nil {
		a.finish(w, rec, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	rec.Reason = body.Reason
	if _, visible := a.visibleRevision(body.To, p); !visible {
		a.finish(w, rec, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no such revision: %d", body.To)})
		return
	}
	r, err := a.ctl.Rollback(p.Name, p.Tenants, body.To, ifMatch, body.Reason)
	a.answerMutation(w, rec, r, err)
}

func (a *api) visibleRevision(n uint64, p *Principal) (*revision.Revision, bool) {
	r, ok, err := a.ctl.Revision(n)
	if err != nil || !ok {
		return nil, false
	}
	_, visible := viewOf(r, p, false)
	return r, visible
}

// answerMutation answers a weights change or rollback: 200 with the new
// revision (and its ETag), or the status of err.
func (a *api) answerMutation(w http.ResponseWriter, rec auditRecord, r *revision.Revision, err error) {
	var invalid *control.InvalidError
	switch {
	case err == nil:
		rec.After = r
		setETag(w, r.N)
		v, _ := viewOf(r, rec.principal, false)
		a.finish(w, rec, http.StatusOK, v)
	case errors.Is(err, control.ErrStale):
		a.finish(w, rec, http.StatusPreconditionFailed, map[string]any{"error": err.Error(), "running": a.ctl.Running().N})
	case errors.Is(err, control.ErrNotFound):
		a.finish(w, rec, http.StatusNotFound, map[string]string{"error": err.Error()})
	case errors.Is(err, control.ErrOwned):
		a.finish(w, rec, http.StatusConflict, map[string]string{"error": err.Error()})
	case errors.As(err, &invalid):
		a.finish(w, rec, http.StatusUnprocessableEntity, map[string]string{"error": invalid.Error(), "path": invalid.Path})
	case errors.Is(err, configs.ErrShuttingDown):
		a.finish(w, rec, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
	default:
		a.finish(w, rec, http.StatusInternalServerError, map[string]string{"error": "the change was not applied: " + err.Error()})
	}
}

// decodeMutation reads a JSON body of at most maxMutationBody bytes into
// v, refusing unknown fields, and the If-Match header: a revision number,
// quoted as ETag sends it, or "*" or nothing (0: no precondition).
func decodeMutation(req *http.Request, v any) (ifMatch uint64, err error) {
	if im := strings.TrimSpace(req.Header.Get("If-Match")); im != "" && im != "*" {
		n, perr := strconv.ParseUint(strings.Trim(strings.TrimPrefix(im, "W/"), `"`), 10, 64)
		if perr != nil || n == 0 {
			return 0, errors.New(`If-Match must be a revision's ETag, e.g. "12"`)
		}
		ifMatch = n
	}
	dec := json.NewDecoder(io.LimitReader(req.Body, maxMutationBody+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return 0, fmt.Errorf("body must be one JSON object of the documented fields (at most %d bytes): %v", maxMutationBody, jsonProblem(err))
	}
	return ifMatch, nil
}

// jsonProblem says what is wrong with a JSON body without quoting it.
func jsonProblem(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q must be %s", typ.Field, typ.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return err.Error()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "empty or cut short"
	default:
		return "not valid JSON"
	}
}

func setETag(w http.ResponseWriter, n uint64) {
	w.Header().Set("ETag", `"`+strconv.FormatUint(n, 10)+`"`)
}

func optUint(s string) (uint64, error) {
	if s == "" {
		return 0, nil
	}
	return strconv.ParseUint(s, 10, 64)
}

func (a *api) internal(w http.ResponseWriter, err error) {
	writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "reading revisions: " + err.Error()})
}
