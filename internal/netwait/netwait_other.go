//go:build !linux

package netwait

import (
	"errors"
	"net"
)

// Delivered is Linux-only (SIOCOUTQ); elsewhere it fails, and the tests
// that need it skip.
func Delivered(net.Conn) error { return errors.New("SIOCOUTQ is Linux-only") }
