package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/internal/await"
	"github.com/modelgate/modelgate/observability"
	"go.uber.org/goleak"
)

// ignoreFasthttp lists fasthttp's own background goroutines: process-wide
// singletons (server date, dialer address cache) and per-client/per-server
// cleaners that sleep up to their idle timeout before noticing they have
// nothing left to clean.
var ignoreFasthttp = []goleak.Option{
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"),
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
	goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
}

// TestReloadDuringShutdownIsRefused: once Shutdown began, a reload (the
// loop's or the admin API's) is refused with ErrShuttingDown, during the
// drain and after the release, so no endpoint or health checker is created
// after the registry was closed; in-flight requests still finish.
func TestReloadDuringShutdownIsRefused(t *testing.T) {
	slow := startModel(t, "fraud", "v1")
	slow.Server.SetDelay(time.Second)
	late := startModel(t, "fraud", "v2")
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud", "", "v1:1:"+slow.URL))
	withLate := "tenants:\n" + tenantYAML("acme", "fraud", "", "v1:1:"+slow.URL, "v2:0:"+late.URL)
	withLate2 := "tenants:\n" + tenantYAML("acme", "fraud", "", "v1:1:"+slow.URL, "v2:1:"+late.URL)
	key, _ := testKey("acme")
	const n = 4
	codes := make(chan int, n)
	for range n {
		go func() {
			req, _ := http.NewRequest("POST", h.url+"/v2/models/fraud/infer", strings.NewReader(inferBody))
			req.Header.Set("X-API-Key", key)
			resp, err := h.client.Do(req)
			if err != nil {
				codes <- -1
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	await.Until(t, 10*time.Second, "the requests to reach the model", func() bool { return len(slow.Server.Requests()) >= n })
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- h.gw.Shutdown(ctx)
	}()
	await.Until(t, 5*time.Second, "the drain to begin", h.gw.draining.Load)

	if err := h.reload(withLate); !errors.Is(err, ErrShuttingDown) {
		t.Errorf("reload during the drain: got %v, want ErrShuttingDown", err)
	}
	r := h.doAdmin("POST", "/admin/reload", "", "Authorization", "Bearer "+adminToken)
	if r.code != 503 || !strings.Contains(r.body, "shutting down") {
		t.Errorf("POST /admin/reload during the drain: got %d %s, want 503 shutting down", r.code, r.body)
	}
	if err := <-shut; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	for range n {
		if c := <-codes; c != 200 {
			t.Errorf("in-flight request: got %d, want 200", c)
		}
	}
	if err := h.reload(withLate2); !errors.Is(err, ErrShuttingDown) {
		t.Errorf("reload after the release: got %v, want ErrShuttingDown", err)
	}
	left := h.gw.st.upstreams.Len()
	if left != 0 {
		t.Errorf("after shutdown and refused reloads: %d endpoints in the registry, want 0", left)
	}
	for _, text := range []string{withLate, withLate2} {
		if h.gw.Config().Hash == mustParse(t, h, text).Hash {
			t.Errorf("a reload during shutdown was applied")
		}
	}
}

// mustParse loads yamlText as the harness would write it.
func mustParse(t *testing.T, h *harness, yamlText string) *configs.Config {
	t.Helper()
	h.writeConfig(yamlText)
	cfg, err := configs.Load(h.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestCloseAfterListenFailure: when the traffic port is taken, Listen
// fails after New started health checkers and shadow workers; Close stops
// every one of them.
func TestCloseAfterListenFailure(t *testing.T) {
	primary := startModel(t, "fraud", "v1")
	shadow := startModel(t, "fraud", "v2")
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	existing := goleak.IgnoreCurrent()
	cfg, err := configs.Parse([]byte("server: {listen: " + taken.Addr().String() + ", admin_listen: 127.0.0.1:0}\ntenants:\n" +
		tenantYAML("acme", "fraud", "shadow: {version: v2}\nhealth_check: {interval: 50ms}", "v1:1:"+primary.URL, "v2:0:"+shadow.URL)))
	if err != nil {
		t.Fatal(err)
	}
	gw := New(cfg, observability.NewMetrics(), slog.New(slog.NewJSONHandler(io.Discard, nil)))
	await.Until(t, 5*time.Second, "the health checks to run", func() bool { return primary.Server.HealthProbes() > 0 })
	if ln, err := gw.Listen(); err == nil {
		ln.Close()
		t.Fatal("Listen on a taken port: got no error")
	}
	if err := gw.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	goleak.VerifyNone(t, append([]goleak.Option{existing}, ignoreFasthttp...)...)
	if err := gw.Close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}
