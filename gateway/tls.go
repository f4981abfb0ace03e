package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"

	"github.com/modelgate/modelgate/configs"
)

// listenerTLS serves a listener's TLS settings from a holder that reloads
// replace, so new connections get the new certificate (and client CAs)
// while established ones keep theirs. Safe for concurrent use.
type listenerTLS struct {
	files configs.TLS // static: paths and min version need a restart
	cur   atomic.Pointer[tls.Config]
}

// tlsState is the gateway's TLS material: the two listeners' holders (nil
// when the listener is plain) and the first error met at New, which Listen
// and AdminTLSConfig report.
type tlsState struct {
	traffic, admin *listenerTLS
	err            error
}

// initTLS loads the listeners' certificates and the upstream CA bundle of
// cfg. Called once by New, before the first snapshot creates endpoints.
func (g *Gateway) initTLS(cfg *configs.Config) {
	var errs []error
	var err error
	if g.tls.traffic, err = newListenerTLS(cfg.Server.TLS); err != nil {
		errs = append(errs, fmt.Errorf("server.tls: %w", err))
	}
	if g.tls.admin, err = newListenerTLS(cfg.Server.AdminTLS); err != nil {
		errs = append(errs, fmt.Errorf("server.admin_tls: %w", err))
	}
	if p := cfg.Server.UpstreamCAFile; p != "" {
		pool, err := loadCAs(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("server.upstream_ca_file: %w", err))
		}
		g.st.upstreams.SetRoots(pool)
	}
	g.tls.err = errors.Join(errs...)
}

// stagedTLS is what a reload read from the TLS files: installed only if
// the whole reload succeeds (installTLS), else dropped.
type stagedTLS struct {
	traffic, admin *tls.Config    // nil for a plain listener
	upstream       *x509.CertPool // nil: the system roots
}

// FilesError is a reload's failure to load files the config names
// (configs.FilesError, which the admin API maps to 422).
type FilesError = configs.FilesError

// loadTLS re-reads both listeners' certificate, key and client CA files
// (the paths fixed at New) and cfg's upstream CA bundle without installing
// anything; a *FilesError lists every file that did not load.
func (g *Gateway) loadTLS(cfg *configs.Config) (stagedTLS, error) {
	var st stagedTLS
	var errs configs.Errors
	for _, l := range []struct {
		setting string
		holder  *listenerTLS
		dst     **tls.Config
	}{{"server.tls", g.tls.traffic, &st.traffic}, {"server.admin_tls", g.tls.admin, &st.admin}} {
		if l.holder == nil {
			continue
		}
		c, err := serverTLSConfig(l.holder.files)
		if err != nil {
			errs = append(errs, configs.Error{Path: l.setting, Msg: err.Error()})
			continue
		}
		*l.dst = c
	}
	if p := cfg.Server.UpstreamCAFile; p != "" {
		pool, err := loadCAs(p)
		if err != nil {
			errs = append(errs, configs.Error{Path: "server.upstream_ca_file", Msg: err.Error()})
		}
		st.upstream = pool
	}
	if len(errs) > 0 {
		return stagedTLS{}, &FilesError{Errs: errs}
	}
	return st, nil
}

// installTLS swaps staged settings in: new connections get them, open ones
// keep theirs.
func (g *Gateway) installTLS(st stagedTLS) {
	for _, l := range []struct {
		holder *listenerTLS
		c      *tls.Config
	}{{g.tls.traffic, st.traffic}, {g.tls.admin, st.admin}} {
		if l.holder != nil && l.c != nil {
			l.holder.cur.Store(l.c)
		}
	}
	g.st.upstreams.SetRoots(st.upstream)
}

// AdminTLSConfig returns the admin listener's TLS config, nil when
// server.admin_tls is unset. Wrap the admin listener with tls.NewListener.
func (g *Gateway) AdminTLSConfig() (*tls.Config, error) {
	if g.tls.err != nil {
		return nil, g.tls.err
	}
	return g.tls.admin.config(), nil
}

// TrafficTLSConfig returns the traffic listener's TLS config (server.tls:
// each handshake takes the certificate the last successful reload
// loaded), nil when server.tls is unset. The gRPC listener
// (server.grpc_listen) serves with it.
func (g *Gateway) TrafficTLSConfig() (*tls.Config, error) {
	if g.tls.err != nil {
		return nil, g.tls.err
	}
	return g.tls.traffic.config(), nil
}

// wrapTLS wraps the traffic listener in TLS when server.tls is set.
func (g *Gateway) wrapTLS(ln net.Listener) (net.Listener, error) {
	if g.tls.err != nil {
		ln.Close()
		return nil, g.tls.err
	}
	if c := g.tls.traffic.config(); c != nil {
		return bareLFListener{tls.NewListener(ln, c)}, nil
	}
	return bareLFListener{ln}, nil
}

func newListenerTLS(t *configs.TLS) (*listenerTLS, error) {
	if t == nil {
		return nil, nil
	}
	l := &listenerTLS{files: *t}
	return l, l.load()
}

// load reads the files and swaps the new settings in; on error the old
// ones stay.
func (l *listenerTLS) load() error {
	c, err := serverTLSConfig(l.files)
	if err != nil {
		return err
	}
	l.cur.Store(c)
	return nil
}

// config returns the listener's tls.Config: each handshake takes the
// settings the holder has then. Nil for a plain listener.
func (l *listenerTLS) config() *tls.Config {
	if l == nil {
		return nil
	}
	return &tls.Config{
		MinVersion: l.cur.Load().MinVersion,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return l.cur.Load(), nil
		},
	}
}

// serverTLSConfig builds a listener's settings from its files: the key
// pair, the minimum version, and with a client CA file, required and
// verified client certificates (mTLS).
func serverTLSConfig(t configs.TLS) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("loading certificate %s and key %s: %w", t.CertFile, t.KeyFile, err)
	}
	c := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}
	if t.MinVersion == "1.3" {
		c.MinVersion = tls.VersionTLS13
	}
	if t.ClientCAFile != "" {
		pool, err := loadCAs(t.ClientCAFile)
		if err != nil {
			return nil, err
		}
		c.ClientCAs = pool
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// loadCAs reads a PEM bundle of CA certificates.
func loadCAs(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s: no PEM certificate found", path)
	}
	return pool, nil
}

// tlsSettingsChanged reports whether a reloaded file changes TLS settings
// that need a restart (the listeners' file paths and min version); the
// contents of the files, and server.upstream_ca_file, reload live.
func tlsSettingsChanged(old, next configs.Server) bool {
	same := func(a, b *configs.TLS) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }
	return !same(old.TLS, next.TLS) || !same(old.AdminTLS, next.AdminTLS)
}
