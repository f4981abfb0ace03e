package modelserver

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc"
)

// Running is a model server started by [Start].
type Running struct {
	// URL is the base URL, "http://127.0.0.1:<port>", without a trailing slash.
	URL string
	// GRPCAddr is the host:port of the OIP gRPC server (plaintext HTTP/2)
	// when Options.GRPC was set, else "".
	GRPCAddr string
	// Server is the handler, for fault injection and request inspection.
	Server *Server
	// Close stops the server immediately (open connections, including ones
	// waiting on an injected delay, are closed) and waits for the serving
	// goroutine to exit. It is safe to call more than once; later calls
	// return the first call's result.
	Close func() error
}

// Start validates opts.Model, listens on 127.0.0.1:0 (an ephemeral loopback
// port) and serves NewHandler(opts) in a goroutine until Close is called;
// with opts.GRPC, the same Server also over gRPC on a second ephemeral
// port (Running.GRPCAddr).
func Start(opts Options) (*Running, error) {
	if err := opts.Model.Validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("modelserver: listen: %w", err)
	}
	h := NewHandler(opts)
	var (
		gsrv     *grpc.Server
		gdone    chan error
		grpcAddr string
	)
	if opts.GRPC {
		gln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("modelserver: listen for gRPC: %w", err)
		}
		gsrv = grpc.NewServer(grpc.MaxRecvMsgSize(MaxBodyBytes))
		h.RegisterGRPC(gsrv)
		gdone = make(chan error, 1)
		go func() { gdone <- gsrv.Serve(gln) }()
		grpcAddr = gln.Addr().String()
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()

	var (
		once     sync.Once
		closeErr error
	)
	closeFn := func() error {
		once.Do(func() {
			if gsrv != nil {
				gsrv.Stop() // closes every connection, cancels calls in progress
				if err := <-gdone; err != nil {
					closeErr = err
				}
			}
			closeErr = errors.Join(closeErr, srv.Close())
			if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) && closeErr == nil {
				closeErr = err
			}
		})
		return closeErr
	}
	return &Running{URL: "http://" + ln.Addr().String(), GRPCAddr: grpcAddr, Server: h, Close: closeFn}, nil
}
