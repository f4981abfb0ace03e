package gateway

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/await"
	"github.com/modelgate/modelgate/internal/testlog"
)

// rawExchange writes raw to the gateway on a fresh connection and returns
// every byte the gateway sends back until it closes the connection (or 5 s
// pass: the refused requests here all get a prompt answer and a close).
func rawExchange(t *testing.T, addr, raw string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(conn)
	return string(b)
}

// TestRefusedRequestsLeakNothing sends requests the HTTP parser refuses,
// each carrying credentials and a payload, and greps everything the gateway
// prints (debug log, access log) and answers: neither may hold a byte of
// the request. fasthttp's parse errors embed the raw request buffer; the
// client gets a fixed message and the log a fixed cause.
func TestRefusedRequestsLeakNothing(t *testing.T) {
	m := startModel(t, "fraud", "v1")
	var logs testlog.Buffer
	h := startGateway(t, "logging: {access_log: true, level: debug}\ntenants:\n"+
		tenantYAML("acme", "fraud", "", "v1:1:"+m.URL), &logs)
	addr := strings.TrimPrefix(h.url, "http://")
	const (
		secret  = "SECRET-Bearer-9f1c"
		apiKey  = "APIKEY-77aa"
		payload = "PAYLOAD-c0ffee"
	)
	creds := "Authorization: Bearer " + secret + "\r\nX-API-Key: " + apiKey + "\r\n"
	body := `{"inputs":"` + payload + `"}`
	cl := len(body)
	start := "POST /v2/models/fraud/infer HTTP/1.1\r\nHost: gw\r\n" + creds
	tests := []struct {
		desc, raw string
	}{
		{"duplicate Content-Length", start + "Content-Length: 28\r\nContent-Length: 29\r\n\r\n" + body},
		{"list Content-Length", start + "Content-Length: 28, 28\r\n\r\n" + body},
		{"unknown Transfer-Encoding", start + "Transfer-Encoding: gzip-" + payload + "\r\n\r\n" + body},
		{"header line without colon", start + "Broken" + payload + "\r\nContent-Length: " + itoa(cl) + "\r\n\r\n" + body},
		{"CR in a value", start + "X-Note: a\rb" + payload + "\r\nContent-Length: " + itoa(cl) + "\r\n\r\n" + body},
		{"bad chunk size", start + "Transfer-Encoding: chunked\r\n\r\nzz" + payload + "\r\n" + body + "\r\n0\r\n\r\n"},
		{"bad method token", "PO(ST /v2/models/fraud/infer HTTP/1.1\r\nHost: gw\r\n" + creds + "Content-Length: " + itoa(cl) + "\r\n\r\n" + body},
		{"bad Content-Length", start + "Content-Length: 2" + payload + "\r\n\r\n" + body},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got := rawExchange(t, addr, tt.raw)
			if !strings.HasPrefix(got, "HTTP/1.1 4") {
				t.Fatalf("got %q, want a 4xx answer", got)
			}
			if !strings.Contains(got, `{"error":"`) {
				t.Errorf("answer %q is not the JSON error shape", got)
			}
			for _, marker := range []string{secret, apiKey, payload} {
				if strings.Contains(got, marker) {
					t.Errorf("answer holds %q: %q", marker, got)
				}
			}
		})
	}
	// Every refusal has its access-log line; none holds a byte of its request.
	await.Until(t, 5*time.Second, "an access-log line per refused request", func() bool {
		return strings.Count(logs.String(), `"msg":"access"`) >= len(tests)
	})
	out := logs.String()
	for _, marker := range []string{secret, apiKey, payload, "Bearer", "Host: gw"} {
		if strings.Contains(out, marker) {
			t.Errorf("the log holds %q:\n%s", marker, out)
		}
	}
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
