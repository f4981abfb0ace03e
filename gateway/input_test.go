package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/testlog"
)

// rawResponse is what a raw TCP exchange got back.
type rawResponse struct {
	code   int
	body   string
	header http.Header
}

// rawDo writes raw (a whole HTTP/1.1 request, or a prefix of one) to the
// gateway on a fresh connection and reads one response.
func rawDo(t *testing.T, addr, raw string) (rawResponse, error) {
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
		return rawResponse{}, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return rawResponse{}, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return rawResponse{code: resp.StatusCode, body: string(b), header: resp.Header}, nil
}

// rawRequest renders a request with an exact request-target.
func rawRequest(method, target, key, body string) string {
	return fmt.Sprintf("%s %s HTTP/1.1\r\nHost: gw\r\nX-API-Key: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		method, target, key, len(body), body)
}

// TestPathNormalization sends request-targets byte for byte (no client
// normalization) and checks the exact status and JSON error. fasthttp's
// Path() percent-decodes, resolves dot segments and merges slashes before
// router.ParsePath sees the path, so "..", "%2e%2e" and encoded slashes can
// only move within the calling tenant's own model table.
func TestPathNormalization(t *testing.T) {
	fraud := startModel(t, "fraud", "v1")
	churn := startModel(t, "churn", "v1")
	h := startGateway(t, "tenants:\n"+
		tenantYAML("acme", "fraud", "", "v1:1:"+fraud.URL)+
		tenantYAML("globex", "churn", "", "v1:1:"+churn.URL))
	key, _ := testKey("acme")
	addr := strings.TrimPrefix(h.url, "http://")
	const (
		notFoundPath  = `{"error":"no such API path"}`
		notFoundModel = `{"error":"model not found"}`
		badName       = `{"error":"invalid model or version name"}`
		methodNot     = `{"error":"method not allowed"}`
	)
	long := strings.Repeat("m", 129)
	tests := []struct {
		desc, target string
		wantCode     int
		wantBody     string // exact for errors, substring for 200
		wantUpstream string // path the model container saw, for 200
	}{
		{desc: "plain", target: "/v2/models/fraud/infer", wantCode: 200, wantBody: `"outputs"`, wantUpstream: "/v2/models/fraud/infer"},
		{desc: "dot-dot out of models", target: "/v2/models/../x", wantCode: 404, wantBody: notFoundPath},
		{desc: "dot-dot to another tenant's model", target: "/v2/models/fraud/../churn/infer", wantCode: 404, wantBody: notFoundModel},
		{desc: "dot-dot above root", target: "/v2/models/../../../../etc/passwd", wantCode: 404, wantBody: notFoundPath},
		{desc: "encoded dot-dot", target: "/v2/models/%2e%2e/x/infer", wantCode: 404, wantBody: notFoundPath},
		{desc: "encoded dot-dot uppercase", target: "/v2/models/fraud/%2E%2E/churn/infer", wantCode: 404, wantBody: notFoundModel},
		{desc: "encoded dot-dot resolving to own model", target: "/v2/models/x/%2e%2e/fraud/infer", wantCode: 200, wantBody: `"outputs"`, wantUpstream: "/v2/models/fraud/infer"},
		{desc: "double slashes merged", target: "//v2//models//fraud//infer", wantCode: 200, wantBody: `"outputs"`, wantUpstream: "/v2/models/fraud/infer"},
		{desc: "encoded slash inside a name", target: "/v2/models/fra%2Fud/infer", wantCode: 404, wantBody: notFoundPath},
		{desc: "encoded slash as separator", target: "/v2/models/fraud%2Finfer", wantCode: 200, wantBody: `"outputs"`, wantUpstream: "/v2/models/fraud/infer"},
		{desc: "encoded letters", target: "/v2/models/%66raud/infer", wantCode: 200, wantBody: `"outputs"`, wantUpstream: "/v2/models/fraud/infer"},
		{desc: "encoded NUL", target: "/v2/models/fr%00ud/infer", wantCode: 400, wantBody: badName},
		{desc: "encoded backslash dot-dot", target: "/v2/models/fraud%5c..%5cchurn/infer", wantCode: 400, wantBody: badName},
		{desc: "bad character", target: "/v2/models/fr@ud/infer", wantCode: 400, wantBody: badName},
		{desc: "encoded space", target: "/v2/models/fr%20ud/infer", wantCode: 400, wantBody: badName},
		{desc: "non-ASCII", target: "/v2/models/fr%C3%A4ud/infer", wantCode: 400, wantBody: badName},
		{desc: "name too long", target: "/v2/models/" + long + "/infer", wantCode: 400, wantBody: badName},
		{desc: "name at max length", target: "/v2/models/" + long[:128] + "/infer", wantCode: 404, wantBody: notFoundModel},
		{desc: "bad version name", target: "/v2/models/fraud/versions/v%201/infer", wantCode: 400, wantBody: badName},
		{desc: "v1 bad name", target: "/v1/models/fr$ud:predict", wantCode: 400, wantBody: badName},
		{desc: "single dot segment", target: "/v2/models/./fraud/infer", wantCode: 200, wantBody: `"outputs"`, wantUpstream: "/v2/models/fraud/infer"},
		{desc: "encoded single dot", target: "/v2/models/%2e/infer", wantCode: 405, wantBody: methodNot},
		{desc: "trailing slash", target: "/v2/models/fraud/infer/", wantCode: 404, wantBody: notFoundPath},
		{desc: "query kept apart", target: "/v2/models/fraud/infer?x=%2e%2e", wantCode: 200, wantBody: `"outputs"`, wantUpstream: "/v2/models/fraud/infer"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			fraud.Server.ResetRequests()
			r, err := rawDo(t, addr, rawRequest("POST", tt.target, key, inferBody))
			if err != nil {
				t.Fatal(err)
			}
			if r.code != tt.wantCode {
				t.Fatalf("got %d %s, want %d", r.code, r.body, tt.wantCode)
			}
			if tt.wantCode != 200 {
				if r.body != tt.wantBody || r.header.Get("Content-Type") != "application/json" {
					t.Errorf("got body %s (%s), want %s as application/json", r.body, r.header.Get("Content-Type"), tt.wantBody)
				}
				if n := len(fraud.Server.Requests()) + len(churn.Server.Requests()); n != 0 {
					t.Errorf("a model container got %d requests, want 0", n)
				}
				return
			}
			if !strings.Contains(r.body, tt.wantBody) {
				t.Errorf("got body %s, want it to contain %s", r.body, tt.wantBody)
			}
			reqs := fraud.Server.Requests()
			if len(reqs) != 1 || reqs[0].Path != tt.wantUpstream {
				t.Errorf("upstream saw %v, want one request for %s", reqs, tt.wantUpstream)
			}
		})
	}
	if n := len(churn.Server.Requests()); n != 0 {
		t.Errorf("globex's churn container got %d requests from acme, want 0", n)
	}
}

// TestRequestLimits: body and header size caps and slow clients, each with
// its exact status and JSON error, over raw connections.
func TestRequestLimits(t *testing.T) {
	m := startModel(t, "fraud", "v1")
	var logs testlog.Buffer
	h := startGateway(t, "server:\n  listen: 127.0.0.1:0\n  admin_listen: 127.0.0.1:0\n  max_body_bytes: 1024\n  max_header_bytes: 2048\n  read_timeout: 500ms\n"+
		"logging:\n  access_log: true\n"+
		"tenants:\n"+tenantYAML("acme", "fraud", "", "v1:1:"+m.URL), &logs)
	key, _ := testKey("acme")
	addr := strings.TrimPrefix(h.url, "http://")
	head := "POST /v2/models/fraud/infer HTTP/1.1\r\nHost: gw\r\nX-API-Key: " + key + "\r\n"
	tests := []struct {
		desc     string
		raw      string
		wantCode int
		wantBody string
	}{
		{desc: "body at the cap", raw: rawRequest("POST", "/v2/models/fraud/infer", key, inferBody+strings.Repeat(" ", 1024-len(inferBody))), wantCode: 200},
		// fasthttp reads at most 8 KiB of a body before the handler decides
		// (a client that sends none gets the read timeout: see
		// TestExpectContinueDecidedFromHeaders for clients that wait).
		{desc: "declared length over the cap", raw: head + "Content-Length: 104857600\r\n\r\n" + strings.Repeat("x", 8<<10), wantCode: 413, wantBody: `{"error":"request body too large"}`},
		{desc: "chunked body over the cap", raw: head + "Transfer-Encoding: chunked\r\n\r\n" + fmt.Sprintf("%x\r\n%s\r\n", 2000, strings.Repeat("x", 2000)), wantCode: 413, wantBody: `{"error":"request body too large"}`},
		{desc: "headers over the cap", raw: head + "X-Big: " + strings.Repeat("b", 3000) + "\r\nContent-Length: 0\r\n\r\n", wantCode: 431, wantBody: `{"error":"request headers too large"}`},
		{desc: "slow headers", raw: "POST /v2/models/fraud/infer HTTP/1.1\r\nHost: gw\r\n", wantCode: 408, wantBody: `{"error":"request timed out"}`},
		{desc: "slow body", raw: head + "Content-Length: 500\r\n\r\n{\"inputs\":", wantCode: 408, wantBody: `{"error":"request timed out"}`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			m.Server.ResetRequests()
			began := time.Now()
			r, err := rawDo(t, addr, tt.raw)
			if err != nil {
				t.Fatalf("got no response (%v), want %d", err, tt.wantCode)
			}
			if r.code != tt.wantCode {
				t.Fatalf("got %d %s, want %d", r.code, r.body, tt.wantCode)
			}
			if tt.wantCode == 200 {
				return
			}
			if r.body != tt.wantBody || r.header.Get("Content-Type") != "application/json" {
				t.Errorf("got body %s (%s), want %s as application/json", r.body, r.header.Get("Content-Type"), tt.wantBody)
			}
			if n := len(m.Server.Requests()); n != 0 {
				t.Errorf("the model container got %d requests, want 0", n)
			}
			if d := time.Since(began); d > 10*time.Second {
				t.Errorf("answered after %v, want promptly", d)
			}
		})
	}
	for reason, want := range map[string]float64{"body_too_large": 2, "header_too_large": 1, "request_timeout": 2} {
		if got := h.metricLine(`modelgate_rejected_requests_total{model="",reason="` + reason + `",tenant=""}`); got != want {
			t.Errorf("rejected{reason=%q} = %v, want %v", reason, got, want)
		}
	}

	// One access-log line each, refused ones included: the 200, then
	// 413, 413, 431, 408, 408 in the order sent.
	lines := waitLines(t, &logs, 6)
	var got []string
	for _, l := range lines {
		got = append(got, fmt.Sprint(l["status"], " ", l["method"]))
		if l["status"] != 200.0 && (l["error"] == nil || l["error"] == "") {
			t.Errorf("refused request's line has no error: %v", l)
		}
	}
	// Bodies are read by the handler (after admission): its refusals know
	// the method; fasthttp's (headers, slow clients) do not.
	want := []string{"200 POST", "413 POST", "413 POST", "431 <nil>", "408 <nil>", "408 <nil>"}
	if !slices.Equal(got, want) {
		t.Errorf("access lines (status method) = %q, want %q", got, want)
	}
}
