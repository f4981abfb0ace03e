package gateway

import (
	"strings"
	"testing"
	"time"
)

// TestBareLFRequestFailsFast: a request whose lines end in a bare LF is
// answered 400 at once, not held until server.read_timeout (fasthttp waits
// for CRLF CRLF). CRLF requests, with empty lines before the request line
// too, are served as before.
func TestBareLFRequestFailsFast(t *testing.T) {
	m := startModel(t, "fraud", "v1")
	h := startGateway(t, "server:\n  listen: 127.0.0.1:0\n  admin_listen: 127.0.0.1:0\n  read_timeout: 60s\n"+
		"tenants:\n"+tenantYAML("acme", "fraud", "", "v1:1:"+m.URL))
	key, _ := testKey("acme")
	addr := strings.TrimPrefix(h.url, "http://")
	tests := []struct {
		desc, raw, want string
	}{
		{"bare LF everywhere", "GET /v2/models/fraud HTTP/1.1\nHost: gw\nX-API-Key: " + key + "\n\n", "HTTP/1.1 400"},
		{"bare LF after the request line only", "GET /v2/models/fraud HTTP/1.1\nHost: gw\r\nX-API-Key: " + key + "\r\n\r\n", "HTTP/1.1 400"},
		{"bare LF ending the head", "GET /v2/models/fraud HTTP/1.1\r\nHost: gw\r\nX-API-Key: " + key + "\r\n\n", "HTTP/1.1 400"},
		{"CRLF", "GET /v2/models/fraud HTTP/1.1\r\nHost: gw\r\nX-API-Key: " + key + "\r\nConnection: close\r\n\r\n", "HTTP/1.1 200"},
		{"empty line before the request line", "\r\nGET /v2/models/fraud HTTP/1.1\r\nHost: gw\r\nX-API-Key: " + key + "\r\nConnection: close\r\n\r\n", "HTTP/1.1 200"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			began := time.Now()
			got := rawExchange(t, addr, tt.raw) // gives up after 5 s, far below read_timeout
			if !strings.HasPrefix(got, tt.want) {
				t.Fatalf("after %v got %q, want %q", time.Since(began).Round(time.Millisecond), got, tt.want)
			}
		})
	}
}
