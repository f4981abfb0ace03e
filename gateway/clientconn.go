package gateway

import (
	"crypto/tls"
	"errors"
	"net"
)

// errBareLF fails the read of a request head whose lines end in a bare LF.
// fasthttp waits for a CRLF CRLF before it parses the headers, so such a
// request would otherwise hold its connection until server.read_timeout;
// failing the read makes fasthttp answer 400 (fiberError: "malformed
// request") at once.
var errBareLF = errors.New("request line or header ends in a bare LF")

// bareLFListener wraps the traffic listener so that each request head is
// checked for bare LF line endings as it is read (see clientConn). The
// first request of a connection is always checked; each later one when
// the request before it was read exactly, body included, with nothing read
// ahead (rearm): a pipelined or chunked request leaves the next head
// unchecked, bounded by server.read_timeout as before, rather than risk
// scanning a body.
type bareLFListener struct{ net.Listener }

func (l bareLFListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*tls.Conn); ok {
		return &tlsClientConn{clientConn{Conn: tc}, tc}, nil
	}
	return &clientConn{Conn: c}, nil
}

// clientConn scans the bytes of a request head, up to the empty line that
// ends it, then reads without looking, counting the bytes read past the
// head. Reads are sequential (fasthttp's connection goroutine, which also
// runs the handler that calls rearm), so it needs no lock.
type clientConn struct {
	net.Conn
	done    bool  // the head ended (or failed)
	started bool  // a byte of the request line was seen (empty lines before it are skipped)
	cr      bool  // the last byte was a CR
	line    int   // bytes of the current line, CR and LF not counted
	after   int64 // bytes read past the end of the head
}

func (c *clientConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.done {
		c.after += int64(n)
		return n, err
	}
	for i, b := range p[:n] {
		switch b {
		case '\n':
			if !c.cr {
				c.done = true
				return i, errBareLF
			}
			if c.line == 0 && c.started {
				c.done = true // the empty line that ends the head
				c.after = int64(n - i - 1)
				return n, err
			}
			c.line, c.cr = 0, false
		case '\r':
			c.cr = true
		default:
			c.cr = false
			c.line++
			c.started = true
		}
	}
	return n, err
}

// rearm makes the next request head on the connection checked again, if
// the request just served was read exactly: its head ended and the bytes
// read past it are its body of bodyLen bytes, no more (more means the
// next request was read ahead, partly, and its head can no longer be
// scanned from its start).
func (c *clientConn) rearm(bodyLen int64) {
	if c.done && c.after == bodyLen {
		c.done, c.started, c.cr, c.line, c.after = false, false, false, 0, 0
	}
}

// tlsClientConn is a clientConn over TLS. It keeps the TLS connection's
// Handshake and ConnectionState visible, so fasthttp (RequestCtx.IsTLS,
// TLSConnectionState) sees the connection as the TLS one it is.
type tlsClientConn struct {
	clientConn
	tls *tls.Conn
}

// Handshake runs the TLS handshake if it has not run yet.
func (c *tlsClientConn) Handshake() error { return c.tls.Handshake() }

// ConnectionState is the TLS connection's state.
func (c *tlsClientConn) ConnectionState() tls.ConnectionState { return c.tls.ConnectionState() }

// rearmer is a traffic connection whose head check can be re-armed.
type rearmer interface{ rearm(bodyLen int64) }
