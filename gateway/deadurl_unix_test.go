//go:build unix

package gateway

import (
	"fmt"
	"syscall"
	"testing"
)

// deadURL returns the URL of a loopback port that refuses connections for
// the whole test: a socket bound to it that never listens. Holding the port
// matters: a port closed after a probe can be taken by another process's
// listener (parallel test binaries), which would then accept and never
// answer, turning "refused" into a hang.
func deadURL(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
}
