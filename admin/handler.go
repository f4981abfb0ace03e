// Package admin is the admin listener's HTTP API: metrics, health and
// readiness, the serving config without secrets, the shadow view, reloads
// and, when configured, pprof; the control plane's routing, audit and
// rollout endpoints; and the operator console (package admin/ui) at /ui/.
//
// admin reads the gateway only through Source and reloads only through
// Reloader, interfaces declared here where they are consumed. It must not
// import package gateway: gateway's tests serve this handler in their
// harness, so that import would be a cycle. The error vocabulary of a reload
// (configs.Errors, *configs.FilesError, configs.ErrShuttingDown) lives in
// configs, which both import.
package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/pprof"

	"github.com/modelgate/modelgate/admin/ui"
	"github.com/modelgate/modelgate/configs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Source is what the admin API reads of the running gateway. Its methods
// are called concurrently, from any request's goroutine.
type Source interface {
	// Config returns the config now serving; the caller does not modify
	// it. It is read on every request that needs it (the admin token, GET
	// /admin/config, the hash after a reload), so a reload takes effect
	// at once, and once by Handler for admin.pprof.
	Config() *configs.Config
	// Readiness reports whether the gateway is ready for traffic, and the
	// JSON-encodable GET /readyz body saying why.
	Readiness() (ready bool, body any)
	// ShadowView returns the JSON-encodable GET /admin/shadow body, with
	// the shadows of the tenants sees admits only.
	ShadowView(sees func(tenant string) bool) any
}

// Reloader reloads the config file on POST /admin/reload.
type Reloader interface {
	// Reload loads the file now and applies it, blocking until that is
	// done or ctx is done. Its error says why nothing changed; see
	// reloadFailure for how each kind maps to a status.
	Reload(ctx context.Context) error
}

// Handler returns the admin listener's handler. Every answer is JSON
// (Content-Type: application/json) except /metrics and pprof's:
//
//	GET  /metrics        reg in the Prometheus text or OpenMetrics format (negotiated)
//	GET  /healthz        200 {"status": "ok"} while the process serves HTTP
//	GET  /readyz         src.Readiness's body: 200 when ready, else 503
//	GET  /admin/whoami   the principal: name, role and tenant scope (viewer)
//	GET  /admin/config   the serving routing table without keys, key hashes or the admin token hash (viewer)
//	GET  /admin/shadow   src.ShadowView (viewer)
//	POST /admin/reload   reloads through reloader (operator, unscoped; statuses in reloadFailure)
//	     /admin/routes, /admin/revisions..., weights, rollback: with WithControl (routes.go)
//	POST /admin/tenants/{tenant}/models/{model}/weights/plan: with WithControl (plan.go)
//	GET  /admin/audit    with WithAudit (audit.go)
//	GET  /admin/audit/verify  with WithAudit of an audit.Log (audit_verify.go)
//	GET  /admin/stats    with WithStats (stats.go)
//	GET  /ui/...         the operator console's files, no token needed (package ui);
//	                     /ui redirects to /ui/
//	     /admin/rollouts...  with WithRollouts (rollouts.go)
//	     /debug/pprof/   net/http/pprof's index, profiles and trace (admin token), only
//	                     when admin.pprof is set in the config serving when Handler is called
//	     anything else   404 {"error": "no such admin path"}, also for a known path with
//	                     another method
//
// Every route but /metrics, /healthz, /readyz and /ui/ needs a principal of the
// role named (see require: 401 for a missing or wrong token, 403 for too
// low a role or when no token is configured at all); a scoped principal
// sees only its tenants.
// reg must not be nil; promhttp registers its own error counter in it
// (once, however many handlers share reg).
func Handler(src Source, reloader Reloader, reg *prometheus.Registry, opts ...Option) http.Handler {
	a := &api{src: src, reloader: reloader}
	for _, o := range opts {
		o(a)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		Registry:          reg,
	}))
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /readyz", a.readyz)
	viewer := func(h http.HandlerFunc) http.Handler { return a.require(configs.RoleViewer, h) }
	mux.Handle("GET /admin/whoami", viewer(a.whoami))
	mux.Handle("GET /admin/config", viewer(a.config))
	mux.Handle("GET /admin/shadow", viewer(a.shadow))
	mux.Handle("POST /admin/reload", a.require(configs.RoleOperator, http.HandlerFunc(a.reload))) // reload.go
	if a.ctl != nil {                                                                             // routes.go
		mux.Handle("GET /admin/routes", viewer(a.routes))
		mux.Handle("GET /admin/revisions", viewer(a.revisions))
		mux.Handle("GET /admin/revisions/{n}", viewer(a.revisionOne))
		mux.Handle("GET /admin/revisions/{n}/diff", viewer(a.revisionDiff))
		mux.Handle("PUT /admin/tenants/{tenant}/models/{model}/weights", a.require(configs.RoleOperator, http.HandlerFunc(a.setWeights)))
		mux.Handle("POST /admin/rollback", a.require(configs.RoleOperator, http.HandlerFunc(a.rollback)))
		mux.Handle("POST /admin/plan", viewer(a.plan)) // plan.go
		mux.Handle("POST /admin/tenants/{tenant}/models/{model}/weights/plan", viewer(a.planWeights))
	}
	if a.audit != nil { // audit.go
		mux.Handle("GET /admin/audit", viewer(a.auditLog))
		if _, ok := a.audit.(auditVerifier); ok {
			mux.Handle("GET /admin/audit/verify", viewer(a.auditVerify)) // audit_verify.go
		}
	}
	if a.stats != nil { // stats.go
		mux.Handle("GET /admin/stats", viewer(a.statsGet))
	}
	mux.Handle("GET /ui/", ui.Handler("/ui/"))
	mux.Handle("GET /ui", http.RedirectHandler("/ui/", http.StatusMovedPermanently))
	if a.rollouts != nil { // rollouts.go
		a.rolloutRoutes(mux)
	}
	if src.Config().Admin.Pprof {
		mux.Handle("/debug/pprof/", a.require(configs.RoleAdmin, http.HandlerFunc(pprof.Index)))
		mux.Handle("/debug/pprof/profile", a.require(configs.RoleAdmin, http.HandlerFunc(pprof.Profile)))
		mux.Handle("/debug/pprof/trace", a.require(configs.RoleAdmin, http.HandlerFunc(pprof.Trace)))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such admin path"})
	})
	return mux
}

// api holds what the routes read.
type api struct {
	src      Source
	reloader Reloader
	ctl      Control  // nil: no routing endpoints
	audit    Auditor  // nil: nothing audited, no /admin/audit
	rollouts Rollouts // nil: no /admin/rollouts
	stats    Stats    // nil: no /admin/stats
	window   *statsWindow
}

// Option adds an optional part to Handler.
type Option func(*api)

// WithControl serves the control plane's endpoints: GET /admin/routes,
// GET /admin/revisions[/{n}[/diff]], PUT
// /admin/tenants/{tenant}/models/{model}/weights, POST /admin/rollback
// (routes.go), POST /admin/plan and POST .../weights/plan (plan.go).
func WithControl(c Control) Option { return func(a *api) { a.ctl = c } }

// WithAudit records every admin mutation, and every refused one, in log
// and serves GET /admin/audit from it (audit.go).
func WithAudit(log Auditor) Option { return func(a *api) { a.audit = log } }

func (a *api) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (a *api) readyz(w http.ResponseWriter, _ *http.Request) {
	ready, body := a.src.Readiness()
	if !ready {
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// whoami answers GET /admin/whoami: who the token is, so that a client
// (the console) offers what the role may do. Tenants is null for an
// unscoped principal.
func (a *api) whoami(w http.ResponseWriter, req *http.Request) {
	p := principalOf(req)
	writeJSON(w, http.StatusOK, map[string]any{"name": p.Name, "role": p.Role, "tenants": p.Tenants})
}

func (a *api) config(w http.ResponseWriter, req *http.Request) {
	writeJSON(w, http.StatusOK, configView(a.src.Config(), principalOf(req).Sees)) // config_view.go
}

func (a *api) shadow(w http.ResponseWriter, req *http.Request) {
	writeJSON(w, http.StatusOK, a.src.ShadowView(principalOf(req).Sees))
}

// writeJSON answers code with v as indented JSON.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
