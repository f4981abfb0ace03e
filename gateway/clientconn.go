package gateway

import (
	"errors"
	"net"
)

// errBareLF fails the read of a request head whose lines end in a bare LF.
// fasthttp waits for a CRLF CRLF before it parses the headers, so such a
// request would otherwise hold its connection until server.read_timeout;
// failing the read makes fasthttp answer 400 (fiberError: "malformed
// request") at once.
var errBareLF = errors.New("request line or header ends in a bare LF")

// bareLFListener wraps the traffic listener so that each connection's
// first request head is checked for bare LF line endings (see
// clientConn). A client that ends its lines in LF does so from its first
// request, which is therefore the one checked; later requests on a
// keep-alive connection are not scanned (finding their start would mean
// parsing bodies), and are bounded by server.read_timeout as before.
type bareLFListener struct{ net.Listener }

func (l bareLFListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &clientConn{Conn: c}, nil
}

// clientConn scans the bytes of its connection's first request head, up
// to the empty line that ends it, then reads without looking. Reads are
// sequential (fasthttp's connection goroutine), so it needs no lock.
type clientConn struct {
	net.Conn
	done    bool // the first head ended (or failed)
	started bool // a byte of the request line was seen (empty lines before it are skipped)
	cr      bool // the last byte was a CR
	line    int  // bytes of the current line, CR and LF not counted
}

func (c *clientConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.done {
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
