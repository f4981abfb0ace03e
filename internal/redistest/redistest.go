// Package redistest runs a real redis-server for tests: on a free loopback
// port, in a temporary directory, without persistence (--save ”,
// --appendonly no). A test is skipped, saying why, only when the
// redis-server binary is missing and CI is unset; in CI (CI=true, where
// .ci/run installs it) a missing binary fails the test.
package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is one redis-server process. Kill and Restart may be called from
// the test's goroutine only.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	// Addr is host:port of the server, the same across Restart.
	Addr string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Start starts a redis-server and waits until it answers PING; it is
// killed when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("redis-server not installed (CI must install the redis-server package: .ci/run): %v", err)
		}
		t.Skip("redis-server not installed: apt-get install -y redis-server (Debian package redis-server) to run this test")
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir()}
	for attempt := 0; ; attempt++ {
		s.port = freePort(t)
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
		if err := s.start(); err == nil {
			break
		} else if attempt == 4 {
			t.Fatalf("starting redis-server: %v", err)
		}
	}
	t.Cleanup(s.Kill)
	return s
}

func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// start runs the process and waits up to 10 s for PING to answer.
func (s *Server) start() error {
	cmd := exec.Command(s.bin, "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", s.dir, "--daemonize", "no", "--loglevel", "warning")
	cmd.Dir = s.dir
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if Ping(s.Addr) {
			s.mu.Lock()
			s.cmd = cmd
			s.mu.Unlock()
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("redis-server exited before answering: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return os.ErrDeadlineExceeded
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Kill SIGKILLs the server (no shutdown, as a crash) and waits until its
// port refuses connections. Killing a stopped server does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	deadline := time.Now().Add(10 * time.Second)
	for Ping(s.Addr) {
		if time.Now().After(deadline) {
			s.t.Errorf("redis-server on %s still answers after SIGKILL", s.Addr)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Restart starts a killed server again on the same port (empty: nothing
// was persisted).
func (s *Server) Restart() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatalf("restarting redis-server on %s: %v", s.Addr, err)
	}
}

// Ping reports whether a Redis server at addr answers PING within 200 ms.
func Ping(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}
