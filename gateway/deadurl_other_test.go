//go:build !unix

package gateway

import (
	"net"
	"testing"
)

// deadURL returns the URL of a loopback port nobody listens on (the port
// is not held: see the unix version).
func deadURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	return u
}
