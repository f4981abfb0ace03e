package upstream

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync/atomic"
)

// clientTLSConfig is the client TLS config of an https:// endpoint: TLS
// 1.2+, the server name from the URL, the chain verified against the
// roots pool current at each handshake (server.upstream_ca_file, or the
// system roots when nil) and the certificate against the server name — what
// crypto/tls verifies itself, done in VerifyConnection so that a reload can
// change the pool under HostClients that keep their tls.Config.
func clientTLSConfig(serverName string, roots *atomic.Pointer[x509.CertPool]) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		ServerName: serverName,
		// Not skipped: VerifyConnection below does the full verification
		// (chain, validity, key usage, host name) on every handshake,
		// resumed ones included. crypto/tls documents this pairing.
		InsecureSkipVerify: true, //nolint:gosec // see above
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyUpstream(cs, serverName, roots.Load())
		},
	}
}

// verifyUpstream verifies an upstream's certificate chain against roots
// (nil: the system roots) and its leaf against serverName, as crypto/tls
// does for a client without InsecureSkipVerify.
func verifyUpstream(cs tls.ConnectionState, serverName string, roots *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tls: upstream sent no certificate")
	}
	opts := x509.VerifyOptions{
		Roots:         roots,
		DNSName:       serverName,
		Intermediates: x509.NewCertPool(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, c := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
		return fmt.Errorf("tls: upstream certificate: %w", err)
	}
	return nil
}
