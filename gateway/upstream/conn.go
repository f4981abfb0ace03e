package upstream

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"syscall"
	"time"
)

// upstreamConn is a connection to a model container, wrapped (by the
// endpoint's dial) so that the gateway never takes bytes it did not ask for
// as an answer:
//
//   - Before the first write of a request on a reused connection, it checks
//     without blocking whether the container sent anything since the last
//     answer, or closed: one recv(MSG_PEEK|MSG_DONTWAIT) on the socket, and
//     for TLS a look at what crypto/tls has buffered. If so, the write fails
//     with causeStale, fasthttp closes the connection and sends the request
//     on another one (retryOnFreshConn). A container that writes a second
//     answer cannot hand it to the next request — another tenant's, on a
//     shared endpoint URL. (nginx closes such connections too.)
//   - It follows the header sections of each answer as they are read: a
//     line ending in a bare LF fails the read at once with causeMalformed
//     (fasthttp would wait for a CRLF until the model's timeout), and after a
//     101 the connection is never reused (it no longer speaks HTTP).
//
// Answers themselves are still read and parsed by fasthttp; this sees the
// same bytes, once, and allocates nothing. fasthttp uses a connection for
// one request at a time, so the fields need no lock.
type upstreamConn struct {
	net.Conn                 // *net.TCPConn, or the *tls.Conn over it
	raw      syscall.RawConn // the TCP socket, for the check; nil if not a socket
	tls      *tls.Conn       // nil for http:// endpoints
	peekFn   func(fd uintptr)
	peekBuf  [1]byte
	pending  bool // set by peek: bytes or an end of stream are waiting

	writing bool  // the current request is being written
	used    bool  // an answer has been read on this connection
	broken  error // sticky: a bare LF was read, or the connection switched protocols
	head    headScan
}

// upstreamTLSConn is an upstreamConn over TLS. Its Handshake method tells
// fasthttp that the connection is TLS already (the dial did the handshake).
type upstreamTLSConn struct{ *upstreamConn }

// Handshake returns at once: the endpoint's dial completed the handshake.
func (c upstreamTLSConn) Handshake() error { return c.tls.Handshake() }

// aLongTimeAgo is a read deadline that makes a read return at once with
// what is buffered, or a timeout.
var aLongTimeAgo = time.Unix(1, 0)

// newUpstreamConn wraps conn, first completing a TLS handshake (by
// deadline) when tlsCfg is set. On error conn is closed and the error is a
// fixed cause.
func newUpstreamConn(conn net.Conn, tlsCfg *tls.Config, deadline time.Time) (net.Conn, error) {
	c := &upstreamConn{Conn: conn}
	if sc, ok := conn.(syscall.Conn); ok {
		c.raw, _ = sc.SyscallConn() // nil on error: the socket check is skipped
	}
	c.peekFn = c.peek // bound once: a check allocates nothing
	if tlsCfg == nil {
		return c, nil
	}
	tc := tls.Client(conn, tlsCfg)
	err := tc.SetDeadline(deadline)
	if err == nil {
		err = tc.Handshake()
	}
	if err == nil {
		err = tc.SetDeadline(time.Time{})
	}
	if err != nil {
		conn.Close()
		return nil, handshakeCause(err)
	}
	c.Conn, c.tls = tc, tc
	return upstreamTLSConn{c}, nil
}

// handshakeCause names why a TLS handshake with a container failed. The
// verification errors' own text names what the certificate holds, which
// the container chose: only the kind of failure is reported.
func handshakeCause(err error) *Error {
	var unknown x509.UnknownAuthorityError
	var name x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return causeConnectTimeout
	case errors.As(err, &unknown):
		return causeTLSUntrusted
	case errors.As(err, &name):
		return causeTLSName
	case errors.As(err, &invalid):
		return causeTLSInvalid
	default:
		return causeTLS
	}
}

// Write sends request bytes; the first write of a request on a reused
// connection checks it first.
func (c *upstreamConn) Write(p []byte) (int, error) {
	if !c.writing {
		c.writing = true
		if c.used && (c.broken != nil || c.stale()) {
			return 0, causeStale
		}
		c.head = headScan{active: true}
	}
	return c.Conn.Write(p)
}

// Read reads answer bytes, following their header sections. A bare LF ends
// the read: the bytes before it are returned with a placeholder for it (so
// fasthttp cannot complete the header from them, nor take them for an empty
// stream) and causeMalformed, which every later read returns too.
func (c *upstreamConn) Read(p []byte) (int, error) {
	c.writing = false
	c.used = true
	if c.broken == causeMalformed {
		return 0, c.broken
	}
	n, err := c.Conn.Read(p)
	if c.head.active && n > 0 {
		bad, switched := c.head.feed(p[:n])
		if bad >= 0 {
			p[bad] = 0
			c.broken = causeMalformed
			return bad + 1, causeMalformed
		}
		if switched {
			c.broken = causeSwitched
		}
	}
	return n, err
}

// stale reports whether bytes the gateway did not ask for, or the end of
// the stream, are waiting on the connection.
func (c *upstreamConn) stale() bool {
	if c.raw != nil {
		c.pending = false
		if c.raw.Control(c.peekFn) != nil || c.pending {
			return true
		}
	}
	return c.tls != nil && tlsBuffered(c.tls, c.peekBuf[:])
}

// tlsBuffered reports whether crypto/tls holds application data (or an
// error) read from the socket beyond the last answer: a read with a
// deadline in the past returns it, or times out without a system call.
func tlsBuffered(tc *tls.Conn, buf []byte) bool {
	if tc.SetReadDeadline(aLongTimeAgo) != nil {
		return true
	}
	n, err := tc.Read(buf)
	if tc.SetReadDeadline(time.Time{}) != nil {
		return true
	}
	return n > 0 || !errors.Is(err, os.ErrDeadlineExceeded)
}

// headScan follows the header sections of one answer as its bytes arrive:
// any interim (1xx) sections, then the final one. It stops at the final
// section's blank line, or at a 101's.
type headScan struct {
	active  bool
	prev    byte // the byte before the current chunk
	line    int  // bytes of the current line so far, its CR included
	started bool // the section's status line has begun (fasthttp skips blank lines before it)
	status  [16]byte
	statusN int
}

// feed scans the next chunk of the answer. It returns the index in b of a
// bare LF (or -1), and whether a 101 section ended.
func (s *headScan) feed(b []byte) (bareLF int, switched bool) {
	for i := 0; s.active && i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		seg := b[i:]
		if j >= 0 {
			seg = b[i : i+j]
		}
		if !s.started && s.statusN < len(s.status) {
			s.statusN += copy(s.status[s.statusN:], seg)
		}
		if j < 0 {
			s.line += len(seg)
			s.prev = b[len(b)-1]
			return -1, false
		}
		k := i + j // the LF
		prev := s.prev
		if k > 0 {
			prev = b[k-1]
		}
		if prev != '\r' {
			return k, false
		}
		blank := s.line+j == 1 // only the CR
		s.line, i = 0, k+1
		switch {
		case !blank:
			s.started = true
		case !s.started:
			s.statusN = 0 // a blank line before the status line
		default: // the end of a section
			code := statusCode(s.status[:s.statusN])
			if code == 101 {
				s.active = false
				return -1, true
			}
			if code < 100 || code > 199 {
				s.active = false // the final answer's header is complete
				return -1, false
			}
			*s = headScan{active: true, prev: '\n'} // an interim answer: its final one follows
		}
	}
	if len(b) > 0 {
		s.prev = b[len(b)-1]
	}
	return -1, false
}

// statusCode parses the code of a status line's start ("HTTP/1.1 101 …"),
// or returns 0.
func statusCode(line []byte) int {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return 0
	}
	line = bytes.TrimLeft(line[sp:], " ")
	if len(line) < 3 {
		return 0
	}
	code := 0
	for _, c := range line[:3] {
		if c < '0' || c > '9' {
			return 0
		}
		code = code*10 + int(c-'0')
	}
	return code
}
