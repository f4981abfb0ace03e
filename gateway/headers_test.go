package gateway

import (
	"bufio"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/modelgate/modelgate/router"
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

// dropRequestHeadersRef is dropRequestHeaders written plainly, for
// comparison: every fixed name deleted, then the names found.
func dropRequestHeadersRef(h *fasthttp.RequestHeader) {
	for _, n := range requestDrop {
		h.Del(n)
	}
	var named []string
	for _, v := range h.PeekAll("Connection") {
		named = appendConnectionNames(named, v)
	}
	for k := range h.All() {
		if hasPrefixFold(k, prefixModelgate) || strings.Contains(string(k), "_") {
			named = append(named, string(k))
		}
	}
	for _, n := range named {
		h.Del(n)
	}
	h.Del("Connection")
}

// cgiName is the CGI/WSGI variable a header name becomes (RFC 3875 §4.1.18).
func cgiName(name string) string {
	return "HTTP_" + strings.Map(func(r rune) rune {
		if r == '-' {
			return '_'
		}
		return unicode.ToUpper(r)
	}, name)
}

// manyNames repeats format (with one %d) n times, numbered.
func manyNames(format string, n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, format, i)
	}
	return b.String()
}

func TestDropRequestHeaders(t *testing.T) {
	const body = "{}"
	base := []string{"content-length", "content-type", "host"}
	tests := []struct {
		desc, headers string
		want          []string // header names left besides base, lowercase, sorted
	}{
		{desc: "typical", headers: "Authorization: Bearer k\r\nContent-Type: application/json\r\n"},
		{desc: "nothing to drop", headers: "X-Custom: 1\r\n", want: []string{"x-custom"}},
		{desc: "every hop header and credential, any case",
			headers: "authorization: x\r\nX-API-KEY: k\r\nkeep-alive: 5\r\nProxy-Connection: x\r\nPROXY-AUTHENTICATE: x\r\n" +
				"proxy-authorization: x\r\nTe: trailers\r\nUpgrade: h2c\r\nX-Custom: 1\r\n",
			want: []string{"x-custom"}},
		{desc: "X-Modelgate-* and Connection tokens",
			headers: "X-Modelgate-Tenant: globex\r\nx-modelgate-anything: 1\r\nConnection: keep-alive, X-Secret-Hop\r\n" +
				"X-Secret-Hop: 1\r\nX-Modelgate: not-prefixed\r\n",
			want: []string{"x-modelgate"}},
		{desc: "names near the prefix are kept",
			headers: "X-Modelgatex-Tenant: 1\r\nXModelgate-Tenant: 1\r\nX-Model-Gate-Tenant: 1\r\n",
			want:    []string{"x-model-gate-tenant", "x-modelgatex-tenant", "xmodelgate-tenant"}},

		// The Connection header never reaches the container, whatever it says.
		{desc: "Connection: close", headers: "Connection: close\r\n"},
		{desc: "Connection: keep-alive", headers: "Connection: keep-alive\r\nX-Custom: 1\r\n", want: []string{"x-custom"}},
		{desc: "Connection: Close, Keep-Alive in any case", headers: "CONNECTION: Close, KEEP-ALIVE\r\n"},
		{desc: "Connection naming the gateway's headers",
			headers: "Connection: X-Modelgate-Tenant, x-request-id, X-MODELGATE-VERSION\r\nX-Request-ID: abc\r\nX-Custom: 1\r\n",
			want:    []string{"x-custom"}},
		{desc: "Connection close with a name",
			headers: "Connection: close, X-Hop\r\nX-Hop: 1\r\nX-Custom: 1\r\n", want: []string{"x-custom"}},
		{desc: "Connection tokens with blanks and empty items",
			headers: "Connection: ,\t X-A ,, x-b\t,\r\nX-A: 1\r\nX-B: 1\r\nX-C: 1\r\n", want: []string{"x-c"}},
		{desc: "two Connection headers",
			headers: "Connection: keep-alive\r\nX-A: 1\r\nconnection: X-A\r\nConnection: close, X-B\r\nX-B: 1\r\n"},
		{desc: "Connection naming a name with '_'", headers: "Connection: X_A\r\nX_A: 1\r\n"},

		// Every name with '_' is dropped, whatever it would map to.
		{desc: "underscore tenant, every spelling",
			headers: "X_Modelgate_Tenant: globex\r\nx_modelgate_tenant: globex\r\nX_MODELGATE_TENANT: globex\r\n" +
				"X-Modelgate_Tenant: globex\r\nX_Modelgate-Tenant: globex\r\nx-modelgate_TENANT: globex\r\n"},
		// The gateway sets X-Request-ID (from the client's first one, read
		// before): no client copy of it is left beside the gateway's.
		{desc: "two X-Request-ID", headers: "X-Request-ID: rid-1\r\nx-request-id: globex\r\nX-Custom: 1\r\n", want: []string{"x-custom"}},
		{desc: "underscore request id, key and version",
			headers: "X_Request_ID: globex\r\nX_API_Key: k\r\nX_Modelgate_Version: v9\r\nX-Request_Id: globex\r\n"},
		{desc: "underscore hop-by-hop and framing names",
			headers: "Keep_Alive: 5\r\nProxy_Authorization: x\r\nTransfer_Encoding: gzip\r\nContent_Length: 99\r\n" +
				"Connection_: x\r\nX-Custom: 1\r\n",
			want: []string{"x-custom"}},
		{desc: "any name with '_'",
			headers: "X_Custom: 1\r\n_: 1\r\n_X: 1\r\nX_: 1\r\nA__B: 1\r\nX-Custom: 1\r\n", want: []string{"x-custom"}},

		// Past maxNamedDeletes names the header is rebuilt: the same result.
		{desc: "many '_' names",
			headers: strings.Repeat("X_Modelgate_Tenant: globex\r\n", 3) + manyNames("x_%d: 1\r\n", 40) +
				"Cookie: a=1\r\nUser-Agent: ua\r\nContent-Type: text/plain\r\nX-Custom: 1\r\nAuthorization: x\r\n",
			want: []string{"cookie", "user-agent", "x-custom"}},
		{desc: "many '_' names and two X-Request-ID",
			headers: "X-Request-ID: rid-1\r\nx-request-id: globex\r\n" + manyNames("x_%d: 1\r\n", 40) + "X-Custom: 1\r\n",
			want:    []string{"x-custom"}},
		{desc: "many Connection names",
			headers: "Connection: close, " + strings.TrimSuffix(manyNames("X-H%d,", 40), ",") + "\r\n" +
				manyNames("x-h%d: 1\r\n", 40) + "X-Modelgate-Version: v9\r\nX-Custom: 1\r\n",
			want: []string{"x-custom"}},
		{desc: "many names in a chunked request",
			headers: "Transfer-Encoding: chunked\r\nTrailer: X-Sum\r\n" + manyNames("X-Modelgate-%d: 1\r\n", 40),
			want:    []string{"x-sum"}},

		// Trailers join the header section before the scan.
		{desc: "announced trailer",
			headers: "Transfer-Encoding: chunked\r\nTrailer: X-Sum\r\nAuthorization: x\r\nKeep-Alive: 5\r\n",
			want:    []string{"x-sum"}}, // the body written out de-chunked
		{desc: "X-Modelgate and '_' names in trailers",
			headers: "Transfer-Encoding: chunked\r\nTrailer: X_Modelgate_Tenant, X-Modelgate-Tenant\r\n",
			want:    []string{"x-sum"}},
		{desc: "unannounced trailers", headers: "Transfer-Encoding: chunked\r\n", want: []string{"x-sum"}},
		{desc: "announced with a length: the header it names",
			headers: "Trailer: X_A, X-Modelgate-Tenant\r\nX_A: 1\r\nX-Modelgate-Tenant: globex\r\nX-B: 1\r\n", want: []string{"x-b"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			raw := "POST /v2/models/m/infer HTTP/1.1\r\nHost: gw\r\n" + tt.headers
			if strings.Contains(tt.headers, "chunked") {
				raw += "\r\n2\r\n{}\r\n0\r\nX-Sum: 1\r\nX_Modelgate_Tenant: globex\r\nX-Modelgate-Tenant: globex\r\n\r\n"
			} else {
				raw += "Content-Length: 2\r\n\r\n" + body
			}
			fast, ref := parseRequest(t, raw), parseRequest(t, raw)
			dropRequestHeaders(&fast.Header)
			dropRequestHeadersRef(&ref.Header)
			want := slices.Sorted(slices.Values(append(tt.want, base...)))
			got, gotRef := headerNames(t, fast.String()), headerNames(t, ref.String())
			if !slices.Equal(got, want) {
				t.Errorf("headers left: got %v, want %v\n%s", got, want, fast.String())
			}
			if !slices.Equal(got, gotRef) {
				t.Errorf("one pass left %v, deleting every name left %v", got, gotRef)
			}

			// As the container's CGI server sees the prepared request:
			// the gateway's values, once each.
			up := parseRequest(t, raw)
			prepareUpstreamRequest(up, []byte("/v2/models/m/infer"), []byte("acme"), []byte("v1"), []byte("rid-1"))
			if string(up.Body()) != body {
				t.Errorf("got body %q, want %q", up.Body(), body)
			}
			wire, err := http.ReadRequest(bufio.NewReader(strings.NewReader(up.String())))
			if err != nil {
				t.Fatalf("the prepared request does not parse: %v\n%s", err, up.String())
			}
			vars := map[string][]string{}
			for k, vs := range wire.Header {
				vars[cgiName(k)] = append(vars[cgiName(k)], vs...)
			}
			for name, want := range map[string]string{
				"HTTP_X_MODELGATE_TENANT": "acme", "HTTP_X_MODELGATE_VERSION": "v1", "HTTP_X_REQUEST_ID": "rid-1",
			} {
				if got := vars[name]; len(got) != 1 || got[0] != want {
					t.Errorf("%s: got %q, want [%q]\n%s", name, got, want, up.String())
				}
			}
			for _, n := range []string{"HTTP_CONNECTION", "HTTP_AUTHORIZATION", "HTTP_X_API_KEY"} {
				if got, ok := vars[n]; ok {
					t.Errorf("%s: got %q, want none", n, got)
				}
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
// nothing hop-by-hop, at most a Connection option) are cleaned without
// allocating.
func TestDropHeadersAllocs(t *testing.T) {
	raw := "POST /v2/models/m/infer HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer k\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
	req := parseRequest(t, raw)
	var resp fasthttp.Response
	resp.Header.SetContentType("application/json")
	resp.SetBody([]byte("{}"))
	allocs := testing.AllocsPerRun(100, func() {
		req.Header.Set("Authorization", "Bearer k")
		req.Header.Set("Connection", "keep-alive")
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
			dropRequestHeadersRef(&req.Header)
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
	v := &versionRoute{name: "v1", value: []byte("v1"), paths: router.NewContainerPaths("m", "")}
	for b.Loop() {
		client.CopyTo(&req.Header)
		prepareUpstreamRequest(&req, v.paths.Of(router.KindInfer), []byte("acme"), v.value, rid)
		setResponseHeaders(&resp.Header, rid, v)
	}
}

// BenchmarkDropRequestHeadersHostile: a request header full of names to
// drop (16 KiB, the default server.max_header_bytes) costs about what
// parsing it did, not one header scan per name.
func BenchmarkDropRequestHeadersHostile(b *testing.B) {
	for _, tt := range []struct{ desc, line string }{
		{"underscore", "%x_:\r\n"},
		{"prefix", "x-modelgate-%x:\r\n"},
	} {
		var sb strings.Builder
		sb.WriteString("POST /v2/models/m/infer HTTP/1.1\r\nHost: gw\r\n")
		for i := 0; sb.Len() < 16000; i++ {
			fmt.Fprintf(&sb, tt.line, i)
		}
		sb.WriteString("Content-Length: 2\r\n\r\n{}")
		raw := sb.String()
		var req fasthttp.Request
		b.Run(tt.desc, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				req.Reset()
				if err := req.Read(bufio.NewReaderSize(strings.NewReader(raw), 1<<15)); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				dropRequestHeaders(&req.Header)
			}
		})
	}
}
