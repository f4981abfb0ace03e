package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelgate/modelgate/admin"
	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/gateway/upstream"
	"github.com/modelgate/modelgate/internal/modelserver"
	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/tenants"
)

// harness runs a real gateway on loopback: the fiber traffic listener, the
// admin handler on an httptest server and the reload loop, all driven by a
// config file in a temp dir. Stopped by t.Cleanup.
type harness struct {
	t        *testing.T
	gw       *Gateway
	reloader *Reloader
	metrics  *observability.Metrics
	url      string // traffic base URL
	adminURL string
	cfgPath  string
	client   *http.Client
}

// testKey returns a deterministic API key for a tenant and its hash.
func testKey(tenant string) (key, hash string) {
	key = "key-" + tenant
	return key, tenants.HashKey(key)
}

const adminToken = "admin-secret"

// startGateway writes yamlText to a file and serves it. yamlText should
// leave server.listen/admin_listen out (they default to 127.0.0.1:0 here).
// logOut, if given, receives the gateway's JSON log at debug level.
func startGateway(t *testing.T, yamlText string, logOut ...io.Writer) *harness {
	t.Helper()
	dir := t.TempDir()
	h := &harness{t: t, cfgPath: filepath.Join(dir, "modelgate.yaml")}
	h.writeConfig(yamlText)
	cfg, err := configs.Load(h.cfgPath)
	if err != nil {
		t.Fatalf("loading test config: %v\n%s", err, yamlText)
	}
	h.metrics = observability.NewMetrics()
	h.metrics.Reloaded(true, cfg.Hash, float64(time.Now().Unix()))
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if len(logOut) > 0 {
		log = slog.New(slog.NewJSONHandler(logOut[0], &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	h.gw = New(cfg, h.metrics, log)
	h.reloader = NewReloader(h.cfgPath, h.gw)
	ln, err := h.gw.Listen()
	if err != nil {
		t.Fatal(err)
	}
	h.url = "http://" + ln.Addr().String()
	adminSrv := httptest.NewServer(admin.Handler(h.gw, h.reloader, h.gw.metrics.Registry))
	h.adminURL = adminSrv.URL

	ctx, cancel := context.WithCancel(context.Background())
	changes, err := configs.Watch(ctx, h.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		h.reloader.Run(ctx, changes)
	}()
	serveDone := make(chan error, 1)
	go func() { serveDone <- h.gw.Serve(ln) }()
	h.client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	t.Cleanup(func() {
		cancel()
		<-loopDone
		adminSrv.Close()
		// First the client's idle connections: one it dialled but never
		// used would otherwise hold Shutdown until the server's first
		// read gives up.
		h.client.CloseIdleConnections()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		if err := h.gw.Shutdown(sctx); err != nil {
			_ = pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
			t.Errorf("shutdown: %v", err)
		}
		if err := <-serveDone; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return h
}

func (h *harness) writeConfig(yamlText string) {
	h.t.Helper()
	if !strings.Contains(yamlText, "server:") {
		yamlText = "server:\n  listen: 127.0.0.1:0\n  admin_listen: 127.0.0.1:0\n" + yamlText
	}
	if !strings.Contains(yamlText, "admin:") {
		yamlText += "\nadmin:\n  token_sha256: " + tenants.HashKey(adminToken) + "\n"
	}
	tmp := h.cfgPath + ".tmp"
	if err := os.WriteFile(tmp, []byte(yamlText), 0o600); err != nil {
		h.t.Fatal(err)
	}
	if err := os.Rename(tmp, h.cfgPath); err != nil {
		h.t.Fatal(err)
	}
}

// reload writes yamlText and reloads through the reload loop, returning its
// error.
func (h *harness) reload(yamlText string) error {
	h.t.Helper()
	h.writeConfig(yamlText)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return h.reloader.Reload(ctx)
}

// response is a finished HTTP exchange.
type response struct {
	code   int
	header http.Header
	body   string
}

// do sends a request to the traffic listener. headers are name, value pairs.
func (h *harness) do(method, path, body string, headers ...string) response {
	h.t.Helper()
	return doURL(h.t, h.client, method, h.url+path, body, headers...)
}

// doAdmin sends a request to the admin listener.
func (h *harness) doAdmin(method, path, body string, headers ...string) response {
	h.t.Helper()
	return doURL(h.t, h.client, method, h.adminURL+path, body, headers...)
}

func doURL(t testing.TB, c *http.Client, method, url, body string, headers ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return response{code: resp.StatusCode, header: resp.Header, body: string(b)}
}

// startModel starts an example model container on loopback.
func startModel(t testing.TB, name, version string, weights ...float64) *modelserver.Running {
	t.Helper()
	if len(weights) == 0 {
		weights = []float64{0.8, -0.4, 0.3, 0.1}
	}
	r, err := modelserver.Start(modelserver.Options{Model: modelserver.Model{Name: name, Version: version, Weights: weights}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// inferBody is a valid OIP v2 request for the 4-feature example model.
const inferBody = `{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP64","data":[1.0,0.5,-0.3,2.0]}]}`

// tenantYAML renders one tenant with one model; versions are
// "name:weight:url[,url][@container_version]" strings (endpoint URLs carry
// no '@': credentials are refused).
func tenantYAML(tenant, model, extra string, versions ...string) string {
	_, hash := testKey(tenant)
	var b strings.Builder
	fmt.Fprintf(&b, "  - name: %s\n    api_keys:\n      - sha256: %q\n    models:\n      - name: %s\n", tenant, hash, model)
	if extra != "" {
		for _, line := range strings.Split(strings.TrimSpace(extra), "\n") {
			fmt.Fprintf(&b, "        %s\n", line)
		}
	}
	b.WriteString("        versions:\n")
	for _, v := range versions {
		parts := strings.SplitN(v, ":", 3)
		list, cv, versioned := strings.Cut(parts[2], "@")
		urls := strings.Split(list, ",")
		fmt.Fprintf(&b, "          - name: %s\n            weight: %s\n            endpoints: [%q", parts[0], parts[1], urls[0])
		for _, u := range urls[1:] {
			fmt.Fprintf(&b, ", %q", u)
		}
		b.WriteString("]\n")
		if versioned {
			fmt.Fprintf(&b, "            container_version: %q\n", cv)
		}
	}
	return b.String()
}

// loadGen sends requests to a harness from several goroutines until stop,
// tallying the answers by the phase current when each request started (see
// setPhase), so a test can bound errors before and after an event.
type loadGen struct {
	h       *harness
	phase   atomic.Int32
	quit    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	tallies map[int32]*tally
}

// tally counts one phase's answers. Transport errors count as code -1.
type tally struct {
	total    int
	codes    map[int]int
	versions map[string]int
	firstErr string // status and body of the first non-200 answer
}

func (t tally) errors() int { return t.total - t.codes[200] }

// startLoad starts workers goroutines sending method path with body and
// headers (name, value pairs) back to back. It stops at test cleanup if not
// before.
func (h *harness) startLoad(workers int, method, path, body string, headers ...string) *loadGen {
	l := &loadGen{h: h, quit: make(chan struct{}), tallies: map[int32]*tally{}}
	for range workers {
		l.wg.Go(func() {
			for {
				select {
				case <-l.quit:
					return
				default:
				}
				phase := l.phase.Load()
				code, version, errBody := l.once(method, path, body, headers)
				l.mu.Lock()
				t := l.tallies[phase]
				if t == nil {
					t = &tally{codes: map[int]int{}, versions: map[string]int{}}
					l.tallies[phase] = t
				}
				t.total++
				t.codes[code]++
				t.versions[version]++
				if code != 200 && t.firstErr == "" {
					t.firstErr = fmt.Sprintf("%d %s", code, errBody)
				}
				l.mu.Unlock()
			}
		})
	}
	h.t.Cleanup(l.stop)
	return l
}

func (l *loadGen) once(method, path, body string, headers []string) (code int, version, errBody string) {
	req, err := http.NewRequest(method, l.h.url+path, strings.NewReader(body))
	if err != nil {
		return -1, "", err.Error()
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := l.h.client.Do(req)
	if err != nil {
		return -1, "", err.Error()
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return -1, "", err.Error()
	}
	return resp.StatusCode, resp.Header.Get(HeaderVersion), string(b)
}

// setPhase makes requests starting from now count toward phase p.
func (l *loadGen) setPhase(p int) { l.phase.Store(int32(p)) }

// get returns a copy of phase p's tally.
func (l *loadGen) get(p int) tally {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.tallies[int32(p)]
	if t == nil {
		return tally{codes: map[int]int{}, versions: map[string]int{}}
	}
	c := tally{total: t.total, codes: maps.Clone(t.codes), versions: maps.Clone(t.versions), firstErr: t.firstErr}
	return c
}

// waitFor waits until phase p has at least n answers, failing the test
// after timeout.
func (l *loadGen) waitFor(p, n int, timeout time.Duration) tally {
	l.h.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		t := l.get(p)
		if t.total >= n {
			return t
		}
		if time.Now().After(deadline) {
			l.h.t.Fatalf("phase %d: got %d answers within %v, want %d", p, t.total, timeout, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stop stops the workers and waits for their last requests.
func (l *loadGen) stop() {
	select {
	case <-l.quit:
	default:
		close(l.quit)
	}
	l.wg.Wait()
}

// endpoint returns the gateway's state for url, which the serving
// snapshot must use.
func (h *harness) endpoint(url string) *upstream.Endpoint {
	h.t.Helper()
	for _, t := range h.gw.snap.Load().tenants {
		for _, m := range t.models {
			for _, v := range m.versions {
				for _, ep := range v.endpoints {
					if ep.URL() == url {
						return ep
					}
				}
			}
		}
	}
	h.t.Fatalf("endpoint %s is not in the serving snapshot", url)
	return nil
}
