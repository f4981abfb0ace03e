package ui

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	res := rec.Result()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

// TestServesEmbeddedFiles: the prefix is index.html, files have their
// types, and every answer has the security headers.
func TestServesEmbeddedFiles(t *testing.T) {
	h := Handler("/ui/")
	for _, tt := range []struct {
		path, ctype, has string
	}{
		{"/ui/", "text/html; charset=utf-8", `<script type="module" src="js/app.js"></script>`},
		{"/ui/index.html", "text/html; charset=utf-8", "Operator token"},
		{"/ui/js/app.js", "text/javascript; charset=utf-8", "export const REFRESH"},
		{"/ui/js/views/traffic.js", "text/javascript; charset=utf-8", "/admin/stats"},
		{"/ui/style.css", "text/css; charset=utf-8", "--fg:"},
		{"/ui/favicon.svg", "image/svg+xml", "<svg"},
	} {
		res, body := get(t, h, "GET", tt.path)
		switch {
		case res.StatusCode != 200:
			t.Errorf("GET %s: %d, want 200", tt.path, res.StatusCode)
		case res.Header.Get("Content-Type") != tt.ctype:
			t.Errorf("GET %s: Content-Type %q, want %q", tt.path, res.Header.Get("Content-Type"), tt.ctype)
		case !strings.Contains(body, tt.has):
			t.Errorf("GET %s: body lacks %q", tt.path, tt.has)
		case res.Header.Get("Cache-Control") != "no-cache":
			t.Errorf("GET %s: Cache-Control %q, want no-cache", tt.path, res.Header.Get("Cache-Control"))
		}
		securityHeaders(t, "GET "+tt.path, res.Header)
	}
	if res, body := get(t, h, "HEAD", "/ui/"); res.StatusCode != 200 || body != "" {
		t.Errorf("HEAD /ui/: %d with %d bytes, want 200 and no body", res.StatusCode, len(body))
	}
}

func securityHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": ContentSecurityPolicy,
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s: %s %q, want %q", what, k, got, v)
		}
	}
}

// TestCSPIsStrict: the policy allows this origin only, and no inline
// script or style.
func TestCSPIsStrict(t *testing.T) {
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(ContentSecurityPolicy, want) {
			t.Errorf("CSP %q lacks %q", ContentSecurityPolicy, want)
		}
	}
	if strings.Contains(ContentSecurityPolicy, "unsafe") || strings.Contains(ContentSecurityPolicy, "http") {
		t.Errorf("CSP %q allows unsafe sources or another origin", ContentSecurityPolicy)
	}
}

// TestNotFound: unknown files, directories, paths outside the prefix and
// attempts to climb out of static/ are 404; other methods 405.
func TestNotFound(t *testing.T) {
	h := Handler("/ui/")
	for _, p := range []string{"/ui/nope.js", "/ui/js", "/ui/js/", "/ui/js/views", "/ui/../ui.go", "/ui/static/index.html", "/other/index.html", "/ui/e2e/package.json"} {
		res, _ := get(t, h, "GET", p)
		if res.StatusCode != 404 {
			t.Errorf("GET %s: %d, want 404", p, res.StatusCode)
		}
		securityHeaders(t, "GET "+p, res.Header)
	}
	for _, m := range []string{"POST", "PUT", "DELETE"} {
		res, _ := get(t, h, m, "/ui/")
		if res.StatusCode != 405 || res.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s /ui/: %d Allow %q, want 405 GET, HEAD", m, res.StatusCode, res.Header.Get("Allow"))
		}
	}
}

// TestNoInlineCodeNoOtherOrigin: nothing the CSP would block is in the
// files (inline scripts, style attributes, inline event handlers), and no
// file names another origin: the console works offline.
func TestNoInlineCodeNoOtherOrigin(t *testing.T) {
	inline := regexp.MustCompile(`(?i)<script(\s[^>]*)?>\s*[^<\s]|\sstyle\s*=|\son[a-z]+\s*=\s*["']|javascript:`)
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}|@import|url\(\s*['"]?(https?:)?//`)
	n := 0
	err := fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		b, err := fs.ReadFile(files, p)
		if err != nil {
			return err
		}
		s := string(b)
		if strings.HasSuffix(p, ".html") {
			if m := inline.FindString(s); m != "" {
				t.Errorf("%s: inline code the CSP blocks: %q", p, m)
			}
		}
		// The SVG namespace is a name, not a request.
		s = strings.ReplaceAll(s, "http://www.w3.org/2000/svg", "")
		if m := external.FindString(s); m != "" {
			t.Errorf("%s: names another origin: %q", p, m)
		}
		return nil
	})
	if err != nil || n < 8 {
		t.Fatalf("walking static/: %d files, %v", n, err)
	}
}
