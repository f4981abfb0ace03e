package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/internal/modelserver"
	"github.com/modelgate/modelgate/tenants"
	"go.uber.org/goleak"
)

// leakOptions ignores process-wide goroutines that outlive any one serve:
// fasthttp's server-date and dialer-cache singletons, its per-client and
// per-server cleaners (they sleep up to their idle timeout before noticing
// they have nothing left), and os/signal's dispatcher (started by the first
// signal.Notify of the process).
func leakOptions(existing goleak.Option) []goleak.Option {
	return []goleak.Option{existing,
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		goleak.IgnoreAnyFunction("os/signal.loop"),
	}
}

// startModel starts an example model container on loopback.
func startModel(t *testing.T, version string, delay time.Duration) *modelserver.Running {
	t.Helper()
	m, err := modelserver.Start(modelserver.Options{
		Model: modelserver.Model{Name: "fraud", Version: version, Weights: []float64{0.8, -0.4, 0.3, 0.1}},
		Delay: delay,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// configText is a config with a shadowed model (health checks every 50ms)
// on listen, with the admin token "admin-token".
func configText(listen string, primary, shadow *modelserver.Running) string {
	return `server: {listen: "` + listen + `", admin_listen: "127.0.0.1:0", shutdown_timeout: 10s}
admin: {token_sha256: "` + tenants.HashKey("admin-token") + `"}
tenants:
  - name: acme
    api_keys: [{sha256: "` + tenants.HashKey("k") + `"}]
    models:
      - name: fraud
        health_check: {interval: 50ms}
        shadow: {version: v2}
        versions:
          - {name: v1, weight: 1, endpoints: ["` + primary.URL + `"]}
          - {name: v2, weight: 0, endpoints: ["` + shadow.URL + `"]}
`
}

func writeConfig(t *testing.T, text string) (string, *configs.Config) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "modelgate.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, cfg
}

// TestServeListenFailureLeaksNothing: with the traffic port taken, serve
// returns the error after stopping the health checkers and shadow workers
// gateway.New started.
func TestServeListenFailureLeaksNothing(t *testing.T) {
	primary, shadow := startModel(t, "v1", 0), startModel(t, "v2", 0)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	path, cfg := writeConfig(t, configText(taken.Addr().String(), primary, shadow))
	existing := goleak.IgnoreCurrent()
	err = serve(context.Background(), path, t.TempDir(), cfg, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "listening for traffic on "+taken.Addr().String()) {
		t.Fatalf("serve on a taken port: got %v, want the listen error", err)
	}
	goleak.VerifyNone(t, leakOptions(existing)...)
}

// TestServeShutdownStopsReloadsFirst: while serve drains in-flight
// requests, the reload loop is already stopped (POST /admin/reload answers
// 503), the admin listener still answers (readiness 503), the requests
// finish, and once serve returns nothing it started is left running.
func TestServeShutdownStopsReloadsFirst(t *testing.T) {
	primary, shadow := startModel(t, "v1", time.Second), startModel(t, "v2", 0)
	path, cfg := writeConfig(t, configText("127.0.0.1:0", primary, shadow))
	existing := goleak.IgnoreCurrent()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrs := make(chan [2]string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, path, t.TempDir(), cfg, io.Discard, func(a listenAddrs) { addrs <- [2]string{a.traffic.String(), a.admin.String()} })
	}()
	var a [2]string
	select {
	case a = <-addrs:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not start")
	}
	client := &http.Client{Timeout: 20 * time.Second}
	const n = 4
	codes := make(chan int, n)
	for range n {
		go func() {
			req, _ := http.NewRequest("POST", "http://"+a[0]+"/v2/models/fraud/infer",
				strings.NewReader(`{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP64","data":[1,2,3,4]}]}`))
			req.Header.Set("X-API-Key", "k")
			resp, err := client.Do(req)
			if err != nil {
				codes <- -1
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); len(primary.Server.Requests()) < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d requests reached the model", len(primary.Server.Requests()), n)
		}
	}
	admin := func(method, p string, headers ...string) (int, string) {
		req, _ := http.NewRequest(method, "http://"+a[1]+p, nil)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, p, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	cancel()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if code, _ := admin("GET", "/readyz"); code == 503 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz did not report the drain within 5s")
		}
	}
	if code, body := admin("POST", "/admin/reload", "Authorization", "Bearer admin-token"); code != 503 || !strings.Contains(body, "shutting down") {
		t.Errorf("POST /admin/reload during the drain: got %d %s, want 503 shutting down", code, body)
	}
	for range n {
		if c := <-codes; c != 200 {
			t.Errorf("in-flight request during shutdown: got %d, want 200", c)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not return")
	}
	client.CloseIdleConnections()
	goleak.VerifyNone(t, leakOptions(existing)...)
}
