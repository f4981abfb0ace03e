//go:build !unix

package upstream

// peek is a no-op where MSG_PEEK|MSG_DONTWAIT is not available: only what
// crypto/tls has buffered is checked, and a connection closed by the
// container fails on first use (and is retried on a fresh one).
func (c *upstreamConn) peek(uintptr) {}
