package admin

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/modelgate/modelgate/configs"
)

// reloadTimeout bounds one POST /admin/reload, waiting for the reload loop
// included; the client going away ends it sooner.
const reloadTimeout = 30 * time.Second

// reload serves POST /admin/reload (behind the admin token): 200 with the
// hash of the config serving afterwards, else reloadFailure's answer.
// A scoped operator may not reload: the file holds every tenant's
// routing (403).
func (a *api) reload(w http.ResponseWriter, req *http.Request) {
	p := principalOf(req)
	rec := a.auditStart(req, p, "reload", "", "")
	if p.Scoped() {
		a.finish(w, rec, http.StatusForbidden, map[string]string{"error": "a reload applies every tenant's routing: it needs an operator without a tenant scope"})
		return
	}
	ctx, cancel := context.WithTimeout(req.Context(), reloadTimeout)
	defer cancel()
	if err := a.reloader.Reload(ctx); err != nil {
		code, body := reloadFailure(err)
		a.finish(w, rec, code, body)
		return
	}
	if a.ctl != nil {
		rec.After = a.ctl.Running()
	}
	a.finish(w, rec, http.StatusOK, map[string]string{"status": "reloaded", "hash": a.src.Config().Hash})
}

// reloadFailure maps a failed reload's error, wrapped or not, to its answer.
// In every case the previous config keeps serving:
//
//   - configs.Errors (validation, unknown fields, no tenants): 422, one
//     line per mistake with its YAML path;
//   - *configs.FilesError (certificate, key or CA files that did not load):
//     422, one line per file naming the setting and the path, never the
//     contents;
//   - configs.ErrShuttingDown: 503, reloads are refused from the start of
//     shutdown;
//   - context deadline or cancellation (reloadTimeout, client gone): 503;
//   - anything else (the file unreadable, YAML syntax): 400 with the error.
func reloadFailure(err error) (code int, body any) {
	var verrs configs.Errors
	var ferr *configs.FilesError
	switch {
	case errors.As(err, &verrs):
		return http.StatusUnprocessableEntity, map[string]any{
			"error": "invalid config; previous config keeps serving", "errors": errorLines(verrs)}
	case errors.As(err, &ferr):
		return http.StatusUnprocessableEntity, map[string]any{
			"error": "files named by the config did not load; previous config, certificates and CAs keep serving", "errors": errorLines(ferr.Errs)}
	case errors.Is(err, configs.ErrShuttingDown):
		return http.StatusServiceUnavailable, map[string]string{"error": "shutting down; reload refused"}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable, map[string]string{"error": "reload did not finish in time"}
	default:
		return http.StatusBadRequest, map[string]any{
			"error": "config not loaded; previous config keeps serving", "errors": []string{err.Error()}}
	}
}

// errorLines renders each config error as one line, "path: message".
func errorLines(errs configs.Errors) []string {
	lines := make([]string, len(errs))
	for i, e := range errs {
		lines[i] = e.Error()
	}
	return lines
}
