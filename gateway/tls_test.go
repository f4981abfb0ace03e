package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/configs"
)

func TestTLSSettingsChanged(t *testing.T) {
	base := configs.Server{TLS: &configs.TLS{CertFile: "a.crt", KeyFile: "a.key", MinVersion: "1.2"}}
	tests := []struct {
		desc string
		next configs.Server
		want bool
	}{
		{desc: "same settings in a new struct", next: configs.Server{TLS: &configs.TLS{CertFile: "a.crt", KeyFile: "a.key", MinVersion: "1.2"}}, want: false},
		{desc: "new cert path", next: configs.Server{TLS: &configs.TLS{CertFile: "b.crt", KeyFile: "a.key", MinVersion: "1.2"}}, want: true},
		{desc: "min version", next: configs.Server{TLS: &configs.TLS{CertFile: "a.crt", KeyFile: "a.key", MinVersion: "1.3"}}, want: true},
		{desc: "TLS removed", next: configs.Server{}, want: true},
		{desc: "admin TLS added", next: configs.Server{TLS: base.TLS, AdminTLS: &configs.TLS{CertFile: "x", KeyFile: "y"}}, want: true},
		{desc: "upstream CA (reloads live)", next: configs.Server{TLS: base.TLS, UpstreamCAFile: "ca.pem"}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := tlsSettingsChanged(base, tt.next); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	if c := (*listenerTLS)(nil).config(); c != nil {
		t.Errorf("plain listener: got a TLS config %v, want nil", c)
	}
	if _, err := newListenerTLS(&configs.TLS{CertFile: "/nonexistent.crt", KeyFile: "/nonexistent.key"}); err == nil {
		t.Error("missing certificate files: got no error")
	}
}

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

	prev := upstreamRoots.Load()
	t.Cleanup(func() { upstreamRoots.Store(prev) })

	dial := func(c *tls.Config) error {
		conn, err := tls.Dial("tcp", addr, c)
		if err == nil {
			conn.Close()
		}
		return err
	}
	cfg := upstreamTLSConfig("127.0.0.1") // httptest's certificate names 127.0.0.1 and example.com

	upstreamRoots.Store(other)
	if err := dial(cfg); err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Errorf("CA pool without the server's CA: got %v, want an unknown-authority error", err)
	}
	upstreamRoots.Store(trusted) // what a reload does
	if err := dial(cfg); err != nil {
		t.Errorf("after the pool changed to the server's CA, the same config: got %v, want a handshake", err)
	}
	if err := dial(upstreamTLSConfig("example.com")); err != nil {
		t.Errorf("server name example.com (in the certificate): got %v, want a handshake", err)
	}
	if err := dial(upstreamTLSConfig("models.internal")); err == nil || !strings.Contains(err.Error(), "models.internal") {
		t.Errorf("server name not in the certificate: got %v, want a host name error", err)
	}
	if err := verifyUpstream(tls.ConnectionState{}, "127.0.0.1", trusted); err == nil {
		t.Error("no peer certificate: got no error")
	}
}
