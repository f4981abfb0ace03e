package gateway

import (
	"context"
	"time"

	"github.com/modelgate/modelgate/configs"
)

// Reloader is the one reload loop: file changes, SIGHUP (Trigger) and POST
// /admin/reload (Reload) all feed the goroutine started by Run, so loads
// never race. A file that fails to load or validate leaves the running
// config in place and sets modelgate_config_last_reload_successful to 0.
type Reloader struct {
	path string
	gw   *Gateway
	reqs chan chan error
	// Applied, if set, is called (on the reload goroutine) after each
	// successful apply, e.g. to reconfigure tracing or logging.
	Applied func(*configs.Config)
}

// NewReloader returns a reloader of the config file at path into gw.
func NewReloader(path string, gw *Gateway) *Reloader {
	return &Reloader{path: path, gw: gw, reqs: make(chan chan error)}
}

// Run loops until ctx is done, reloading on each signal from changes
// (configs.Watch; nil for none) and on Reload and Trigger.
func (r *Reloader) Run(ctx context.Context, changes <-chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-changes:
			_ = r.reload("file change")
		case reply := <-r.reqs:
			reply <- r.reload("request")
		}
	}
}

// Reload loads the file now and returns the load's error (an
// configs.Errors for validation mistakes). It blocks until the reload loop
// has handled it or ctx is done.
func (r *Reloader) Reload(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case r.reqs <- reply:
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

// Trigger asks for a reload without waiting for it (SIGHUP).
func (r *Reloader) Trigger() {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = r.Reload(ctx)
	}()
}

func (r *Reloader) reload(cause string) error {
	if err := r.gw.reloadTLS(); err != nil {
		r.gw.log.Error("TLS certificate reload failed; previous certificates keep serving", "cause", cause, "err", err)
	}
	cfg, err := configs.Load(r.path)
	if err != nil {
		r.gw.metrics.Reloaded(false, "", 0)
		r.gw.log.Error("config reload failed; previous config keeps serving", "cause", cause, "path", r.path, "err", err)
		return err
	}
	// Re-read on every reload, like the certificates: the file may have
	// changed while the config did not.
	if err := setUpstreamCA(cfg.Server.UpstreamCAFile); err != nil {
		r.gw.log.Error("upstream CA reload failed; the previous CAs keep verifying new upstream connections",
			"cause", cause, "path", cfg.Server.UpstreamCAFile, "err", err)
	}
	if cfg.Hash == r.gw.Config().Hash {
		r.gw.metrics.Reloaded(true, cfg.Hash, float64(time.Now().Unix()))
		r.gw.log.Debug("config unchanged", "cause", cause)
		return nil
	}
	if cfg.Server.Listen != r.gw.static.Listen || cfg.Server.AdminListen != r.gw.static.AdminListen ||
		cfg.Server.MaxBodyBytes != r.gw.static.MaxBodyBytes || cfg.Server.MaxAnswerBytes != r.gw.static.MaxAnswerBytes ||
		tlsSettingsChanged(r.gw.static, cfg.Server) {
		r.gw.log.Warn("server listener settings changed; they take effect after a restart", "cause", cause)
	}
	r.gw.Apply(cfg)
	if r.Applied != nil {
		r.Applied(cfg)
	}
	r.gw.metrics.Reloaded(true, cfg.Hash, float64(time.Now().Unix()))
	r.gw.log.Info("config reloaded", "cause", cause, "hash", cfg.Hash[:12], "tenants", len(cfg.Tenants))
	return nil
}
