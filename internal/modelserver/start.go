package modelserver

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// Running is a model server started by [Start].
type Running struct {
	// URL is the base URL, "http://127.0.0.1:<port>", without a trailing slash.
	URL string
	// Server is the handler, for fault injection and request inspection.
	Server *Server
	// Close stops the server immediately (open connections, including ones
	// waiting on an injected delay, are closed) and waits for the serving
	// goroutine to exit. It is safe to call more than once; later calls
	// return the first call's result.
	Close func() error
}

// Start validates opts.Model, listens on 127.0.0.1:0 (an ephemeral loopback
// port) and serves NewHandler(opts) in a goroutine until Close is called.
func Start(opts Options) (*Running, error) {
	if err := opts.Model.Validate(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("modelserver: listen: %w", err)
	}
	h := NewHandler(opts)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()

	var (
		once     sync.Once
		closeErr error
	)
	closeFn := func() error {
		once.Do(func() {
			closeErr = srv.Close()
			if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) && closeErr == nil {
				closeErr = err
			}
		})
		return closeErr
	}
	return &Running{URL: "http://" + ln.Addr().String(), Server: h, Close: closeFn}, nil
}
