package gateway

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
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// AdminHandler returns the admin listener's handler: /metrics, /healthz,
// /readyz, GET /admin/config, GET /admin/shadow, POST /admin/reload and, when admin.pprof is
// set, /debug/pprof/ (behind the admin token).
func (g *Gateway) AdminHandler(r *Reloader) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g.metrics.Registry, promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		Registry:          g.metrics.Registry,
	}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		r := g.readiness() // health.go
		if !r.Ready {
			writeJSON(w, http.StatusServiceUnavailable, r)
			return
		}
		writeJSON(w, http.StatusOK, r)
	})
	mux.HandleFunc("GET /admin/config", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, configView(g.Config()))
	})
	mux.Handle("GET /admin/shadow", g.requireAdmin(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, g.shadowView())
	})))
	mux.Handle("POST /admin/reload", g.requireAdmin(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ctx, cancel := context.WithTimeout(req.Context(), 30*time.Second)
		defer cancel()
		err := r.Reload(ctx)
		var verrs configs.Errors
		var ferr *FilesError
		switch {
		case err == nil:
			writeJSON(w, http.StatusOK, map[string]string{"status": "reloaded", "hash": g.Config().Hash})
		case errors.As(err, &verrs):
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": "invalid config; previous config keeps serving", "errors": errorLines(verrs)})
		case errors.As(err, &ferr):
			// Each line names the setting and the file, never its contents.
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
				"error": "files named by the config did not load; previous config, certificates and CAs keep serving", "errors": errorLines(ferr.Errs)})
		case errors.Is(err, ErrShuttingDown):
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "shutting down; reload refused"})
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "reload did not finish in time"})
		default:
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "config not loaded; previous config keeps serving", "errors": []string{err.Error()}})
		}
	})))
	if g.Config().Admin.Pprof {
		mux.Handle("/debug/pprof/", g.requireAdmin(http.HandlerFunc(pprof.Index)))
		mux.Handle("/debug/pprof/profile", g.requireAdmin(http.HandlerFunc(pprof.Profile)))
		mux.Handle("/debug/pprof/trace", g.requireAdmin(http.HandlerFunc(pprof.Trace)))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such admin path"})
	})
	return mux
}

// requireAdmin admits requests bearing the admin token. The presented token
// is hashed and compared with admin.token_sha256 in constant time.
func (g *Gateway) requireAdmin(next http.Handler) http.Handler {
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

// The routing table as /admin/config shows it: no keys, no key hashes, no
// admin token hash.
type (
	tableView struct {
		Hash    string       `json:"hash"`
		Tenants []tenantView `json:"tenants"`
	}
	tenantView struct {
		Name    string         `json:"name"`
		APIKeys int            `json:"api_keys"`
		Limits  configs.Limits `json:"limits"`
		Models  []modelView    `json:"models"`
	}
	modelView struct {
		Name         string        `json:"name"`
		Timeout      string        `json:"timeout"`
		StickyHeader string        `json:"sticky_header,omitempty"`
		Fallback     string        `json:"fallback,omitempty"`
		Shadow       *shadowView   `json:"shadow,omitempty"`
		Versions     []versionView `json:"versions"`
	}
	shadowView struct {
		Version           string   `json:"version"`
		Percent           float64  `json:"percent"`
		Tolerance         float64  `json:"tolerance"`
		RelativeTolerance float64  `json:"relative_tolerance"`
		IgnoreFields      []string `json:"ignore_fields"`
		MaxInFlight       int      `json:"max_in_flight"`
		MaxQueue          int      `json:"max_queue"`
		MaxQueueBytes     int64    `json:"max_queue_bytes"`
		MaxBodyBytes      int64    `json:"max_body_bytes"`
		Timeout           string   `json:"timeout"`
	}
	versionView struct {
		Name      string   `json:"name"`
		Weight    int      `json:"weight"`
		Share     float64  `json:"share_percent"`
		Endpoints []string `json:"endpoints"`
	}
)

func configView(cfg *configs.Config) tableView {
	tv := tableView{Hash: cfg.Hash, Tenants: []tenantView{}}
	for _, t := range cfg.Tenants {
		tw := tenantView{Name: t.Name, APIKeys: len(t.APIKeys), Limits: t.Limits}
		for _, m := range t.Models {
			mv := modelView{Name: m.Name, Timeout: m.Timeout.String(), StickyHeader: m.StickyHeader, Fallback: m.Fallback}
			if sh := m.Shadow; sh != nil {
				mv.Shadow = &shadowView{Version: sh.Version, Percent: sh.SharePercent(), Tolerance: sh.Tolerance,
					RelativeTolerance: sh.RelativeTolerance, IgnoreFields: sh.IgnoreFields, MaxInFlight: sh.MaxInFlight,
					MaxQueue: sh.QueueLen(), MaxQueueBytes: sh.MaxQueueBytes, MaxBodyBytes: sh.MaxBodyBytes, Timeout: sh.Timeout.String()}
			}
			total := 0
			for _, v := range m.Versions {
				total += v.Weight
			}
			for _, v := range m.Versions {
				share := 0.0
				if total > 0 {
					share = 100 * float64(v.Weight) / float64(total)
				}
				mv.Versions = append(mv.Versions, versionView{Name: v.Name, Weight: v.Weight, Share: share, Endpoints: v.Endpoints})
			}
			tw.Models = append(tw.Models, mv)
		}
		tv.Tenants = append(tv.Tenants, tw)
	}
	return tv
}
