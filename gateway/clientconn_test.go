package gateway

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
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

// TestBareLFCheckedOnEveryKeepAliveRequest: on a keep-alive connection a
// later request with bare LFs fails fast too, once the request before it
// was read exactly; bodies are never scanned, so JSON bodies with bare LFs,
// sent back to back or pipelined, are served.
func TestBareLFCheckedOnEveryKeepAliveRequest(t *testing.T) {
	m := startModel(t, "fraud", "v1")
	h := startGateway(t, "server:\n  listen: 127.0.0.1:0\n  admin_listen: 127.0.0.1:0\n  read_timeout: 60s\n"+
		"tenants:\n"+tenantYAML("acme", "fraud", "", "v1:1:"+m.URL))
	key, _ := testKey("acme")
	addr := strings.TrimPrefix(h.url, "http://")
	body := "{\n\"inputs\": [{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"FP64\",\"data\":[1.0,0.5,-0.3,2.0]}]\n}\n"
	post := "POST /v2/models/fraud/infer HTTP/1.1\r\nHost: gw\r\nX-API-Key: " + key + "\r\nContent-Length: " + itoa(len(body)) + "\r\n\r\n" + body
	get := "GET /v2/models/fraud HTTP/1.1\r\nHost: gw\r\nX-API-Key: " + key + "\r\n\r\n"
	bareLF := "GET /v2/models/fraud HTTP/1.1\nHost: gw\nX-API-Key: " + key + "\n\n"

	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second)) // far below read_timeout
	br := bufio.NewReader(c)
	exchange := func(raw string, want int) {
		t.Helper()
		io.WriteString(c, raw)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("got %d %s, want %d", resp.StatusCode, b, want)
		}
	}
	exchange(post, 200) // a body with bare LFs: served
	exchange(get, 200)
	exchange(post, 200)
	exchange(bareLF, 400) // the fourth request on the connection, refused at once

	// Pipelined requests with such bodies are served; the head after a
	// read-ahead is left unchecked rather than a body scanned.
	c2, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(c2, post+post+get)
	br2 := bufio.NewReader(c2)
	for i := range 3 {
		resp, err := http.ReadResponse(br2, nil)
		if err != nil {
			t.Fatalf("pipelined request %d: %v", i+1, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("pipelined request %d: got %d, want 200", i+1, resp.StatusCode)
		}
	}
}

// TestTLSConnectionStaysVisible: the head-checking wrapper keeps a TLS
// connection's state reachable, as fasthttp's IsTLS looks for it.
func TestTLSConnectionStaysVisible(t *testing.T) {
	certPEM, keyPEM := selfSigned(t, "127.0.0.1")
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wrapped := bareLFListener{tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}})}
	defer wrapped.Close()
	go func() {
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
		if err == nil {
			c.Write([]byte("x"))
			c.Close()
		}
	}()
	c, err := wrapped.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tc, ok := c.(interface {
		Handshake() error
		ConnectionState() tls.ConnectionState
	})
	if !ok {
		t.Fatalf("accepted %T: no Handshake/ConnectionState, fasthttp would see plain HTTP", c)
	}
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if st := tc.ConnectionState(); !st.HandshakeComplete {
		t.Errorf("connection state %+v, want the handshake complete", st)
	}
	if _, ok := c.(rearmer); !ok {
		t.Errorf("accepted %T: the head check cannot be re-armed", c)
	}
}
