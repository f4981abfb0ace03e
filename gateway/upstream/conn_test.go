package upstream

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/await"
	"github.com/modelgate/modelgate/internal/netwait"
)

// TestHeadScan: the header scan finds the same bare LF, 101 and end of
// header whether the answer arrives in one read or byte by byte.
func TestHeadScan(t *testing.T) {
	const status = "HTTP/1.1 200 OK\r\n"
	tests := []struct {
		desc, answer string
		bareLF       int // index, or -1
		switched     bool
		done         bool // the final header is complete
	}{
		{"CRLF answer, LFs in the body", status + "A: b\r\n\r\nbody\n\n", -1, false, true},
		{"bare LF ends the status line", "HTTP/1.1 200 OK\nA: b\r\n\r\n", len("HTTP/1.1 200 OK"), false, false},
		{"bare LF ends a header line", status + "A: b\n\r\n", len(status + "A: b"), false, false},
		{"bare LF blank line", status + "A: b\r\n\n", len(status + "A: b\r\n"), false, false},
		{"leading bare LF", "\nHTTP/1.1 200 OK\r\n\r\n", 0, false, false},
		{"blank line before the status line", "\r\n" + status + "\r\n", -1, false, true},
		{"interim answers, then the final one", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + status + "\r\n{}", -1, false, true},
		{"bare LF in the final answer after an interim one", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\n\n", len("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK"), false, false},
		{"101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\n\x81\x05hello", -1, true, true},
		{"101 after two spaces", "HTTP/1.1  101 X\r\n\r\n", -1, true, true},
		{"incomplete header", status + "A: b\r\n", -1, false, false},
		{"no status code", "GARBAGE\r\n\r\n", -1, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			for _, size := range []int{len(tt.answer), 1, 2, 3, 7} {
				s := headScan{active: true}
				bare, switched := -1, false
				for off := 0; off < len(tt.answer) && bare < 0; off += size {
					chunk := []byte(tt.answer[off:min(off+size, len(tt.answer))])
					i, sw := s.feed(chunk)
					if i >= 0 {
						bare = off + i
					}
					switched = switched || sw
				}
				if bare != tt.bareLF || switched != tt.switched || (bare < 0 && s.active == tt.done) {
					t.Errorf("in reads of %d bytes: got bare LF at %d, switched %v, scanning %v; want %d, %v, %v",
						size, bare, switched, s.active, tt.bareLF, tt.switched, !tt.done)
				}
			}
		})
	}
}

// TestHandshakeCause: a failed TLS handshake with a container is reported
// by kind, without the certificate's names.
func TestHandshakeCause(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler()) // certificate for 127.0.0.1 and example.com
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	var roots atomic.Pointer[x509.CertPool] // a registry's pool, as SetRoots sets it
	trusted := x509.NewCertPool()
	trusted.AddCert(srv.Certificate())

	dial := func(serverName string) error {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c, err := newUpstreamConn(conn, clientTLSConfig(serverName, &roots), time.Now().Add(5*time.Second))
		if err == nil {
			c.Close()
		}
		return err
	}
	roots.Store(x509.NewCertPool())
	if err := dial("127.0.0.1"); err != causeTLSUntrusted {
		t.Errorf("untrusted CA: got %v, want %v", err, causeTLSUntrusted)
	}
	roots.Store(trusted)
	if err := dial("models.internal"); err != causeTLSName {
		t.Errorf("wrong name: got %v, want %v", err, causeTLSName)
	}
	if err := dial("127.0.0.1"); err != nil {
		t.Errorf("trusted: got %v, want a handshake", err)
	}

	// A server that accepts and never answers the handshake: bounded by
	// the dial's deadline.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newUpstreamConn(conn, &tls.Config{ServerName: "x"}, time.Now().Add(50*time.Millisecond)); err != causeConnectTimeout {
		t.Errorf("silent server: got %v, want %v", err, causeConnectTimeout)
	}
}

// BenchmarkConnCheck is what reusing a connection costs: the check for
// unread bytes before a request is written (one recv with MSG_PEEK and
// MSG_DONTWAIT on an idle loopback socket).
func BenchmarkConnCheck(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			var buf [1]byte
			_, _ = c.Read(buf[:]) // until the benchmark closes
		}
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	conn, err := newUpstreamConn(raw, nil, time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	c := conn.(*upstreamConn)
	b.ReportAllocs()
	for b.Loop() {
		if c.stale() {
			b.Fatal("an idle connection reported stale")
		}
	}
}

// TestConnCheckFindsStrayBytes: the check sees bytes the peer sent and
// its close, and nothing on an idle connection.
func TestConnCheckFindsStrayBytes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(peer)
			return
		}
		peer <- c
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn, _ := newUpstreamConn(raw, nil, time.Time{})
	defer conn.Close()
	c := conn.(*upstreamConn)
	p := <-peer
	if p == nil {
		t.Fatal("no connection accepted")
	}
	if c.stale() {
		t.Fatal("idle connection: got stale")
	}
	if _, err := p.Write([]byte("HTTP/1.1 200 OK\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := netwait.Delivered(p); err != nil {
		t.Skip(err)
	}
	if !c.stale() {
		t.Error("unread bytes waiting: got not stale")
	}
	var buf [64]byte
	if _, err := raw.Read(buf[:]); err != nil {
		t.Fatal(err)
	}
	if c.stale() {
		t.Error("after reading them: got stale")
	}
	p.Close()
	await.Until(t, 5*time.Second, "the peer's close seen by the check", c.stale)
}

// BenchmarkHeadScan is the header scan's share of reading a small answer
// (the one BenchmarkHandler's backend sends).
func BenchmarkHeadScan(b *testing.B) {
	answer := []byte("HTTP/1.1 200 OK\r\nServer: fasthttp\r\nDate: Wed, 02 Dec 2026 12:00:00 GMT\r\n" +
		"Content-Type: application/json\r\nContent-Length: 125\r\n\r\n" + `{"model_name":"fraud","model_version":"v1","outputs":[{"name":"probability","datatype":"FP64","shape":[1,1],"data":[0.67]}]}`)
	b.ReportAllocs()
	for b.Loop() {
		s := headScan{active: true}
		if i, _ := s.feed(answer); i >= 0 || s.active {
			b.Fatal("scan did not complete")
		}
	}
}
