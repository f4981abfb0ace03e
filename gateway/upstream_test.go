package gateway

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/await"
	"github.com/modelgate/modelgate/internal/netwait"
	"github.com/modelgate/modelgate/internal/testlog"
	"github.com/modelgate/modelgate/observability"
	"github.com/valyala/fasthttp"
)

// Hardening of the upstream side: answers are capped, a connection with
// unread bytes is never reused, malformed answers fail fast and stay out of
// the logs, hop-by-hop answer headers and 101s do not reach the client.
// The model containers here are written at the socket level (rawModel), to
// send what no well-behaved server would.

// rawModel is a model container on loopback that reads HTTP requests with
// net/http's parser and lets answer write any bytes to the connection.
type rawModel struct {
	URL  string
	reqs atomic.Int64 // requests read, over all connections

	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

// modelCall is one request a rawModel read; answer writes to conn.
type modelCall struct {
	n    int64 // 1-based, over all connections
	conn net.Conn
	req  *http.Request
}

// startRawModel serves on loopback, over TLS when tlsCfg is set, until the
// test ends. answer runs on the connection's goroutine: while it runs, no
// further request of that connection is read.
func startRawModel(t testing.TB, tlsCfg *tls.Config, answer func(modelCall)) *rawModel {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := &rawModel{URL: "http://" + ln.Addr().String(), ln: ln}
	if tlsCfg != nil {
		m.ln = tls.NewListener(ln, tlsCfg)
		m.URL = "https://" + ln.Addr().String()
	}
	m.wg.Go(func() {
		for {
			c, err := m.ln.Accept()
			if err != nil {
				return
			}
			m.mu.Lock()
			m.conns = append(m.conns, c)
			m.mu.Unlock()
			m.wg.Go(func() { m.serve(c, answer) })
		}
	})
	t.Cleanup(func() {
		m.ln.Close()
		m.mu.Lock()
		for _, c := range m.conns {
			c.Close()
		}
		m.mu.Unlock()
		m.wg.Wait()
	})
	return m
}

func (m *rawModel) serve(c net.Conn, answer func(modelCall)) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return
		}
		answer(modelCall{n: m.reqs.Add(1), conn: c, req: req})
	}
}

// rawAnswer is a well-formed answer with a JSON body and extra header
// lines ("Name: value").
func rawAnswer(status int, body string, headers ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n", status, http.StatusText(status), len(body))
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n" + body)
	return b.String()
}

// write writes s to the request's connection; a connection the gateway
// closed is not the test's concern.
func (r modelCall) write(s string) { _, _ = io.WriteString(r.conn, s) }

// shortClient gives up well before a model's default 30 s timeout, so a
// stalled answer fails the test fast instead of hanging it.
func shortClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
}

// noHealth keeps health probes off raw models: only the tested traffic.
const noHealth = "health_check: {disabled: true}"

// listenYAML is the server block of a test config with extra server lines.
func listenYAML(extra ...string) string {
	s := "server:\n  listen: 127.0.0.1:0\n  admin_listen: 127.0.0.1:0\n"
	for _, e := range extra {
		s += "  " + e + "\n"
	}
	return s
}

func TestAnswerSizeCap(t *testing.T) {
	const limit = 64 << 10
	fits := `{"data":"` + strings.Repeat("x", limit-len(`{"data":""}`)) + `"}` // exactly the cap
	answer := func(r modelCall) {
		switch r.req.URL.Path {
		case "/v2/models/declared/infer": // Content-Length over the cap
			r.write(rawAnswer(200, strings.Repeat("7", limit+1)))
		case "/v2/models/chunked/infer": // no length announced; over the cap
			r.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
			chunk := strings.Repeat("7", 8<<10)
			for range limit/len(chunk) + 1 {
				r.write(fmt.Sprintf("%x\r\n%s\r\n", len(chunk), chunk))
			}
			r.write("0\r\n\r\n")
		case "/v2/models/fits/infer":
			r.write(rawAnswer(200, fits))
		case "/v2/models/fitschunked/infer":
			r.write("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
			for i := 0; i < len(fits); i += 10000 {
				c := fits[i:min(i+10000, len(fits))]
				r.write(fmt.Sprintf("%x\r\n%s\r\n", len(c), c))
			}
			r.write("0\r\n\r\n")
		}
	}
	// Two replicas, so a retry would have somewhere to go; one breaker
	// failure would open a breaker.
	a, b := startRawModel(t, nil, answer), startRawModel(t, nil, answer)
	extra := noHealth + "\nbreaker: {consecutive_failures: 1}\nretry: {attempts: 2, budget: 1}"
	eps := "v1:1:" + a.URL + "," + b.URL
	cfg := listenYAML("max_answer_bytes: 65536") + "tenants:\n" +
		tenantYAML("acme", "declared", extra, eps) + tenantYAML("globex", "chunked", extra, eps) +
		tenantYAML("initech", "fits", extra, eps) + tenantYAML("umbrella", "fitschunked", extra, eps)
	h := startGateway(t, cfg)

	tests := []struct {
		desc, tenant, model string
		wantCode            int
		wantBody            string
	}{
		{"Content-Length over the cap", "acme", "declared", 502, `{"error":"upstream answer too large"}`},
		{"chunked over the cap", "globex", "chunked", 502, `{"error":"upstream answer too large"}`},
		{"exactly the cap, Content-Length", "initech", "fits", 200, fits},
		{"exactly the cap, chunked", "umbrella", "fitschunked", 200, fits},
	}
	for i, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			key, _ := testKey(tt.tenant)
			r := doURL(t, shortClient(), "POST", h.url+"/v2/models/"+tt.model+"/infer", inferBody, "X-API-Key", key)
			if r.code != tt.wantCode || r.body != tt.wantBody {
				t.Errorf("got %d with %d bytes (%.60q), want %d with %d bytes (%.60q)", r.code, len(r.body), r.body, tt.wantCode, len(tt.wantBody), tt.wantBody)
			}
			if got := a.reqs.Load() + b.reqs.Load(); got != int64(i+1) {
				t.Errorf("model containers got %d requests after %d calls, want %d (no retry)", got, i+1, i+1)
			}
		})
	}
	for _, m := range []string{"declared", "chunked"} {
		tenant := map[string]string{"declared": "acme", "chunked": "globex"}[m]
		line := `modelgate_rejected_requests_total{model="` + m + `",reason="answer_too_large",tenant="` + tenant + `"}`
		if got := h.metricLine(line); got != 1 {
			t.Errorf("%s: got %v, want 1", line, got)
		}
	}
	for _, u := range []string{a.URL, b.URL} {
		if st := h.endpoint(u).BreakerState(); st != observability.BreakerClosed {
			t.Errorf("endpoint %s: breaker state %d after oversized answers, want closed (it answered)", u, st)
		}
	}
}

// tlsModelConfig returns a TLS server config for 127.0.0.1 and the path of
// a CA file that trusts it.
func tlsModelConfig(t *testing.T) (*tls.Config, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.StartTLS()
	cfg := srv.TLS.Clone()
	cert := srv.Certificate()
	srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, ca
}

// TestStrayAnswerNeverReachesAnotherRequest: a container writes a second,
// unsolicited answer on a keep-alive connection; the next request on the
// same endpoint URL, of another tenant, must get its own answer.
func TestStrayAnswerNeverReachesAnotherRequest(t *testing.T) {
	const stray = `{"stray":"acme's secret"}`
	for _, tc := range []struct {
		desc       string
		backToBack bool // in the same write as a large first answer; else after it
		tls        bool
	}{
		{desc: "stray answer written after the answer"},
		{desc: "stray answer back to back with a large answer", backToBack: true},
		{desc: "https, stray answer written after the answer", tls: true},
		{desc: "https, stray answer back to back", backToBack: true, tls: true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			var tlsCfg *tls.Config
			server := listenYAML()
			if tc.tls {
				var ca string
				tlsCfg, ca = tlsModelConfig(t)
				server = listenYAML("upstream_ca_file: " + ca)
			}
			first := `{"tenant":"acme","pad":"` + strings.Repeat("p", 100<<10) + `"}`
			if !tc.backToBack {
				first = `{"tenant":"acme"}`
			}
			sendStray, delivered := make(chan struct{}), make(chan error, 1)
			m := startRawModel(t, tlsCfg, func(r modelCall) {
				if r.n > 1 {
					r.write(rawAnswer(200, `{"tenant":"`+r.req.Header.Get(HeaderTenant)+`"}`))
					return
				}
				if tc.backToBack {
					r.write(rawAnswer(200, first) + rawAnswer(200, stray))
				} else {
					r.write(rawAnswer(200, first))
					<-sendStray
					r.write(rawAnswer(200, stray))
				}
				delivered <- netwait.Delivered(r.conn)
			})
			h := startGateway(t, server+"tenants:\n"+tenantYAML("acme", "fraud", noHealth, "v1:1:"+m.URL)+
				tenantYAML("globex", "fraud", noHealth, "v1:1:"+m.URL))
			keyA, _ := testKey("acme")
			keyG, _ := testKey("globex")
			c := shortClient()
			if r := doURL(t, c, "POST", h.url+"/v2/models/fraud/infer", inferBody, "X-API-Key", keyA); r.code != 200 || r.body != first {
				t.Fatalf("acme's request: got %d %.80q, want 200 with its answer", r.code, r.body)
			}
			close(sendStray)
			select {
			case err := <-delivered:
				if err != nil {
					t.Skipf("cannot tell when the stray answer reached the gateway: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the stray answer was not delivered to the gateway's socket within 5s")
			}
			r := doURL(t, c, "POST", h.url+"/v2/models/fraud/infer", inferBody, "X-API-Key", keyG)
			if r.code != 200 || r.body != `{"tenant":"globex"}` {
				t.Errorf("globex's request on the same endpoint: got %d %q, want 200 {\"tenant\":\"globex\"}", r.code, r.body)
			}
		})
	}
}

// TestLFOnlyAnswerFailsFast: an answer whose header lines end in a bare LF
// is a prompt 502, not a 504 after the model's whole (30 s) timeout, and
// is not sent again.
func TestLFOnlyAnswerFailsFast(t *testing.T) {
	tests := []struct{ desc, answer string }{
		{"every line ends in LF", "HTTP/1.1 200 OK\nContent-Type: application/json\nContent-Length: 2\n\n{}"},
		{"bare LF blank line", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\n{}"},
		{"bare LF in the status line", "HTTP/1.1 200 OK\nContent-Length: 2\r\n\r\n{}"},
		{"LF-only after an interim answer", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\nContent-Length: 2\n\n{}"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			m := startRawModel(t, nil, func(r modelCall) { r.write(tt.answer) }) // and keeps the connection open
			h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud", noHealth+"\ntimeout: 30s", "v1:1:"+m.URL))
			key, _ := testKey("acme")
			start := time.Now()
			r := doURL(t, shortClient(), "POST", h.url+"/v2/models/fraud/infer", inferBody, "X-API-Key", key)
			if r.code != 502 || r.body != `{"error":"upstream model container failed"}` {
				t.Errorf("got %d %s after %v, want a 502 JSON error", r.code, r.body, time.Since(start))
			}
			if n := m.reqs.Load(); n != 1 {
				t.Errorf("the container got the request %d times, want 1 (a broken answer is not retried)", n)
			}
		})
	}
}

// TestUpstreamFailuresNotLogged: bytes a container sends in a broken answer
// (to traffic, a health check or a shadow copy) appear in no log line, at
// debug level with the access log on, and in no error body.
func TestUpstreamFailuresNotLogged(t *testing.T) {
	const marker = "MARKER-7f3a"
	answers := map[string]string{
		"status":    "GARBAGE " + marker + "\r\n\r\n",
		"code":      "HTTP/1.1 2x0 " + marker + "\r\nContent-Length: 2\r\n\r\n{}",
		"header":    "HTTP/1.1 200 OK\r\nX-Bad " + marker + "\r\nContent-Length: 2\r\n\r\n{}",
		"length":    "HTTP/1.1 200 OK\r\nContent-Length: " + marker + "\r\n\r\n{}",
		"chunk":     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + marker + "\r\n",
		"lfonly":    "HTTP/1.1 200 OK\nX-M: " + marker + "\nContent-Length: 2\n\n{}",
		"twolength": "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3" + marker + "\r\n\r\n{}",
	}
	broken := startRawModel(t, nil, func(r modelCall) {
		if strings.HasPrefix(r.req.URL.Path, "/v2/health/") {
			r.write(answers["header"])
			return
		}
		model := strings.Split(r.req.URL.Path, "/")[3]
		if a, ok := answers[model]; ok {
			r.write(a)
		} else {
			r.write(answers["status"]) // the shadow copies
		}
		r.conn.Close()
	})
	good := startModel(t, "primary", "v1")
	var tenantsYAML strings.Builder
	names := []string{}
	for name := range answers {
		names = append(names, name)
		// No breaker: every broken answer reaches the container.
		tenantsYAML.WriteString(tenantYAML("t-"+name, name, noHealth+"\nbreaker: {disabled: true}", "v1:1:"+broken.URL))
	}
	tenantsYAML.WriteString(tenantYAML("probed", "probed", "health_check: {interval: 50ms, timeout: 1s, unhealthy_after: 1}", "v1:1:"+broken.URL+"/"))
	tenantsYAML.WriteString(tenantYAML("shadowed", "primary", noHealth+"\nshadow: {version: s1}", "v1:1:"+good.URL, "s1:0:"+broken.URL))
	logs := &testlog.Buffer{}
	h := startGateway(t, "logging: {level: debug, access_log: true}\ntenants:\n"+tenantsYAML.String(), logs)
	c := shortClient()
	for _, name := range names {
		key, _ := testKey("t-" + name)
		r := doURL(t, c, "POST", h.url+"/v2/models/"+name+"/infer", inferBody, "X-API-Key", key)
		if r.code != 502 || strings.Contains(r.body, marker) {
			t.Errorf("answer with a broken %s: got %d %s, want a 502 without the container's bytes", name, r.code, r.body)
		}
	}
	key, _ := testKey("shadowed")
	if r := doURL(t, c, "POST", h.url+"/v2/models/primary/infer", inferBody, "X-API-Key", key); r.code != 200 {
		t.Fatalf("primary of the shadowed model: got %d %s", r.code, r.body)
	}
	await.Until(t, 5*time.Second, "the health check and the shadow copy to fail", func() bool {
		s := logs.String()
		return strings.Contains(s, "endpoint unhealthy") && strings.Contains(s, "shadow call failed")
	})
	s := logs.String()
	if n := strings.Count(s, `"msg":"upstream call failed"`); n < len(answers) {
		t.Errorf("got %d upstream failure lines, want at least %d", n, len(answers))
	}
	if strings.Contains(s, marker) {
		for line := range strings.SplitSeq(s, "\n") {
			if strings.Contains(line, marker) {
				t.Errorf("a log line holds bytes the container sent: %s", line)
			}
		}
	}
}

// TestAnswerHopHeaders: what a container's Connection header names does not
// reach the client, nor does a 101; interim 1xx answers are skipped.
func TestAnswerHopHeaders(t *testing.T) {
	m := startRawModel(t, nil, func(r modelCall) {
		switch r.req.URL.Path {
		case "/v2/models/listed/infer":
			r.write(rawAnswer(200, `{"ok":true}`, "Connection: X-Secret-Internal, keep-alive", "X-Secret-Internal: token-123",
				"connection: x-other-secret", "X-Other-Secret: 1", "X-Kept: yes"))
		case "/v2/models/closing/infer":
			r.write(rawAnswer(200, `{"ok":true}`, "Connection: close"))
			r.conn.Close()
		case "/v2/models/upgrade/infer":
			r.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello")
		case "/v2/models/interim/infer":
			r.write("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + rawAnswer(200, `{"ok":true}`))
		}
	})
	var cfg strings.Builder
	for _, name := range []string{"listed", "closing", "upgrade", "interim"} {
		cfg.WriteString(tenantYAML("t-"+name, name, noHealth, "v1:1:"+m.URL))
	}
	h := startGateway(t, "tenants:\n"+cfg.String())
	c := shortClient()
	call := func(model string) response {
		key, _ := testKey("t-" + model)
		return doURL(t, c, "POST", h.url+"/v2/models/"+model+"/infer", inferBody, "X-API-Key", key)
	}

	t.Run("Connection-listed headers", func(t *testing.T) {
		r := call("listed")
		if r.code != 200 || r.body != `{"ok":true}` {
			t.Fatalf("got %d %s, want the answer", r.code, r.body)
		}
		for _, name := range []string{"X-Secret-Internal", "X-Other-Secret", "Connection"} {
			if v := r.header.Get(name); v != "" {
				t.Errorf("client got %s: %q, want it stripped", name, v)
			}
		}
		if r.header.Get("X-Kept") != "yes" {
			t.Errorf("client got X-Kept %q, want yes (end-to-end headers pass)", r.header.Get("X-Kept"))
		}
	})
	t.Run("the container's Connection: close is its own", func(t *testing.T) {
		if r := call("closing"); r.code != 200 || r.header.Get("Connection") != "" {
			t.Errorf("got %d with Connection %q, want 200 without it", r.code, r.header.Get("Connection"))
		}
	})
	t.Run("101 is refused", func(t *testing.T) {
		r := call("upgrade")
		if r.code != 502 || r.body != `{"error":"upstream model container failed"}` {
			t.Errorf("got %d %q, want a 502 JSON error", r.code, r.body)
		}
		// The switched connection is not reused: the next answer is a
		// real one, not what the container sent after its 101.
		if r := call("listed"); r.code != 200 || r.body != `{"ok":true}` {
			t.Errorf("next request: got %d %q, want 200 {\"ok\":true}", r.code, r.body)
		}
	})
	t.Run("interim answers are not final", func(t *testing.T) {
		if r := call("interim"); r.code != 200 || r.body != `{"ok":true}` {
			t.Errorf("got %d %q, want the final 200", r.code, r.body)
		}
	})
}

// TestHealthVerdictOwnedByChecker: a reload disables or restarts an
// endpoint's health checks while a check is in flight, and that check then
// fails. The stopped checker no longer owns the verdict: the endpoint keeps
// serving.
func TestHealthVerdictOwnedByChecker(t *testing.T) {
	before := "health_check: {interval: 1h, timeout: 20s, unhealthy_after: 1, healthy_after: 1}"
	for _, tc := range []struct{ desc, after string }{
		{"checks disabled", "health_check: {disabled: true}"},
		{"checks restarted with other settings", "health_check: {interval: 1h, timeout: 20s, unhealthy_after: 1, healthy_after: 1, path: /v2/health/live}"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			started, release := make(chan struct{}), make(chan struct{})
			var releaseOnce sync.Once
			var probes atomic.Int64
			model := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get(HeaderHealthCheck) == "" {
					w.Header().Set("Content-Type", "application/json")
					_, _ = io.WriteString(w, `{"ok":true}`)
					return
				}
				if probes.Add(1) == 1 {
					close(started)
					<-release // the reload happens meanwhile
					http.Error(w, "down", http.StatusServiceUnavailable)
				} // later probes (a restarted checker's) answer 200
			}))
			t.Cleanup(model.Close)
			t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) }) // runs first
			cfg := func(hc string) string { return "tenants:\n" + tenantYAML("acme", "fraud", hc, "v1:1:"+model.URL) }
			h := startGateway(t, cfg(before))
			select {
			case <-started:
			case <-time.After(5 * time.Second):
				t.Fatal("no health check within 5s")
			}
			old := h.endpoint(model.URL).Checker()

			if err := h.reload(cfg(tc.after)); err != nil {
				t.Fatal(err)
			}
			releaseOnce.Do(func() { close(release) }) // the old checker's check fails now
			select {
			case <-old.Done(): // it has handled that result
			case <-time.After(5 * time.Second):
				t.Fatal("the stopped health checker did not return within 5s")
			}
			if !h.endpoint(model.URL).Up() {
				t.Error("endpoint marked down by a checker the reload had stopped")
			}
			key, _ := testKey("acme")
			if r := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key); r.code != 200 {
				t.Errorf("after the reload: got %d %s, want 200", r.code, r.body)
			}
		})
	}
}

// TestMixedSchemes: an https:// endpoint behind a plain traffic listener
// and an http:// endpoint behind a TLS one both serve (fasthttp refuses a
// request whose scheme differs from its client's; the gateway sets the
// endpoint's).
func TestMixedSchemes(t *testing.T) {
	tlsCfg, ca := tlsModelConfig(t)
	answer := func(r modelCall) { r.write(rawAnswer(200, `{"tenant":"`+r.req.Header.Get(HeaderTenant)+`"}`)) }
	secure, plain := startRawModel(t, tlsCfg, answer), startRawModel(t, nil, answer)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	certPEM, keyPEM := selfSigned(t, "127.0.0.1")
	for name, data := range map[string][]byte{certFile: certPEM, keyFile: keyPEM} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tenants := "tenants:\n" + tenantYAML("acme", "fraud", noHealth, "v1:1:"+secure.URL) + tenantYAML("globex", "fraud", noHealth, "v1:1:"+plain.URL)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	tlsClient := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	for _, tc := range []struct {
		desc, server string
		client       *http.Client
		scheme       string
	}{
		{"plain listener", listenYAML("upstream_ca_file: " + ca), shortClient(), "http"},
		{"TLS listener", listenYAML("upstream_ca_file: "+ca, "tls: {cert_file: "+certFile+", key_file: "+keyFile+"}"), tlsClient, "https"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			h := startGateway(t, tc.server+tenants)
			base := tc.scheme + strings.TrimPrefix(h.url, "http")
			for _, tenant := range []string{"acme", "globex"} {
				key, _ := testKey(tenant)
				r := doURL(t, tc.client, "POST", base+"/v2/models/fraud/infer", inferBody, "X-API-Key", key)
				if want := `{"tenant":"` + tenant + `"}`; r.code != 200 || r.body != want {
					t.Errorf("%s's endpoint: got %d %s, want 200 %s", tenant, r.code, r.body, want)
				}
			}
		})
	}
}

// selfSigned returns a PEM certificate and key for host, valid for a day.
func selfSigned(t *testing.T, host string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: host},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP(host)},
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// TestDropResponseConnectionHeaders: the Connection header of an answer,
// what it names (in any case, over several Connection lines) and its close
// are the container's connection's; none of it reaches the client.
func TestDropResponseConnectionHeaders(t *testing.T) {
	const cl = "Content-Length: 2\r\n\r\n{}"
	tests := []struct {
		desc, raw string
		want      []string // x-* and connection headers left
	}{
		{"listed names", "HTTP/1.1 200 OK\r\nConnection: X-A, keep-alive\r\nX-A: 1\r\nX-B: 2\r\n" + cl, []string{"x-b"}},
		{"close", "HTTP/1.1 200 OK\r\nConnection: close\r\nX-B: 2\r\n" + cl, []string{"x-b"}},
		{"close and a name", "HTTP/1.1 200 OK\r\nConnection: close, X-A\r\nX-A: 1\r\n" + cl, nil},
		{"two Connection lines, any case", "HTTP/1.1 200 OK\r\nconnection: x-a\r\nCONNECTION: X-B ,\t x-c\r\nX-A: 1\r\nx-b: 2\r\nX-C: 3\r\nX-D: 4\r\n" + cl, []string{"x-d"}},
		{"HTTP/1.0 without keep-alive", "HTTP/1.0 200 OK\r\nX-B: 2\r\n" + cl, []string{"x-b"}},
		{"chunked, a listed name in the trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: X-Sum\r\nX-B: 2\r\n\r\n2\r\n{}\r\n0\r\nX-Sum: 1\r\n\r\n", []string{"x-b"}},
		{"no Connection header", "HTTP/1.1 200 OK\r\nX-B: 2\r\n" + cl, []string{"x-b"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var resp fasthttp.Response
			if err := resp.Read(bufio.NewReader(strings.NewReader(tt.raw))); err != nil {
				t.Fatalf("reading %q: %v", tt.raw, err)
			}
			dropResponseHopHeaders(&resp.Header)
			var got []string
			for k := range resp.Header.All() {
				if n := strings.ToLower(string(k)); strings.HasPrefix(n, "x-") || n == "connection" {
					got = append(got, n)
				}
			}
			for k := range resp.Header.Trailers() {
				got = append(got, "trailer:"+strings.ToLower(string(k)))
			}
			if !slices.Equal(got, tt.want) || resp.ConnectionClose() {
				t.Errorf("got %v (close %v), want %v and no close\n%s", got, resp.ConnectionClose(), tt.want, resp.Header.String())
			}
		})
	}
}
