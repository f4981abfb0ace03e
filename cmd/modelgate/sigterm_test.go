package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/internal/modelserver"
	"github.com/modelgate/modelgate/tenants"
)

// TestSIGTERMUnderLoad sends the process a real SIGTERM while requests wait
// on a slow model: every one of them completes with 200, then serve returns.
func TestSIGTERMUnderLoad(t *testing.T) {
	m, err := modelserver.Start(modelserver.Options{
		Model: modelserver.Model{Name: "fraud", Version: "v1", Weights: []float64{0.8, -0.4, 0.3, 0.1}},
		Delay: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	path := filepath.Join(t.TempDir(), "modelgate.yaml")
	yaml := `server: {listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0", shutdown_timeout: 10s}
tenants:
  - name: acme
    api_keys: [{sha256: "` + tenants.HashKey("k") + `"}]
    models:
      - name: fraud
        versions: [{name: v1, weight: 1, endpoints: ["` + m.URL + `"]}]
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, path, t.TempDir(), cfg, io.Discard, func(a listenAddrs) { addr <- a.traffic })
	}()
	url := "http://" + (<-addr).String() + "/v2/models/fraud/infer"

	const n = 12
	codes := make(chan int, n)
	client := &http.Client{Timeout: 20 * time.Second}
	for range n {
		go func() {
			req, _ := http.NewRequest("POST", url, strings.NewReader(`{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP64","data":[1,2,3,4]}]}`))
			req.Header.Set("X-API-Key", "k")
			resp, err := client.Do(req)
			if err != nil {
				codes <- -1
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); len(m.Server.Requests()) < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d requests reached the model", len(m.Server.Requests()), n)
		}
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range n {
		if c := <-codes; c != 200 {
			t.Errorf("in-flight request during SIGTERM: got %d, want 200", c)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not return after SIGTERM")
	}
	if _, err := client.Post(url, "application/json", strings.NewReader("{}")); err == nil {
		t.Errorf("traffic listener still accepts after SIGTERM")
	}
}
