//go:build !linux

package gateway

import (
	"errors"
	"net"
)

// waitDelivered is Linux-only (SIOCOUTQ); elsewhere the tests that need it
// are skipped.
func waitDelivered(net.Conn) error { return errors.New("SIOCOUTQ is Linux-only") }
