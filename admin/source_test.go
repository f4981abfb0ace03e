package admin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/modelgate/modelgate/configs"
	"github.com/prometheus/client_golang/prometheus"
)

const adminToken = "admin-secret"

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// configYAML is a valid config: tenant acme with one API key (key-acme),
// model fraud with versions v1 (weight 3, sticky by X-User-ID) and v2
// (weight 1, also its shadow), and adminSection appended as is ("" for no
// admin section).
func configYAML(adminSection string) string {
	return fmt.Sprintf(`tenants:
  - name: acme
    api_keys: [{sha256: %q}]
    models:
      - name: fraud
        sticky_header: X-User-ID
        shadow: {version: v2, percent: 10}
        versions:
          - {name: v1, weight: 3, endpoints: ["http://127.0.0.1:8001"]}
          - {name: v2, weight: 1, container_version: "2", endpoints: ["http://127.0.0.1:8002", "http://127.0.0.1:8003"]}
`, sha256Hex("key-acme")) + adminSection
}

// withToken is the admin section requiring adminToken.
var withToken = "admin:\n  token_sha256: " + sha256Hex(adminToken) + "\n"

func mustParse(t *testing.T, yamlText string) *configs.Config {
	t.Helper()
	cfg, err := configs.Parse([]byte(yamlText))
	if err != nil {
		t.Fatalf("parsing test config: %v\n%s", err, yamlText)
	}
	return cfg
}

// source is a Source over a real parsed config, with readiness and a
// shadow view the test sets.
type source struct {
	cfg    atomic.Pointer[configs.Config]
	ready  atomic.Bool
	body   any // the readiness body
	shadow any
}

func newSource(t *testing.T, yamlText string) *source {
	t.Helper()
	s := &source{body: map[string]any{"ready": true}, shadow: map[string]any{"shadows": []any{}}}
	s.cfg.Store(mustParse(t, yamlText))
	s.ready.Store(true)
	return s
}

func (s *source) Config() *configs.Config          { return s.cfg.Load() }
func (s *source) Readiness() (bool, any)           { return s.ready.Load(), s.body }
func (s *source) ShadowView(func(string) bool) any { return s.shadow }

// parseReloader reloads its source from the YAML in next, as the gateway's
// reload loop reloads from the file: configs.Parse's error leaves the
// source as it was.
type parseReloader struct {
	src  *source
	next atomic.Pointer[string]
}

func (r *parseReloader) set(yamlText string) { r.next.Store(&yamlText) }

func (r *parseReloader) Reload(context.Context) error {
	cfg, err := configs.Parse([]byte(*r.next.Load()))
	if err != nil {
		return err
	}
	r.src.cfg.Store(cfg)
	return nil
}

// reloaderFunc adapts a function to Reloader.
type reloaderFunc func(context.Context) error

func (f reloaderFunc) Reload(ctx context.Context) error { return f(ctx) }

// answer is one finished request.
type answer struct {
	code   int
	header http.Header
	body   string
}

// serve sends one request through h; headers are name, value pairs.
func serve(t *testing.T, h http.Handler, method, path string, headers ...string) answer {
	t.Helper()
	return serveReq(t, h, httptest.NewRequest(method, path, nil), headers...)
}

func serveReq(t *testing.T, h http.Handler, req *http.Request, headers ...string) answer {
	t.Helper()
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, err := io.ReadAll(rec.Result().Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{code: rec.Code, header: rec.Result().Header, body: string(b)}
}

// newHandler serves src with a parseReloader (starting from src's own
// YAML) and a fresh registry.
func newHandler(t *testing.T, yamlText string) (http.Handler, *source, *parseReloader) {
	t.Helper()
	src := newSource(t, yamlText)
	r := &parseReloader{src: src}
	r.set(yamlText)
	return Handler(src, r, prometheus.NewRegistry()), src, r
}

// jsonBody is writeJSON's rendering of a one-field object.
func jsonBody(key, value string) string {
	return "{\n  \"" + key + "\": \"" + value + "\"\n}\n"
}

func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
