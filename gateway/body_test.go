package gateway

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/await"
)

// TestStalledBodiesHoldLittleMemory: connections that announce a body just
// under server.max_body_bytes and then stall must not make the gateway
// reserve that much memory each (fasthttp preallocated Content-Length bytes
// per connection: 200 such connections took 3.3 GB). Without a key they are
// refused at once (TestBodyOfUnknownCallerNeverRead); with one, the body
// is read only after admission, and a stalled one holds a read buffer.
func TestStalledBodiesHoldLittleMemory(t *testing.T) {
	const (
		conns   = 40
		maxBody = 8 << 20
	)
	m := startModel(t, "fraud", "v1")
	h := startGateway(t, "server:\n  listen: 127.0.0.1:0\n  admin_listen: 127.0.0.1:0\n  max_body_bytes: 8388608\n  read_timeout: 30s\n"+
		"tenants:\n"+tenantYAML("acme", "fraud", "", "v1:1:"+m.URL))
	key, _ := testKey("acme")
	addr := strings.TrimPrefix(h.url, "http://")
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	var open []net.Conn
	t.Cleanup(func() {
		for _, c := range open {
			c.Close()
		}
	})
	for range conns {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, c)
		// A body of max_body_bytes-1 announced, 100 bytes sent.
		io.WriteString(c, "POST /v2/models/fraud/infer HTTP/1.1\r\nHost: gw\r\nX-API-Key: "+key+"\r\nContent-Length: 8388607\r\n\r\n"+strings.Repeat("x", 100))
	}
	// Wait until the gateway has read every connection's headers: each one
	// is then an open connection of the server.
	await.Until(t, 10*time.Second, "every stalled connection accepted", func() bool {
		return h.gw.app.Server().GetOpenConnectionsCount() >= conns
	})
	grown := int64(heap()) - int64(before)
	if limit := int64(conns * 256 << 10); grown > limit {
		t.Errorf("heap grew by %d MiB for %d stalled connections, want at most %d MiB (%d MiB each announced)",
			grown>>20, conns, limit>>20, maxBody>>20)
	}
	t.Logf("heap growth for %d stalled connections: %d KiB", conns, grown>>10)
	// A request with a real body still works alongside.
	if r := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key); r.code != 200 {
		t.Fatalf("request with a key: got %d %s", r.code, r.body)
	}
	// A large body of an authenticated caller is read in full.
	big := `{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP64","data":[1.0,0.5,-0.3,2.0]}],"pad":"` + strings.Repeat("p", 1<<20) + `"}`
	if r := h.do("POST", "/v2/models/fraud/infer", big, "X-API-Key", key); r.code != 200 {
		t.Fatalf("1 MiB body with a key: got %d %s", r.code, r.body[:min(len(r.body), 200)])
	}
}

// TestBodyOfUnknownCallerNeverRead: a request without a known key (or
// with a Content-Length over the cap) that announces a body is answered
// from its headers, before read_timeout and before any body byte arrives,
// with the JSON error; the connection is then closed, so the bytes it
// sends after the headers are never read as a request of their own.
func TestBodyOfUnknownCallerNeverRead(t *testing.T) {
	m := startModel(t, "fraud", "v1")
	h := startGateway(t, "server:\n  listen: 127.0.0.1:0\n  admin_listen: 127.0.0.1:0\n  max_body_bytes: 4096\n  read_timeout: 60s\n"+
		"tenants:\n"+tenantYAML("acme", "fraud", "", "v1:1:"+m.URL))
	key, _ := testKey("acme")
	addr := strings.TrimPrefix(h.url, "http://")
	smuggled := "GET /v2/health/live HTTP/1.1\r\nHost: gw\r\n\r\n"
	tests := []struct {
		desc, headers, body string
		want                string // status line prefix
		reason              string
	}{
		{"no key, nothing sent", "Content-Length: 4000\r\n", "", "HTTP/1.1 401", "unauthorized"},
		{"no key, a request in the body", "Content-Length: " + itoa(len(smuggled)) + "\r\n", smuggled, "HTTP/1.1 401", "unauthorized"},
		{"unknown key, chunked", "X-API-Key: nope\r\nTransfer-Encoding: chunked\r\n", "5\r\nhello\r\n", "HTTP/1.1 401", "unauthorized"},
		{"bearer of no tenant", "Authorization: Bearer nope\r\nContent-Length: 10\r\n", "", "HTTP/1.1 401", "unauthorized"},
		{"over the cap, with a key", "X-API-Key: " + key + "\r\nContent-Length: 5000\r\n", "", "HTTP/1.1 413", "body_too_large"},
		{"client's own refusal header", "X-API-Key: " + key + "\r\nX-Modelgate-Refused: 413\r\nContent-Length: " + itoa(len(inferBody)) + "\r\n", inferBody, "HTTP/1.1 200", ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// Far below read_timeout: an answer that waited for the body
			// would not come in time.
			c.SetDeadline(time.Now().Add(20 * time.Second))
			io.WriteString(c, "POST /v2/models/fraud/infer HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"+tt.headers+"\r\n"+tt.body)
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if line := resp.Proto + " " + resp.Status; !strings.HasPrefix(line, tt.want) {
				t.Fatalf("got %q %s, want %q", line, body, tt.want)
			}
			if tt.reason == "" {
				return
			}
			if !strings.HasPrefix(string(body), `{"error":`) || !resp.Close {
				t.Errorf("got body %s, Connection: close %v; want a JSON error and the connection closed", body, resp.Close)
			}
			if n, err := br.ReadByte(); err != io.EOF {
				t.Errorf("after the refusal: read %q, %v; want EOF (the body is never parsed as a request)", n, err)
			}
		})
	}
	if got := h.scrape()["modelgate_rejected_requests_total|model=|reason=unauthorized|tenant="]; got != 4 {
		t.Errorf("rejected unauthorized: got %v, want 4", got)
	}
	if got := m.Server.Requests(); len(got) != 1 {
		t.Errorf("the model got %d requests, want 1 (only the keyed request within the cap)", len(got))
	}
}

// TestExpectContinueDecidedFromHeaders: a request with Expect:
// 100-continue whose headers already decide a refusal gets that status
// first, never "100 Continue" (a client that waits for it would send the
// whole body into a closing connection); a good one is invited and served.
func TestExpectContinueDecidedFromHeaders(t *testing.T) {
	m := startModel(t, "fraud", "v1")
	h := startGateway(t, "server:\n  listen: 127.0.0.1:0\n  admin_listen: 127.0.0.1:0\n  max_body_bytes: 4096\n"+
		"tenants:\n"+tenantYAML("acme", "fraud", "", "v1:1:"+m.URL))
	key, _ := testKey("acme")
	addr := strings.TrimPrefix(h.url, "http://")
	tests := []struct {
		desc, headers string
		length        int
		want          string // first status line
	}{
		{"body over the cap", "X-API-Key: " + key + "\r\n", 1 << 20, "HTTP/1.1 413"},
		{"no key", "", len(inferBody), "HTTP/1.1 401"},
		{"unknown key", "X-API-Key: nope\r\n", len(inferBody), "HTTP/1.1 401"},
		{"model of no tenant of the caller", "X-API-Key: " + key + "\r\n", len(inferBody), "HTTP/1.1 404"},
		{"good", "X-API-Key: " + key + "\r\n", len(inferBody), "HTTP/1.1 100 Continue"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			path := "/v2/models/fraud/infer"
			if strings.Contains(tt.desc, "no tenant") {
				path = "/v2/models/churn/infer"
			}
			io.WriteString(c, "POST "+path+" HTTP/1.1\r\nHost: gw\r\n"+tt.headers+"Expect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: "+itoa(tt.length)+"\r\n\r\n")
			br := bufio.NewReader(c)
			if tt.desc != "good" {
				// A refusal: the whole answer, a JSON error, before any body.
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("no answer before the body: %v", err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if line := resp.Proto + " " + resp.Status; !strings.HasPrefix(line, tt.want) || !strings.HasPrefix(string(body), `{"error":`) || !resp.Close {
					t.Fatalf("got %q %s (Connection: close %v), want %q with a JSON error, closing", line, body, resp.Close, tt.want)
				}
				return
			}
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("no answer before the body: %v", err)
			}
			if !strings.HasPrefix(line, tt.want) {
				t.Fatalf("first line %q, want %q", line, tt.want)
			}
			for l := ""; l != "\r\n"; l, _ = br.ReadString('\n') {
			}
			io.WriteString(c, inferBody)
			if line, _ := br.ReadString('\n'); !strings.HasPrefix(line, "HTTP/1.1 200") {
				t.Fatalf("after the body: %q, want 200", line)
			}
		})
	}
}
