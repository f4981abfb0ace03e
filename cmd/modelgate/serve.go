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

	"github.com/modelgate/modelgate/admin"
	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/gateway"
	"github.com/modelgate/modelgate/gateway/grpcproxy"
	"github.com/modelgate/modelgate/observability"
)

// listenAddrs are the addresses serve listens on; grpc is nil when
// server.grpc_listen is unset.
type listenAddrs struct{ traffic, admin, grpc net.Addr }

// appliers applies each routing the control plane commits to the REST
// gateway, then to the gRPC proxy when there is one (both build their
// snapshots from the same config; a REST failure applies nothing).
type appliers struct {
	gw   *gateway.Gateway
	grpc *grpcproxy.Proxy
}

func (a appliers) Apply(cfg *configs.Config) error {
	if err := a.gw.Apply(cfg); err != nil {
		return err
	}
	if a.grpc != nil {
		return a.grpc.Apply(cfg)
	}
	return nil
}

// serve runs the gateway for cfg (loaded from path) until ctx is done, then
// shuts down gracefully (see shutdown). started, if set, is called once
// every listener accepts connections. If a listener cannot open (address
// taken, certificate not loading), everything New started is released
// before the error returns.
func serve(ctx context.Context, path, dataDir string, cfg *configs.Config, logOut io.Writer, started func(listenAddrs)) error {
	log := observability.NewLogger(logOut, cfg.Logging.Level)
	metrics := observability.NewMetrics()
	metrics.Reloaded(true, cfg.Hash, float64(time.Now().Unix()))
	gw := gateway.New(cfg, metrics, log.Logger)
	tracing := observability.NewTracing(log.Logger)
	if err := tracing.ApplyConfig(cfg.Tracing); err != nil {
		log.Error("tracing disabled", "err", err)
	}
	gw.UseTracing(tracing)
	var gp *grpcproxy.Proxy // nil unless server.grpc_listen is set
	// fail releases what is open so far: health checkers, shadow workers,
	// the gRPC proxy's connections, the tracer and the given listeners.
	fail := func(err error, open ...io.Closer) error {
		for _, c := range open {
			c.Close()
		}
		sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
		defer cancel()
		if gp != nil {
			gp.Close()
		}
		return errors.Join(err, gw.Close(), tracing.Shutdown(sctx))
	}
	if cfg.Server.GRPCListen != "" {
		tc, err := gw.TrafficTLSConfig()
		if err != nil {
			return fail(err)
		}
		if gp, err = grpcproxy.New(cfg, metrics, log.Logger, grpcproxy.Options{TLS: tc, Admission: gw}); err != nil {
			return fail(err)
		}
	}

	// The control plane decides the routing before traffic is served: the
	// file's, or the latest revision's when the file is unchanged since.
	cp, err := openControlPlane(dataDir, cfg, appliers{gw, gp}, metrics, log.Logger, metrics.Registry)
	if err != nil {
		return fail(err)
	}
	defer cp.Close() // last: after the admin listener stopped (shutdown)
	if err := cp.start(cfg); err != nil {
		return fail(err)
	}
	ln, err := gw.Listen()
	if err != nil {
		return fail(err)
	}
	adminLn, err := net.Listen("tcp", cfg.Server.AdminListen)
	if err != nil {
		return fail(fmt.Errorf("listening for admin on %s: %w", cfg.Server.AdminListen, err), ln)
	}
	tc, err := gw.AdminTLSConfig()
	if err != nil {
		return fail(err, ln, adminLn)
	}
	if tc != nil {
		adminLn = tls.NewListener(adminLn, tc)
	}
	var grpcLn net.Listener
	if gp != nil {
		if grpcLn, err = gp.Listen(); err != nil {
			return fail(err, ln, adminLn)
		}
	}
	reloader := gateway.NewReloader(path, gw)
	reloader.Apply = cp.plane.ApplyFile // a changed file becomes a revision
	reloader.Applied = func(c *configs.Config) {
		log.SetLevel(c.Logging.Level)
		if err := tracing.ApplyConfig(c.Tracing); err != nil {
			log.Error("tracing config not applied; previous tracing setup kept", "err", err)
		}
	}
	adminSrv := &http.Server{
		Handler:           admin.Handler(gw, reloader, metrics.Registry, admin.WithControl(cp.plane), admin.WithAudit(cp.audit), admin.WithRollouts(cp.rollouts), admin.WithStats(gw)),
		ReadHeaderTimeout: 10 * time.Second,
		// Handshake and protocol errors of admin clients go to the JSON log.
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}

	loopCtx, stopLoop := context.WithCancel(context.Background())
	defer stopLoop()
	changes, err := configs.WatchErrors(loopCtx, path, func(err error) {
		log.Warn("config file watch error; reloading in case a change was missed", "err", err)
	})
	if err != nil {
		if grpcLn != nil {
			grpcLn.Close()
		}
		return fail(err, ln, adminLn)
	}
	loopDone, rolloutsDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(loopDone)
		reloader.Run(loopCtx, changes)
	}()
	go func() {
		defer close(rolloutsDone)
		cp.rollouts.Run(loopCtx)
	}()
	errc := make(chan error, 3)
	go func() {
		if err := adminSrv.Serve(adminLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("admin listener: %w", err)
		}
	}()
	go func() {
		if err := gw.Serve(ln); err != nil {
			errc <- fmt.Errorf("traffic listener: %w", err)
		}
	}()
	addrs := listenAddrs{traffic: ln.Addr(), admin: adminLn.Addr()}
	if gp != nil {
		addrs.grpc = grpcLn.Addr()
		go func() {
			if err := gp.Serve(grpcLn); err != nil {
				errc <- fmt.Errorf("grpc listener: %w", err)
			}
		}()
	}

	// Caught until serve returns: a SIGHUP during shutdown is ignored
	// rather than killing the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	grpcAddr := ""
	if addrs.grpc != nil {
		grpcAddr = addrs.grpc.String()
	}
	log.Info("modelgate started", "listen", ln.Addr().String(), "admin_listen", adminLn.Addr().String(), "grpc_listen", grpcAddr,
		"config", path, "tenants", len(cfg.Tenants), "version", observability.Version, "gomaxprocs", runtime.GOMAXPROCS(0))
	if started != nil {
		started(addrs)
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
	shutdown(log, cfg.Server.ShutdownTimeout, func() { stopLoop(); <-loopDone; <-rolloutsDone }, gw, gp, tracing, adminSrv)
	return runErr
}

// shutdown stops serve in one order:
//
//  1. triggers: the file watch, the reload loop and the rollout
//     controller stop (a reload or rollout step in progress finishes
//     first); from then on POST /admin/reload answers 503
//     and SIGHUP is ignored, so nothing re-creates endpoints, checkers or
//     a tracer below;
//  2. drain: the traffic listener and the gRPC listener (at once) stop
//     accepting and in-flight requests and calls finish, within
//     server.shutdown_timeout (gw.Shutdown and gp.Shutdown's GracefulStop,
//     which also refuse any later Apply; gRPC calls still running at the
//     deadline are cut off);
//  3. release: shadow workers, then endpoints and health checkers
//     (gw.Shutdown), the gRPC upstream connections (gp.Shutdown), then the
//     tracer, flushing the spans of the drained requests;
//  4. the admin listener last, so /metrics, /healthz and /readyz (503
//     "shutting down") stay visible to monitoring during the drain.
func shutdown(log *observability.Logger, timeout time.Duration, stopTriggers func(), gw *gateway.Gateway, gp *grpcproxy.Proxy, tracing *observability.Tracing, adminSrv *http.Server) {
	stopTriggers()
	log.Info("shutting down: draining in-flight requests", "timeout", timeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	grpcDone := make(chan struct{})
	go func() {
		defer close(grpcDone)
		if gp == nil {
			return
		}
		if err := gp.Shutdown(sctx); err != nil {
			log.Warn("grpc shutdown incomplete", "err", err)
		}
	}()
	if err := gw.Shutdown(sctx); err != nil {
		log.Warn("traffic shutdown incomplete", "err", err)
	}
	<-grpcDone
	if err := tracing.Shutdown(sctx); err != nil {
		log.Warn("tracing shutdown incomplete", "err", err)
	}
	if err := adminSrv.Shutdown(sctx); err != nil {
		adminSrv.Close() // the drain used up the timeout: cut admin clients off
	}
	log.Info("modelgate stopped")
}
