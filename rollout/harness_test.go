package rollout_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelgate/modelgate/admin"
	"github.com/modelgate/modelgate/audit"
	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/control"
	"github.com/modelgate/modelgate/gateway"
	"github.com/modelgate/modelgate/internal/modelserver"
	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/revision"
	"github.com/modelgate/modelgate/rollout"
	"github.com/modelgate/modelgate/rollout/webhook"
	"github.com/modelgate/modelgate/tenants"
)

// The integration tests run the whole stack on loopback, wired as
// `modelgate serve` wires it: the gateway's traffic listener, the control
// plane over a revision store in a temp data directory, the rollout
// controller as its owner, the reload loop on a config file, and the
// admin API on a real listener; the model containers are
// internal/modelserver servers whose faults the test sets.

const (
	apiKey = "key-acme"
	// Admin tokens: two distinct approvers, an operator and a viewer.
	tokAnn, tokBob, tokOps, tokVic = "tok-ann", "tok-bob", "tok-ops", "tok-vic"
)

// stack is one running gateway. stop shuts it down (also at cleanup).
type stack struct {
	t        *testing.T
	dir      string // data directory (kept across restarts)
	cfgPath  string
	url      string
	adminURL string
	metrics  *observability.Metrics
	ctrl     *rollout.Controller
	plane    *control.Plane
	reloader *gateway.Reloader
	alog     *audit.Log
	client   *http.Client
	stopOnce sync.Once
	stopFn   func()
}

// models are the containers of v1 (baseline) and v2 (canary).
type models struct{ v1, v2 *modelserver.Running }

var goodWeights = []float64{0.8, -0.4, 0.3, 0.1}

func startModels(t *testing.T, canaryWeights []float64) models {
	t.Helper()
	start := func(v string, w []float64) *modelserver.Running {
		r, err := modelserver.Start(modelserver.Options{Model: modelserver.Model{Name: "fraud", Version: v, Weights: w}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	return models{v1: start("v1", goodWeights), v2: start("v2", canaryWeights)}
}

// configText is a config with model fraud of tenant acme served by ms, and
// its rollout block (indented under "rollout:"); "" for none.
func configText(ms models, block string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `server: {listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0"}
admin:
  operators:
    - {name: ann, role: approver, token_sha256: %q}
    - {name: bob, role: approver, token_sha256: %q}
    - {name: ops, role: operator, token_sha256: %q}
    - {name: vic, role: viewer, token_sha256: %q}
tenants:
  - name: acme
    api_keys: [{sha256: %q}]
    models:
      - name: fraud
        sticky_header: X-User-ID
        retry: {attempts: 0}
        health_check: {path: /v2/health/ready}
%s        versions:
          - {name: v1, weight: 100, endpoints: [%q]}
          - {name: v2, weight: 0, endpoints: [%q]}
`, tenants.HashKey(tokAnn), tenants.HashKey(tokBob), tenants.HashKey(tokOps), tenants.HashKey(tokVic),
		tenants.HashKey(apiKey), strings.Join(extra, ""), ms.v1.URL, ms.v2.URL)
	if block != "" {
		b.WriteString("        rollout:\n")
		for _, line := range strings.Split(strings.Trim(block, "\n"), "\n") {
			b.WriteString("          " + line + "\n")
		}
	}
	return b.String()
}

// startStack serves text with data directory dir ("" for a new one).
func startStack(t *testing.T, text, dir string) *stack {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	s := &stack{t: t, dir: dir, cfgPath: filepath.Join(dir, "modelgate.yaml"),
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	s.writeConfig(text)
	cfg, err := configs.Load(s.cfgPath)
	if err != nil {
		t.Fatalf("config: %v\n%s", err, text)
	}
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	s.metrics = observability.NewMetrics()
	gw := gateway.New(cfg, s.metrics, log)
	store, err := revision.Open(filepath.Join(dir, "data"), 0)
	if err != nil {
		t.Fatal(err)
	}
	s.alog, err = audit.Open(filepath.Join(dir, "data", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	s.plane = control.New(store, gw, log, s.metrics.Registry, nil)
	rstore, err := rollout.OpenStore(filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	hooks := webhook.New(webhook.Options{Backoff: 10 * time.Millisecond, Log: log, Registerer: s.metrics.Registry})
	s.ctrl, err = rollout.New(rollout.Options{Plane: s.plane, Stats: s.metrics, Store: rstore, Audit: s.alog, Log: log,
		Registerer: s.metrics.Registry, Notify: func(h []configs.Webhook, typ string, payload []byte) {
			hooks.Send(h, webhook.Event{Type: typ, Payload: payload})
		}})
	if err != nil {
		t.Fatal(err)
	}
	s.plane.SetOwner(s.ctrl)
	if err := s.plane.Start(cfg); err != nil {
		t.Fatal(err)
	}
	ln, err := gw.Listen()
	if err != nil {
		t.Fatal(err)
	}
	s.url = "http://" + ln.Addr().String()
	s.reloader = gateway.NewReloader(s.cfgPath, gw)
	s.reloader.Apply = s.plane.ApplyFile
	adminLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.adminURL = "http://" + adminLn.Addr().String()
	adminSrv := &http.Server{Handler: admin.Handler(gw, s.reloader, s.metrics.Registry,
		admin.WithControl(s.plane), admin.WithAudit(s.alog), admin.WithRollouts(s.ctrl))}
	ctx, cancel := context.WithCancel(context.Background())
	changes, err := configs.Watch(ctx, s.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(4)
	go func() { defer wg.Done(); s.reloader.Run(ctx, changes) }()
	go func() { defer wg.Done(); s.ctrl.Run(ctx) }()
	go func() { defer wg.Done(); _ = adminSrv.Serve(adminLn) }()
	serveDone := make(chan error, 1)
	go func() { defer wg.Done(); serveDone <- gw.Serve(ln) }()
	s.stopFn = func() {
		cancel()
		_ = adminSrv.Close()
		s.client.CloseIdleConnections()
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := gw.Shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		wg.Wait()
		if err := <-serveDone; err != nil {
			t.Errorf("serve: %v", err)
		}
		if err := hooks.Close(sctx); err != nil {
			t.Errorf("webhooks: %v", err)
		}
		store.Close()
		s.alog.Close()
	}
	t.Cleanup(s.stop)
	return s
}

func (s *stack) stop() { s.stopOnce.Do(s.stopFn) }

func (s *stack) writeConfig(text string) {
	s.t.Helper()
	tmp := s.cfgPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Rename(tmp, s.cfgPath); err != nil {
		s.t.Fatal(err)
	}
}

// reload writes text and reloads it through the reload loop's path.
func (s *stack) reload(text string) {
	s.t.Helper()
	s.writeConfig(text)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.reloader.Reload(ctx); err != nil {
		s.t.Fatal(err)
	}
}

const inferBody = `{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP64","data":[1.0,0.5,-0.3,2.0]}]}`

// infer sends one prediction (with user as the sticky key when not "")
// and returns the status and the version that served it.
func (s *stack) infer(user string) (int, string) {
	req, err := http.NewRequest("POST", s.url+"/v2/models/fraud/infer", strings.NewReader(inferBody))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("X-API-Key", apiKey)
	req.Header.Set("Content-Type", "application/json")
	if user != "" {
		req.Header.Set("X-User-ID", user)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Errorf("infer: %v", err)
		return 0, ""
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("X-Modelgate-Version")
}

// drive sends traffic from 4 clients until until() holds or timeout
// passes, then fails the test. It returns the requests sent.
func (s *stack) drive(timeout time.Duration, what string, until func() bool) int {
	s.t.Helper()
	return s.driveWith(4, timeout, what, until)
}

// driveWith is drive with clients concurrent clients.
func (s *stack) driveWith(clients int, timeout time.Duration, what string, until func() bool) int {
	s.t.Helper()
	done := make(chan struct{})
	var sent sync.WaitGroup
	var n int64
	var mu sync.Mutex
	for range clients {
		sent.Add(1)
		go func() {
			defer sent.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				s.infer("")
				mu.Lock()
				n++
				mu.Unlock()
			}
		}()
	}
	defer func() { close(done); sent.Wait() }()
	for deadline := time.Now().Add(timeout); !until(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			st, _ := s.ctrl.Get("acme", "fraud")
			b, _ := json.MarshalIndent(st, "", "  ")
			s.t.Fatalf("timed out after %v waiting for %s; the rollout:\n%s", timeout, what, b)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	return int(n)
}

// status returns the rollout's status through the admin API.
func (s *stack) status(tok string) rollout.Status {
	s.t.Helper()
	code, body := s.admin("GET", "/admin/rollouts/acme/fraud", tok, "")
	if code != 200 {
		s.t.Fatalf("GET rollout: %d %s", code, body)
	}
	var st rollout.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		s.t.Fatal(err)
	}
	return st
}

// phase is the rollout's phase ("" when there is none yet).
func (s *stack) phase() rollout.Phase {
	st, ok := s.ctrl.Get("acme", "fraud")
	if !ok {
		return ""
	}
	return st.Phase
}

// admin sends an admin request with a bearer token.
func (s *stack) admin(method, path, tok, body string) (int, string) {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.adminURL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// weights are the running revision's weights of acme/fraud.
func (s *stack) weights() map[string]int {
	out := map[string]int{}
	for _, t := range s.plane.Running().Routing {
		for _, m := range t.Models {
			if t.Name == "acme" && m.Name == "fraud" {
				for _, v := range m.Versions {
					out[v.Name] = v.Weight
				}
			}
		}
	}
	return out
}

// actions lists the rollout's decisions' actions in order.
func actions(st rollout.Status) []string {
	var out []string
	for _, d := range st.Decisions {
		if d.Action != rollout.ActionLook {
			out = append(out, fmt.Sprintf("%s@%d", d.Action, d.Step))
		}
	}
	return out
}
