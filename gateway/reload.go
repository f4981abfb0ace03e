package gateway

import (
	"context"
	"errors"
	"reflect"
	"time"

	"github.com/modelgate/modelgate/configs"
)

// Reloader is the one reload loop: file changes, SIGHUP (Trigger) and POST
// /admin/reload (Reload) all feed the goroutine started by Run, so loads
// never race.
//
// A reload is all or nothing: it loads and validates the file, then reads
// every file the config names (listener certificates, keys and client CAs,
// server.upstream_ca_file). If any of it fails, nothing changes — routing,
// certificates and CAs stay as they were — the error is returned and
// logged, and modelgate_config_last_reload_successful is 0. Otherwise the
// certificates and CAs are installed, the routing snapshot is applied (when
// the file changed), and the gauge is 1.
type Reloader struct {
	path    string
	gw      *Gateway
	reqs    chan chan error
	trig    chan struct{} // capacity 1: triggers during a reload coalesce into one more
	stopped chan struct{} // closed when Run returns
	// Apply, if set, applies a changed file instead of the gateway's own
	// Apply: the control plane's ApplyFile, which makes it a revision
	// first. Its error fails the reload (nothing changed).
	Apply func(*configs.Config) error
	// Applied, if set, is called (on the reload goroutine) after each
	// successful apply of a changed file, e.g. to reconfigure tracing or
	// logging.
	Applied func(*configs.Config)
}

// NewReloader returns a reloader of the config file at path into gw.
func NewReloader(path string, gw *Gateway) *Reloader {
	return &Reloader{path: path, gw: gw, reqs: make(chan chan error), trig: make(chan struct{}, 1), stopped: make(chan struct{})}
}

// Run loops until ctx is done, reloading on each signal from changes
// (configs.Watch; nil for none) and on Reload and Trigger. A reload in
// progress when ctx is done finishes first. Once Run has returned, Reload
// returns ErrShuttingDown at once and Trigger does nothing: cancelling ctx
// stops every reload trigger. Call Run once.
func (r *Reloader) Run(ctx context.Context, changes <-chan struct{}) {
	defer close(r.stopped)
	for {
		select {
		case <-ctx.Done():
			return
		case <-changes:
			_ = r.reload("file change")
		case <-r.trig:
			_ = r.reload("trigger")
		case reply := <-r.reqs:
			reply <- r.reload("request")
		}
	}
}

// Reload loads the file now and returns the reload's error: a
// configs.Errors for validation mistakes, a *FilesError for certificate or
// CA files that did not load, ErrShuttingDown once the loop stopped or the
// gateway shuts down. It blocks until the reload loop has handled it or ctx
// is done.
func (r *Reloader) Reload(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case r.reqs <- reply:
	case <-r.stopped:
		return ErrShuttingDown
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Trigger asks for a reload without waiting for it (SIGHUP). Triggers that
// arrive while a reload runs or waits add one reload in all.
func (r *Reloader) Trigger() {
	select {
	case r.trig <- struct{}{}:
	default: // one is pending already; it will read the file as it is then
	}
}

func (r *Reloader) reload(cause string) error {
	g := r.gw
	cfg, err := configs.Load(r.path)
	if err == nil {
		var st stagedTLS
		if st, err = g.loadTLS(cfg); err == nil {
			err = r.commit(cause, cfg, st)
		}
	}
	switch {
	case err == nil:
		g.metrics.Reloaded(true, cfg.Hash, float64(time.Now().Unix()))
		return nil
	case errors.Is(err, ErrShuttingDown):
		g.log.Info("config reload refused: shutting down", "cause", cause)
		return err
	default:
		g.metrics.Reloaded(false, "", 0)
		g.log.Error("config reload failed; previous config, certificates and CAs keep serving", "cause", cause, "path", r.path, "err", err)
		return err
	}
}

// commit installs what a reload loaded in full: the certificates and CAs
// (re-read on every reload: the files may change while the config does
// not), then the routing snapshot when the file changed.
func (r *Reloader) commit(cause string, cfg *configs.Config, st stagedTLS) error {
	g := r.gw
	if g.closing.Load() {
		return ErrShuttingDown
	}
	g.installTLS(st)
	if cfg.Hash == g.Config().Hash {
		g.log.Debug("config unchanged", "cause", cause)
		return nil
	}
	if cfg.Server.Listen != g.static.Listen || cfg.Server.AdminListen != g.static.AdminListen || cfg.Server.GRPCListen != g.static.GRPCListen ||
		cfg.Server.MaxBodyBytes != g.static.MaxBodyBytes || cfg.Server.MaxAnswerBytes != g.static.MaxAnswerBytes ||
		cfg.Server.MaxConnections != g.static.MaxConnections ||
		tlsSettingsChanged(g.static, cfg.Server) {
		g.log.Warn("server listener settings changed; they take effect after a restart", "cause", cause)
	}
	if !reflect.DeepEqual(cfg.State, g.staticState) {
		g.log.Warn("state settings changed; they take effect after a restart (the running Redis connection stays)", "cause", cause)
	}
	apply := g.Apply
	if r.Apply != nil {
		apply = r.Apply
	}
	if err := apply(cfg); err != nil {
		return err
	}
	if r.Applied != nil {
		r.Applied(cfg)
	}
	g.log.Info("config reloaded", "cause", cause, "hash", cfg.Hash[:12], "tenants", len(cfg.Tenants))
	return nil
}
