package admin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/configs"
	"github.com/prometheus/client_golang/prometheus"
)

// source is a real parsed config with fixed readiness and shadow bodies.
type source struct {
	cfg   *configs.Config
	ready bool
}

func (s source) Config() *configs.Config { return s.cfg }
func (s source) Readiness() (bool, any)  { return s.ready, map[string]bool{"ready": s.ready} }
func (s source) ShadowView() any         { return map[string][]string{"shadows": {}} }

// reloader returns a fixed error.
type reloader struct{ err error }

func (r reloader) Reload(context.Context) error { return r.err }

func parse(t *testing.T, token string) *configs.Config {
	t.Helper()
	text := "tenants:\n  - name: acme\n    api_keys: [{sha256: \"" + strings.Repeat("ab", 32) + "\"}]\n" +
		"    models:\n      - name: fraud\n        versions:\n          - {name: v1, weight: 1, endpoints: [\"http://127.0.0.1:1\"]}\n"
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		text = "admin:\n  token_sha256: \"" + hex.EncodeToString(sum[:]) + "\"\n" + text
	}
	cfg, err := configs.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func do(t *testing.T, h http.Handler, method, path, auth string) (int, string, http.Header) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	body, _ := io.ReadAll(w.Result().Body)
	return w.Code, string(body), w.Result().Header
}

// TestAdminToken: the admin paths are refused without a configured token
// (403), with a missing or wrong one (401 and WWW-Authenticate), and served
// with the right one; the open paths need none.
func TestAdminToken(t *testing.T) {
	open := Handler(source{cfg: parse(t, "")}, reloader{}, prometheus.NewRegistry())
	if code, body, _ := do(t, open, "GET", "/admin/shadow", "Bearer x"); code != 403 || !strings.Contains(body, "token_sha256") {
		t.Errorf("no token configured: got %d %s, want 403 naming admin.token_sha256", code, body)
	}
	h := Handler(source{cfg: parse(t, "s3cret"), ready: true}, reloader{}, prometheus.NewRegistry())
	for _, auth := range []string{"", "Bearer wrong", "s3cret"} {
		code, _, hdr := do(t, h, "GET", "/admin/shadow", auth)
		if code != 401 || hdr.Get("WWW-Authenticate") == "" {
			t.Errorf("Authorization %q: got %d (WWW-Authenticate %q), want 401 with a challenge", auth, code, hdr.Get("WWW-Authenticate"))
		}
	}
	if code, body, _ := do(t, h, "GET", "/admin/shadow", "Bearer s3cret"); code != 200 || !strings.Contains(body, `"shadows"`) {
		t.Errorf("right token: got %d %s", code, body)
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/admin/config"} {
		if code, _, _ := do(t, h, "GET", path, ""); code != 200 {
			t.Errorf("GET %s without a token: got %d, want 200", path, code)
		}
	}
	if code, body, _ := do(t, h, "GET", "/nope", ""); code != 404 || !strings.Contains(body, `"error"`) {
		t.Errorf("unknown path: got %d %s, want a JSON 404", code, body)
	}
	notReady := Handler(source{cfg: parse(t, "")}, reloader{}, prometheus.NewRegistry())
	if code, _, _ := do(t, notReady, "GET", "/readyz", ""); code != 503 {
		t.Errorf("/readyz not ready: got %d, want 503", code)
	}
}

// TestAdminReloadStatus: each kind of reload error has its status, and
// the body names settings, never more.
func TestAdminReloadStatus(t *testing.T) {
	cfg := parse(t, "s3cret")
	tests := []struct {
		err  error
		code int
		want string
	}{
		{nil, 200, `"reloaded"`},
		{configs.Errors{{Path: "tenants[0].name", Msg: "must not be empty"}}, 422, "tenants[0].name: must not be empty"},
		{&configs.FilesError{Errs: configs.Errors{{Path: "server.tls", Msg: "reading cert"}}}, 422, "server.tls"},
		{fmt.Errorf("reload: %w", configs.ErrShuttingDown), 503, "shutting down"},
		{context.DeadlineExceeded, 503, "did not finish in time"},
		{errors.New("open /etc/modelgate.yaml: permission denied"), 400, "previous config keeps serving"},
	}
	for _, tt := range tests {
		h := Handler(source{cfg: cfg}, reloader{tt.err}, prometheus.NewRegistry())
		code, body, _ := do(t, h, "POST", "/admin/reload", "Bearer s3cret")
		if code != tt.code || !strings.Contains(body, tt.want) {
			t.Errorf("reload error %v: got %d %s, want %d containing %q", tt.err, code, body, tt.code, tt.want)
		}
	}
}
