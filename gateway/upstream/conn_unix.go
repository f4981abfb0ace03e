//go:build unix

package upstream

import "syscall"

// peek looks, without blocking or consuming, for bytes or an end of stream
// waiting on the socket fd (run by RawConn.Control, which holds fd open).
func (c *upstreamConn) peek(fd uintptr) {
	n, _, err := syscall.Recvfrom(int(fd), c.peekBuf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	// n > 0: unread bytes; n == 0 without an error: the peer closed; an
	// error other than "would block": the connection is broken.
	c.pending = n > 0 || err != syscall.EAGAIN && err != syscall.EWOULDBLOCK
}
