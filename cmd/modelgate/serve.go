package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/gateway"
	"github.com/modelgate/modelgate/observability"
)

// serve runs the gateway for cfg (loaded from path) until ctx is done, then
// shuts down gracefully: stop accepting, finish in-flight requests within
// server.shutdown_timeout. started, if set, is called once both listeners
// accept connections.
func serve(ctx context.Context, path string, cfg *configs.Config, logOut io.Writer, started func(traffic, admin net.Addr)) error {
	log := observability.NewLogger(logOut, cfg.Logging.Level)
	metrics := observability.NewMetrics()
	metrics.Reloaded(true, cfg.Hash, float64(time.Now().Unix()))
	gw := gateway.New(cfg, metrics, log.Logger)
	tracing := observability.NewTracing(log.Logger)
	if err := tracing.ApplyConfig(cfg.Tracing); err != nil {
		log.Error("tracing disabled", "err", err)
	}
	gw.UseTracing(tracing)
	reloader := gateway.NewReloader(path, gw)
	reloader.Applied = func(c *configs.Config) {
		log.SetLevel(c.Logging.Level)
		if err := tracing.ApplyConfig(c.Tracing); err != nil {
			log.Error("tracing config not applied; previous tracing setup kept", "err", err)
		}
	}

	ln, err := gw.Listen()
	if err != nil {
		return err
	}
	adminLn, err := net.Listen("tcp", cfg.Server.AdminListen)
	if err != nil {
		ln.Close()
		return fmt.Errorf("listening for admin on %s: %w", cfg.Server.AdminListen, err)
	}
	if tc, err := gw.AdminTLSConfig(); err != nil || tc != nil {
		if err != nil {
			ln.Close()
			adminLn.Close()
			return err
		}
		adminLn = tls.NewListener(adminLn, tc)
	}
	admin := &http.Server{
		Handler:           gw.AdminHandler(reloader),
		ReadHeaderTimeout: 10 * time.Second,
		// Handshake and protocol errors of admin clients go to the JSON log.
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	loopCtx, stopLoop := context.WithCancel(context.Background())
	defer stopLoop()
	changes, err := configs.Watch(loopCtx, path)
	if err != nil {
		ln.Close()
		adminLn.Close()
		return err
	}
	go reloader.Run(loopCtx, changes)
	errc := make(chan error, 2)
	go func() {
		if err := admin.Serve(adminLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("admin listener: %w", err)
		}
	}()
	go func() {
		if err := gw.Serve(ln); err != nil {
			errc <- fmt.Errorf("traffic listener: %w", err)
		}
	}()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	log.Info("modelgate started", "listen", ln.Addr().String(), "admin_listen", adminLn.Addr().String(),
		"config", path, "tenants", len(cfg.Tenants), "version", observability.Version, "gomaxprocs", runtime.GOMAXPROCS(0))
	if started != nil {
		started(ln.Addr(), adminLn.Addr())
	}

	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-hup:
			log.Info("SIGHUP: reloading config")
			reloader.Trigger()
		case runErr = <-errc:
			break loop
		}
	}

	log.Info("shutting down: draining in-flight requests", "timeout", cfg.Server.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
	defer cancel()
	if err := gw.Shutdown(sctx); err != nil {
		log.Warn("traffic shutdown incomplete", "err", err)
	}
	_ = admin.Shutdown(sctx)
	if err := tracing.Shutdown(sctx); err != nil {
		log.Warn("tracing shutdown incomplete", "err", err)
	}
	log.Info("modelgate stopped")
	return runErr
}
