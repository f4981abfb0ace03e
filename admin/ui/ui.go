// Package ui is the operator console: a single-page application of plain
// HTML, CSS and ES modules in static/, embedded in the binary and served by
// the admin listener at /ui/ (admin.Handler mounts Handler there). It
// needs no Node.js step to build and loads nothing from any other origin:
// no CDN, no web fonts.
//
// The files are public: loading them needs no token. Every piece of data
// the console shows comes from the admin API, called with the operator
// token the user signs in with (kept in sessionStorage, sent as
// "Authorization: Bearer"; no cookie, so no CSRF), and the API enforces
// roles and tenant scopes whatever the page offers.
//
// The e2e test, run by scripts/console-e2e.sh, drives the console in
// headless Chromium (e2e/).
package ui

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var files embed.FS

// ContentSecurityPolicy is sent with every answer: only this origin's
// scripts, styles, images and API calls; no inline script or style, no
// plugins, no framing, forms posting nowhere.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the console under prefix (e.g. "/ui/"): prefix itself is
// index.html, prefix+name a file of static/. Only GET and HEAD (405
// otherwise); an unknown file or a directory is 404. Every answer has
// ContentSecurityPolicy, X-Content-Type-Options: nosniff,
// Referrer-Policy: no-referrer and X-Frame-Options: DENY; files are sent
// with Cache-Control: no-cache (revalidated on each load: the embedded
// files change with the binary, which sets no modification time).
func Handler(prefix string) http.Handler {
	static, err := fs.Sub(files, "static")
	if err != nil { // the embed pattern guarantees the directory
		panic("ui: " + err.Error())
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name, ok := strings.CutPrefix(req.URL.Path, prefix)
		if !ok {
			http.NotFound(w, req)
			return
		}
		if name == "" {
			name = "index.html"
		}
		name = path.Clean(name)
		if !fs.ValidPath(name) {
			http.NotFound(w, req)
			return
		}
		b, err := fs.ReadFile(static, name)
		if err != nil { // missing, or a directory
			http.NotFound(w, req)
			return
		}
		if ct, ok := contentTypes[path.Ext(name)]; ok {
			h.Set("Content-Type", ct)
		}
		h.Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusOK)
		if req.Method == http.MethodGet {
			_, _ = w.Write(b)
		}
	})
}

// contentTypes are the types of the files static/ holds; others are
// sniffed by net/http (never executed: nosniff).
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
}
