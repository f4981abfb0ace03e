package gateway

import (
	"bufio"
	"slices"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"
)

// headerNames returns the header names of a written message, lowercased and
// sorted, as the receiving side sees them.
func headerNames(t *testing.T, wire string) []string {
	t.Helper()
	head, _, _ := strings.Cut(wire, "\r\n\r\n")
	var names []string
	for _, line := range strings.Split(head, "\r\n")[1:] {
		name, _, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("malformed header line %q in %q", line, wire)
		}
		names = append(names, strings.ToLower(name))
	}
	slices.Sort(names)
	return names
}

func parseRequest(t *testing.T, raw string) *fasthttp.Request {
	t.Helper()
	var req fasthttp.Request
	if err := req.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		t.Fatalf("reading %q: %v", raw, err)
	}
	return &req
}

func TestDropRequestHeaders(t *testing.T) {
	const body = "{}"
	tests := []struct {
		desc, headers string
		want          []string // header names left, lowercase, sorted
	}{
		{desc: "typical", headers: "Authorization: Bearer k\r\nContent-Type: application/json\r\nContent-Length: 2\r\n",
			want: []string{"content-length", "content-type", "host"}},
		{desc: "nothing to drop", headers: "Content-Length: 2\r\nX-Custom: 1\r\n",
			want: []string{"content-length", "content-type", "host", "x-custom"}},
		{desc: "every hop header and credential, any case",
			headers: "authorization: x\r\nX-API-KEY: k\r\nkeep-alive: 5\r\nProxy-Connection: x\r\nPROXY-AUTHENTICATE: x\r\n" +
				"proxy-authorization: x\r\nTe: trailers\r\nUpgrade: h2c\r\nContent-Length: 2\r\nX-Custom: 1\r\n",
			want: []string{"content-length", "content-type", "host", "x-custom"}},
		{desc: "X-Modelgate-* and Connection tokens",
			headers: "X-Modelgate-Tenant: globex\r\nx-modelgate-anything: 1\r\nConnection: keep-alive, X-Secret-Hop\r\n" +
				"X-Secret-Hop: 1\r\nX-Modelgate: not-prefixed\r\nContent-Length: 2\r\n",
			want: []string{"content-length", "content-type", "host", "x-modelgate"}},
		{desc: "Connection naming the gateway's headers, and close",
			headers: "Connection: close, X-Modelgate-Tenant, X-Request-ID\r\nX-Custom: 1\r\nContent-Length: 2\r\n",
			want:    []string{"connection", "content-length", "content-type", "host", "x-custom"}}, // only "close" is kept
		{desc: "underscore names, any spelling",
			headers: "X_Modelgate_Tenant: globex\r\nx-modelgate_version: v9\r\nX_API_Key: k\r\nX_Request_ID: r\r\n" +
				"Proxy_Authorization: x\r\nMy_Header: 1\r\nX-Custom: 1\r\nContent-Length: 2\r\n",
			want: []string{"content-length", "content-type", "host", "x-custom"}},
		{desc: "announced trailer takes the slow path",
			headers: "Transfer-Encoding: chunked\r\nTrailer: X-Sum\r\nAuthorization: x\r\nKeep-Alive: 5\r\n",
			want:    []string{"content-length", "content-type", "host", "x-sum"}}, // the body written out de-chunked
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			raw := "POST /v2/models/m/infer HTTP/1.1\r\nHost: gw\r\n" + tt.headers + "\r\n"
			if strings.Contains(tt.headers, "chunked") {
				raw += "2\r\n{}\r\n0\r\nX-Sum: 1\r\n\r\n"
			} else {
				raw += body
			}
			fast, slow := parseRequest(t, raw), parseRequest(t, raw)
			dropRequestHeaders(&fast.Header)
			dropRequestHeadersSlow(&slow.Header)
			dropConnection(&slow.Header)
			got, gotSlow := headerNames(t, fast.String()), headerNames(t, slow.String())
			if !slices.Equal(got, tt.want) {
				t.Errorf("headers left: got %v, want %v\n%s", got, tt.want, fast.String())
			}
			if !slices.Equal(got, gotSlow) {
				t.Errorf("one pass left %v, deleting every name left %v", got, gotSlow)
			}
		})
	}
}

func TestDropResponseHopHeaders(t *testing.T) {
	tests := []struct {
		desc, raw string
		want      []string
	}{
		{desc: "typical", raw: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
			want: []string{"content-length", "content-type"}},
		{desc: "hop headers, any case",
			raw:  "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nproxy-authenticate: x\r\nUPGRADE: h2c\r\nX-Custom: 1\r\nContent-Length: 2\r\n\r\n{}",
			want: []string{"content-length", "content-type", "x-custom"}},
		{desc: "chunked with trailer",
			raw:  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\nKeep-Alive: 5\r\n\r\n2\r\n{}\r\n0\r\nX-Sum: 1\r\n\r\n",
			want: []string{"content-length", "content-type", "x-sum"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var fast, slow fasthttp.Response
			for _, r := range []*fasthttp.Response{&fast, &slow} {
				if err := r.Read(bufio.NewReader(strings.NewReader(tt.raw))); err != nil {
					t.Fatalf("reading %q: %v", tt.raw, err)
				}
			}
			dropResponseHopHeaders(&fast.Header)
			for _, n := range hopHeaders {
				slow.Header.Del(n)
			}
			got, gotSlow := headerNames(t, fast.String()), headerNames(t, slow.String())
			// fasthttp adds Date and Server when writing: not the proxy's concern.
			got = slices.DeleteFunc(got, func(n string) bool { return n == "date" || n == "server" })
			gotSlow = slices.DeleteFunc(gotSlow, func(n string) bool { return n == "date" || n == "server" })
			if !slices.Equal(got, tt.want) {
				t.Errorf("headers left: got %v, want %v\n%s", got, tt.want, fast.String())
			}
			if !slices.Equal(got, gotSlow) {
				t.Errorf("one pass left %v, deleting every name left %v", got, gotSlow)
			}
		})
	}
}

// TestDropHeadersAllocs: the typical request and response (credentials,
// nothing hop-by-hop) are cleaned without allocating.
func TestDropHeadersAllocs(t *testing.T) {
	raw := "POST /v2/models/m/infer HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer k\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
	req := parseRequest(t, raw)
	var resp fasthttp.Response
	resp.Header.SetContentType("application/json")
	resp.SetBody([]byte("{}"))
	allocs := testing.AllocsPerRun(100, func() {
		req.Header.Set("Authorization", "Bearer k")
		dropRequestHeaders(&req.Header)
		dropResponseHopHeaders(&resp.Header)
	})
	if allocs != 0 {
		t.Errorf("got %.1f allocations per request, want 0", allocs)
	}
}

// BenchmarkHeaderHygiene compares, on a typical request (credentials and
// content headers, nothing hop-by-hop), the one-pass cleanup of the request
// and the answer with deleting every name unconditionally.
func BenchmarkHeaderHygiene(b *testing.B) {
	raw := "POST /v2/models/m/infer HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer k\r\nContent-Type: application/json\r\n" +
		"User-Agent: wrk\r\nAccept: */*\r\nContent-Length: 2\r\n\r\n{}"
	var req fasthttp.Request
	if err := req.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		b.Fatal(err)
	}
	var resp fasthttp.Response
	resp.Header.SetContentType("application/json")
	resp.Header.Set("Date", "Wed, 25 Nov 2026 12:00:00 GMT")
	resp.SetBody([]byte("{}"))
	b.Run("one-pass", func(b *testing.B) {
		for b.Loop() {
			req.Header.Set("Authorization", "Bearer k")
			dropRequestHeaders(&req.Header)
			dropResponseHopHeaders(&resp.Header)
		}
	})
	b.Run("every-name", func(b *testing.B) {
		for b.Loop() {
			req.Header.Set("Authorization", "Bearer k")
			dropRequestHeadersSlow(&req.Header)
			for _, n := range hopHeaders {
				resp.Header.Del(n)
			}
		}
	})
}

// BenchmarkPrepareUpstreamRequest measures the header work of one proxied
// request outside the network: the request rewrite (path, hygiene, the
// gateway's three headers) and the two headers set on the answer.
func BenchmarkPrepareUpstreamRequest(b *testing.B) {
	raw := "POST /v2/models/m/infer HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer k\r\nContent-Type: application/json\r\n" +
		"User-Agent: wrk\r\nAccept: */*\r\nContent-Length: 2\r\n\r\n{}"
	var req fasthttp.Request
	if err := req.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
		b.Fatal(err)
	}
	var client fasthttp.RequestHeader // the client's headers, restored each time
	req.Header.CopyTo(&client)
	var resp fasthttp.Response
	resp.Header.SetContentType("application/json")
	rid := []byte("0123456789abcdef0123456789abcdef")
	v := &versionRoute{name: "v1", value: []byte("v1")}
	for b.Loop() {
		client.CopyTo(&req.Header)
		prepareUpstreamRequest(&req, []byte("acme"), v.value, rid)
		setResponseHeaders(&resp.Header, rid, v)
	}
}
