package upstream

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestUpstreamVerification dials a real TLS server with an endpoint's client
// config: the chain is checked against the pool current at the handshake
// (so a reload's new CA applies to the next connection of the same config),
// and the certificate against the server name.
func TestUpstreamVerification(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	trusted := x509.NewCertPool()
	trusted.AddCert(srv.Certificate())
	other := x509.NewCertPool() // trusts nothing the server has

	var roots atomic.Pointer[x509.CertPool] // a registry's pool, as SetRoots sets it

	dial := func(c *tls.Config) error {
		conn, err := tls.Dial("tcp", addr, c)
		if err == nil {
			conn.Close()
		}
		return err
	}
	cfg := clientTLSConfig("127.0.0.1", &roots) // httptest's certificate names 127.0.0.1 and example.com

	roots.Store(other)
	if err := dial(cfg); err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("CA pool without the server's CA: got %v, want an unknown-authority error", err)
	}
	roots.Store(trusted) // what a reload does
	if err := dial(cfg); err != nil {
		t.Errorf("after the pool changed to the server's CA, the same config: got %v, want a handshake", err)
	}
	if err := dial(clientTLSConfig("example.com", &roots)); err != nil {
		t.Errorf("server name example.com (in the certificate): got %v, want a handshake", err)
	}
	if err := dial(clientTLSConfig("models.internal", &roots)); err == nil || !strings.Contains(err.Error(), "models.internal") {
		t.Errorf("server name not in the certificate: got %v, want a host name error", err)
	}
	if err := verifyUpstream(tls.ConnectionState{}, "127.0.0.1", trusted); err == nil {
		t.Error("no peer certificate: got no error")
	}
}
