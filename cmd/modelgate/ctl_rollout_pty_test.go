//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/modelgate/modelgate/internal/await"
	"github.com/modelgate/modelgate/internal/testlog"
)

// openPTY opens a pseudo-terminal: what is written to slave is read from
// master. The test is skipped where there are none.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	ioctl := func(req uintptr, arg unsafe.Pointer) syscall.Errno {
		_, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), req, uintptr(arg))
		return e
	}
	var unlock int32
	var n uint32
	if e := ioctl(syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); e != 0 {
		m.Close()
		t.Skipf("unlocking the pseudo-terminal: %v", e)
	}
	if e := ioctl(syscall.TIOCGPTN, unsafe.Pointer(&n)); e != 0 {
		m.Close()
		t.Skipf("naming the pseudo-terminal: %v", e)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Skipf("opening the pseudo-terminal's slave: %v", err)
	}
	return m, s
}

// TestRolloutWatchTerminal: on a terminal, watch clears the screen and
// redraws the detail every interval, changed or not, and still ends with
// the rollout.
func TestRolloutWatchTerminal(t *testing.T) {
	master, slave := openPTY(t)
	defer master.Close()
	t.Setenv("TERM", "xterm")
	var screen testlog.Buffer
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			screen.Write(b[:n])
			if err != nil {
				return // EIO once the slave is closed
			}
		}
	}()

	gw := startRollouts(t)
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), []string{"rollout", "watch", "acme/fraud", "--interval", "100ms",
			"--admin", "http://" + gw.admin, "--token", "vera"}, slave, slave)
	}()
	await.Until(t, 10*time.Second, "three redraws of the waiting rollout", func() bool {
		return strings.Count(screen.String(), clearScreen+"Every 100ms: modelgate rollout watch acme/fraud") >= 3
	})
	gw.as("otto", "rollout", "abort", "acme/fraud").want(t, 0, "aborted")
	select {
	case code := <-done:
		if code != 1 {
			t.Errorf("watch on a terminal of an aborted rollout: exit %d, want 1", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("watch did not return; screen:\n%q", screen.String())
	}
	slave.Close()
	<-drained
	out := screen.String()
	last := out[strings.LastIndex(out, clearScreen):]
	// The terminal turns each "\n" into "\r\n".
	if !strings.Contains(last, "\r\nstate:      aborted (aborted by otto)\r\n") || !strings.Contains(last, "\r\nthe rollout ended: acme/fraud: aborted") {
		t.Errorf("the last screen:\n%q", last)
	}
}
