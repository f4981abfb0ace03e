// Package netwait is for tests that must know a peer has received what was
// written to a socket before they look at the other side.
package netwait

import (
	"crypto/tls"
	"errors"
	"net"
	"syscall"
	"time"
	"unsafe"
)

// Delivered waits until every byte written to c has reached the peer's
// socket (on loopback: the send queue's unacknowledged bytes, SIOCOUTQ,
// drop to 0 once the peer's kernel has queued them).
func Delivered(c net.Conn) error {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return errors.New("not a socket")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		var queued int32
		var errno syscall.Errno
		if err := raw.Control(func(fd uintptr) {
			_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&queued)))
		}); err != nil {
			return err
		}
		if errno != 0 {
			return errno
		}
		if queued == 0 {
			return nil
		}
	}
	return errors.New("bytes still unacknowledged after 5s")
}
