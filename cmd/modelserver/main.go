// Command modelserver serves a small logistic regression model over the Open
// Inference Protocol (KServe V2) and the KServe V1 / TF Serving predict API,
// for the gateway's demos and manual testing.
//
// Usage:
//
//	modelserver [-listen 127.0.0.1:8001] [-model fraud] [-version v1]
//	            [-weights 0.8,-0.4,0.3,0.1] [-bias 0] [-delay 0s]
//
// It shuts down gracefully (up to 5 s) on SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/modelgate/modelgate/internal/modelserver"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		slog.Error("modelserver failed", "err", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("modelserver", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8001", "address to listen on")
	name := fs.String("model", "fraud", "model name served in request paths")
	version := fs.String("version", "v1", "model version")
	weights := fs.String("weights", "0.8,-0.4,0.3,0.1", "comma-separated weights, one per input feature")
	bias := fs.Float64("bias", 0, "model bias (intercept)")
	delay := fs.Duration("delay", 0, "delay added before answering infer/predict requests")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}

	ws, err := modelserver.ParseWeights(*weights)
	if err != nil {
		return err
	}
	model := modelserver.Model{Name: *name, Version: *version, Weights: ws, Bias: *bias}
	if err := model.Validate(); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           modelserver.NewHandler(modelserver.Options{Model: model, Delay: *delay}),
		ReadHeaderTimeout: 10 * time.Second,
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	slog.Info("modelserver listening", "addr", ln.Addr().String(), "model", model.Name,
		"version", model.Version, "features", len(model.Weights), "delay", *delay)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stop() // a second signal kills the process

	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
