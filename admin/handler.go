// Package admin is the admin listener's HTTP API: /metrics, /healthz,
// /readyz, the routing table, shadow statistics, reloads and pprof, behind
// the admin token where they reveal or change anything. It reads the
// gateway through the small Source and Reloader interfaces below and does
// not import it (the gateway's tests serve this handler in their harness).
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Source is what the admin API reads of the serving gateway.
type Source interface {
	// Config is the config now serving (read-only).
	Config() *configs.Config
	// Readiness reports whether the gateway should get traffic, and the
	// /readyz body that says why.
	Readiness() (ready bool, body any)
	// ShadowView is the GET /admin/shadow body.
	ShadowView() any
}

// Reloader applies the config file again on request. Its error is nil, a
// configs.Errors (invalid config), a *configs.FilesError (files the config
// names did not load), configs.ErrShuttingDown, or a context error.
type Reloader interface {
	Reload(ctx context.Context) error
}

// reloadTimeout bounds how long POST /admin/reload waits for the reload.
const reloadTimeout = 30 * time.Second

// Handler returns the admin listener's handler: GET /metrics (from reg),
// /healthz, /readyz, GET /admin/config, GET /admin/shadow, POST
// /admin/reload and, when admin.pprof is set at the time Handler is called,
// /debug/pprof/; the /admin and pprof paths need the admin token
// (admin.token_sha256, read from the serving config on every request).
// Every answer is JSON; unknown paths get a JSON 404.
func Handler(g Source, r Reloader, reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		Registry:          reg,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ready, body := g.Readiness()
		if !ready {
			writeJSON(w, http.StatusServiceUnavailable, body)
			return
		}
		writeJSON(w, http.StatusOK, body)
	})
	mux.HandleFunc("GET /admin/config", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, configView(g.Config()))
	})
	mux.Handle("GET /admin/shadow", requireAdmin(g, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, g.ShadowView())
	})))
	mux.Handle("POST /admin/reload", requireAdmin(g, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), reloadTimeout)
		defer cancel()
		err := r.Reload(ctx)
		var verrs configs.Errors
		var ferr *configs.FilesError
		switch {
		case err == nil:
			writeJSON(w, http.StatusOK, map[string]string{"status": "reloaded", "hash": g.Config().Hash})
		case errors.As(err, &verrs):
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": "invalid config; previous config keeps serving", "errors": errorLines(verrs)})
		case errors.As(err, &ferr):
			// Each line names the setting and the file, never its contents.
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
				"error": "files named by the config did not load; previous config, certificates and CAs keep serving", "errors": errorLines(ferr.Errs)})
		case errors.Is(err, configs.ErrShuttingDown):
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "shutting down; reload refused"})
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "reload did not finish in time"})
		default:
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "config not loaded; previous config keeps serving", "errors": []string{err.Error()}})
		}
	})))
	if g.Config().Admin.Pprof {
		mux.Handle("/debug/pprof/", requireAdmin(g, http.HandlerFunc(pprof.Index)))
		mux.Handle("/debug/pprof/profile", requireAdmin(g, http.HandlerFunc(pprof.Profile)))
		mux.Handle("/debug/pprof/trace", requireAdmin(g, http.HandlerFunc(pprof.Trace)))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such admin path"})
	})
	return mux
}

// requireAdmin admits requests bearing the admin token. The presented token
// is hashed and compared with admin.token_sha256 in constant time.
func requireAdmin(g Source, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		want, err := hex.DecodeString(strings.ToLower(g.Config().Admin.TokenSHA256))
		if err != nil || len(want) != sha256.Size {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "admin API disabled: admin.token_sha256 is not configured"})
			return
		}
		token, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
		got := sha256.Sum256([]byte(token))
		if !ok || subtle.ConstantTimeCompare(got[:], want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="modelgate-admin"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong admin token"})
			return
		}
		next.ServeHTTP(w, req)
	})
}

func errorLines(errs configs.Errors) []string {
	lines := make([]string, len(errs))
	for i, e := range errs {
		lines[i] = e.Error()
	}
	return lines
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
