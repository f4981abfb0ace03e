package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A model container behind a CGI (or WSGI) server sees a request header
// as the variable HTTP_<NAME>, with '-' and '_' both mapped to '_': a
// client's X_Modelgate_Tenant is the gateway's X-Modelgate-Tenant there.
// And a sidecar proxy in front of it removes the headers a Connection
// header names. The test container is exactly that: Go's net/http/cgi host
// behind an httputil.ReverseProxy, running this test binary as the CGI
// child, which answers with the HTTP_* variables it was given.

// cgiChildEnv switches the test binary into the CGI child.
const cgiChildEnv = "MODELGATE_TEST_CGI_CHILD"

func init() {
	if os.Getenv(cgiChildEnv) != "1" {
		return
	}
	err := cgi.Serve(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		var vars []string
		for _, kv := range os.Environ() {
			if strings.HasPrefix(kv, "HTTP_") {
				vars = append(vars, kv)
			}
		}
		slices.Sort(vars)
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, strings.Join(vars, "\n"))
	}))
	if err != nil {
		fmt.Fprintln(os.Stderr, "cgi child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// cgiModel is the container: a reverse proxy (the sidecar) in front of a
// CGI host. It records the header names the sidecar received.
type cgiModel struct {
	URL   string
	mu    sync.Mutex
	names [][]string // per request, the header names as received
}

func startCGIModel(t *testing.T) *cgiModel {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	host := httptest.NewServer(&cgi.Handler{Path: exe, Env: []string{cgiChildEnv + "=1"}})
	t.Cleanup(host.Close)
	hostURL, err := url.Parse(host.URL)
	if err != nil {
		t.Fatal(err)
	}
	m := &cgiModel{}
	sidecar := httputil.NewSingleHostReverseProxy(hostURL)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var names []string
		for k := range r.Header {
			names = append(names, k)
		}
		slices.Sort(names)
		m.mu.Lock()
		m.names = append(m.names, names)
		m.mu.Unlock()
		sidecar.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	m.URL = front.URL
	return m
}

// lastNames returns the header names of the last request the sidecar got.
func (m *cgiModel) lastNames() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.names) == 0 {
		return nil
	}
	return m.names[len(m.names)-1]
}

// rawResponseExchange sends raw (a whole request) on a new connection to addr and
// reads the answer.
func rawResponseExchange(t *testing.T, addr, raw string) (*http.Response, string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer body: %v", err)
	}
	return resp, string(b)
}

func TestCGIContainerSeesOwnTenant(t *testing.T) {
	model := startCGIModel(t)
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud", noHealth, "v1:1:"+model.URL))
	key, _ := testKey("acme")
	addr := strings.TrimPrefix(h.url, "http://")

	tests := []struct {
		desc    string
		headers string // extra request header lines, each ending in CRLF
		chunked string // if set, the body is chunked with these trailer lines
	}{
		{desc: "underscore spelling", headers: "X_Modelgate_Tenant: globex\r\n"},
		{desc: "a second X-Request-ID", headers: "X-Request-ID: rid-1\r\nx-request-id: globex\r\n"},
		{desc: "a second X-Request-ID after an invalid one", headers: "X-Request-ID: \r\nX-Request-ID: globex\r\n"},
		{desc: "Connection names the tenant header",
			headers: "Connection: X-Modelgate-Tenant\r\nX_Modelgate_Tenant: globex\r\n"},
		{desc: "Connection keep-alive and lowercase",
			headers: "Connection: keep-alive, x-modelgate-tenant\r\nx_modelgate_tenant: globex\r\n"},
		{desc: "Connection close and a name",
			headers: "Connection: close, X-Modelgate-Tenant\r\nX_MODELGATE_TENANT: globex\r\n"},
		{desc: "two Connection headers",
			headers: "Connection: keep-alive\r\nConnection: X-MODELGATE-TENANT\r\nX-Modelgate_Tenant: globex\r\n"},
		{desc: "every gateway header named and spoofed",
			headers: "Connection: X-Modelgate-Tenant, X-Modelgate-Version, X-Request-ID\r\n" +
				"X_Modelgate_Tenant: globex\r\nX_Modelgate_Version: globex\r\nX_Request_ID: globex\r\nx-modelgate_tenant: globex\r\n"},
		{desc: "hyphen and underscore spellings together",
			headers: "X-Modelgate-Tenant: globex\r\nX_Modelgate_Tenant: globex\r\nX_API_Key: globex\r\n"},
		{desc: "underscore name in a chunked body's trailer",
			headers: "Connection: X-Modelgate-Tenant\r\n", chunked: "X_Modelgate_Tenant: globex\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			raw := "POST /v2/models/fraud/infer HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer " + key + "\r\n" +
				"Content-Type: application/json\r\n" + tt.headers
			if tt.chunked != "" {
				raw += fmt.Sprintf("Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n%s\r\n", len(inferBody), inferBody, tt.chunked)
			} else {
				raw += fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(inferBody), inferBody)
			}
			resp, body := rawResponseExchange(t, addr, raw)
			if resp.StatusCode != 200 {
				t.Fatalf("got status %d, want 200: %s", resp.StatusCode, body)
			}
			vars := strings.Split(body, "\n")
			for name, want := range map[string]string{
				"HTTP_X_MODELGATE_TENANT":  "acme",
				"HTTP_X_MODELGATE_VERSION": "v1",
				"HTTP_X_REQUEST_ID":        resp.Header.Get("X-Request-ID"),
			} {
				var got []string
				for _, kv := range vars {
					if v, ok := strings.CutPrefix(kv, name+"="); ok {
						got = append(got, v)
					}
				}
				if len(got) != 1 || got[0] != want {
					t.Errorf("container's %s: got %q, want [%q]", name, got, want)
				}
			}
			if strings.Contains(body, "globex") {
				t.Errorf("the container saw globex:\n%s", body)
			}
			for _, n := range model.lastNames() {
				if strings.Contains(n, "_") {
					t.Errorf("the container got header %s (names with '_' must be dropped); all: %v", n, model.lastNames())
				}
			}
		})
	}
}

// wireModel is a container on loopback that records the head of every
// request as sent on the wire, and the number of connections it accepted.
type wireModel struct {
	URL   string
	heads chan string
	conns atomic.Int64
}

func startWireModel(t *testing.T) *wireModel {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := &wireModel{URL: "http://" + ln.Addr().String(), heads: make(chan string, 16)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			m.conns.Add(1)
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					var head strings.Builder
					for {
						line, err := br.ReadString('\n')
						if err != nil {
							return
						}
						head.WriteString(line)
						if line == "\r\n" {
							break
						}
					}
					req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head.String())))
					if err != nil {
						return
					}
					if _, err := io.CopyN(io.Discard, br, req.ContentLength); err != nil {
						return
					}
					m.heads <- head.String()
					_, _ = io.WriteString(c, rawAnswer(200, `{}`))
				}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return m
}

// TestUpstreamConnectionHeader: whatever Connection header a client sends,
// none reaches the container, and the gateway keeps its one connection to
// it open (a client's close is for the client's connection only).
func TestUpstreamConnectionHeader(t *testing.T) {
	model := startWireModel(t)
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud", noHealth, "v1:1:"+model.URL))
	key, _ := testKey("acme")
	addr := strings.TrimPrefix(h.url, "http://")
	tests := []struct {
		desc, proto, headers string
		wantClose            bool // the client's connection closes after the answer
	}{
		{desc: "none", proto: "HTTP/1.1"},
		{desc: "close", proto: "HTTP/1.1", headers: "Connection: close\r\n", wantClose: true},
		{desc: "keep-alive", proto: "HTTP/1.1", headers: "Connection: keep-alive\r\n"},
		{desc: "names", proto: "HTTP/1.1", headers: "Connection: X-Modelgate-Tenant, X-Hop\r\nX-Hop: 1\r\n"},
		{desc: "close and names", proto: "HTTP/1.1", headers: "Connection: close, X-Request-ID\r\n", wantClose: true},
		{desc: "HTTP/1.0", proto: "HTTP/1.0", wantClose: true},
		{desc: "HTTP/1.0 keep-alive", proto: "HTTP/1.0", headers: "Connection: keep-alive\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			raw := "POST /v2/models/fraud/infer " + tt.proto + "\r\nHost: gw\r\nAuthorization: Bearer " + key + "\r\n" +
				tt.headers + "Content-Length: 2\r\n\r\n{}"
			resp, body := rawResponseExchange(t, addr, raw)
			if resp.StatusCode != 200 {
				t.Fatalf("got status %d, want 200: %s", resp.StatusCode, body)
			}
			if resp.Close != tt.wantClose {
				t.Errorf("the client's connection closes: got %v, want %v", resp.Close, tt.wantClose)
			}
			var head string
			select {
			case head = <-model.heads:
			case <-time.After(10 * time.Second):
				t.Fatal("the container got no request")
			}
			for _, line := range strings.Split(head, "\r\n") {
				name, _, _ := strings.Cut(line, ":")
				if strings.EqualFold(name, "Connection") || strings.EqualFold(name, "X-Hop") {
					t.Errorf("the container got %q:\n%s", line, head)
				}
			}
			if !strings.HasPrefix(head, "POST /v2/models/fraud/infer HTTP/1.1\r\n") {
				t.Errorf("the container got request line %q, want HTTP/1.1", strings.SplitN(head, "\r\n", 2)[0])
			}
			if !strings.Contains(head, "\r\nX-Modelgate-Tenant: acme\r\n") {
				t.Errorf("the container did not get X-Modelgate-Tenant: acme:\n%s", head)
			}
			if n := model.conns.Load(); n != 1 {
				t.Errorf("the gateway opened %d connections to the container, want 1", n)
			}
		})
	}
}
