package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/configs"
	"github.com/prometheus/client_golang/prometheus"
)

// TestReloadEndpoint reloads through a reloader that parses like the
// gateway's: each answer's status and lines, and the previous config
// serving after each refused one.
func TestReloadEndpoint(t *testing.T) {
	good := configYAML(withToken)
	h, src, reloader := newHandler(t, good)
	changed := strings.Replace(good, "weight: 3", "weight: 2", 1)
	tests := []struct {
		desc     string
		file     string
		wantCode int
		wantBody []string
	}{
		{desc: "valid change", file: changed, wantCode: 200,
			wantBody: []string{`"status": "reloaded"`, `"hash": "` + mustParse(t, changed).Hash + `"`}},
		{desc: "invalid value", file: strings.Replace(good, "weight: 3", "weight: -3", 1), wantCode: 422,
			wantBody: []string{"invalid config; previous config keeps serving", "tenants[0].models[0].versions[0].weight: must not be negative"}},
		{desc: "unknown field", file: strings.Replace(good, "sticky_header:", "stiky_header:", 1), wantCode: 422,
			wantBody: []string{"tenants[0].models[0].stiky_header: unknown field"}},
		{desc: "empty file", file: "", wantCode: 422, wantBody: []string{"tenants: at least one tenant is required"}},
		{desc: "YAML syntax", file: "tenants: [", wantCode: 400,
			wantBody: []string{"config not loaded; previous config keeps serving", "parsing YAML"}},
		{desc: "unchanged", file: changed, wantCode: 200, wantBody: []string{`"hash": "` + mustParse(t, changed).Hash + `"`}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			before := src.Config()
			reloader.set(tt.file)
			r := serve(t, h, "POST", "/admin/reload", "Authorization", "Bearer "+adminToken)
			if r.code != tt.wantCode || !contains(r.body, tt.wantBody...) || r.header.Get("Content-Type") != "application/json" {
				t.Errorf("got %d %s, want %d containing %q", r.code, r.body, tt.wantCode, tt.wantBody)
			}
			if tt.wantCode != 200 && src.Config() != before {
				t.Errorf("a refused reload replaced the serving config")
			}
		})
	}
}

// TestReloadFailure maps each kind of reload error, bare and wrapped, to
// its status and exact body.
func TestReloadFailure(t *testing.T) {
	_, verr := configs.Parse([]byte(strings.Replace(configYAML(""), "weight: 3", "weight: -3", 1)))
	if !errors.As(verr, new(configs.Errors)) {
		t.Fatalf("test config: got %v, want a configs.Errors", verr)
	}
	ferr := &configs.FilesError{Errs: configs.Errors{
		{Path: "server.tls", Msg: "reading /etc/tls.crt: no such file"},
		{Path: "server.upstream_ca_file", Msg: "/etc/ca.pem: no certificates"},
	}}
	const (
		invalid  = `{"error":"invalid config; previous config keeps serving","errors":["tenants[0].models[0].versions[0].weight: must not be negative"]}`
		files    = `{"error":"files named by the config did not load; previous config, certificates and CAs keep serving","errors":["server.tls: reading /etc/tls.crt: no such file","server.upstream_ca_file: /etc/ca.pem: no certificates"]}`
		shutdown = `{"error":"shutting down; reload refused"}`
		late     = `{"error":"reload did not finish in time"}`
	)
	wrap := func(err error) error { return fmt.Errorf("reload: %w", err) }
	tests := []struct {
		desc string
		err  error
		code int
		body string
	}{
		{"validation", verr, 422, invalid},
		{"validation, wrapped", wrap(verr), 422, invalid},
		{"files", ferr, 422, files},
		{"files, wrapped", wrap(ferr), 422, files},
		{"shutting down", configs.ErrShuttingDown, 503, shutdown},
		{"shutting down, wrapped", wrap(configs.ErrShuttingDown), 503, shutdown},
		{"deadline", context.DeadlineExceeded, 503, late},
		{"canceled, wrapped", wrap(context.Canceled), 503, late},
		{"other", errors.New("reading config: open x.yaml: permission denied"), 400,
			`{"error":"config not loaded; previous config keeps serving","errors":["reading config: open x.yaml: permission denied"]}`},
	}
	for _, tt := range tests {
		code, body := reloadFailure(tt.err)
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		if code != tt.code || string(b) != tt.body {
			t.Errorf("%s: got %d %s, want %d %s", tt.desc, code, b, tt.code, tt.body)
		}
	}
}

// TestReloadEndsWithTheRequest: the reload waits under the request's
// context, so a client that goes away ends the wait with a 503.
func TestReloadEndsWithTheRequest(t *testing.T) {
	src := newSource(t, configYAML(withToken))
	waited := make(chan error, 1)
	h := Handler(src, reloaderFunc(func(ctx context.Context) error {
		<-ctx.Done()
		waited <- ctx.Err()
		return ctx.Err()
	}), prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := serveReq(t, h, httptest.NewRequestWithContext(ctx, "POST", "/admin/reload", nil), "Authorization", "Bearer "+adminToken)
	if r.code != 503 || r.body != jsonBody("error", "reload did not finish in time") {
		t.Errorf("got %d %q, want 503 not in time", r.code, r.body)
	}
	if err := <-waited; !errors.Is(err, context.Canceled) {
		t.Errorf("the reloader saw %v, want the request's cancellation", err)
	}
}
