package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/internal/modelserver"
	"github.com/modelgate/modelgate/internal/testlog"
	"github.com/modelgate/modelgate/oip/inferencepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// TestGRPCTLS runs serve with server.tls and server.grpc_listen: the gRPC
// listener serves TLS with the traffic listener's certificate (a client
// trusting the CA infers through it; a plaintext client is refused).
func TestGRPCTLS(t *testing.T) {
	dir := t.TempDir()
	path := func(n string) string { return filepath.Join(dir, n) }
	ca := newTestCA(t, "grpc-ca")
	crt, key := ca.issue(t, 2, false)
	writeFile(t, path("traffic.crt"), crt)
	writeFile(t, path("traffic.key"), key)
	ms, err := modelserver.Start(modelserver.Options{GRPC: true, Model: modelserver.Model{Name: "fraud", Version: "v1", Weights: []float64{1, 1, 1, 1}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ms.Close()
	cfgText := fmt.Sprintf(`server:
  listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
  grpc_listen: 127.0.0.1:0
  tls: {cert_file: %q, key_file: %q}
tenants:
  - name: acme
    api_keys: [{sha256: %q}]
    models:
      - name: fraud
        versions: [{name: v1, weight: 1, endpoints: [%q], grpc_endpoints: [%q]}]
`, path("traffic.crt"), path("traffic.key"), sha256Hex("k1"), ms.URL, ms.GRPCAddr)
	writeFile(t, path("modelgate.yaml"), []byte(cfgText))
	cfg, err := configs.Load(path("modelgate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var logs testlog.Buffer
	addrs := make(chan listenAddrs, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, path("modelgate.yaml"), t.TempDir(), cfg, &logs, func(a listenAddrs) { addrs <- a })
	}()
	var a listenAddrs
	select {
	case a = <-addrs:
	case err := <-done:
		t.Fatalf("serve: %v\n%s", err, logs.String())
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not start")
	}
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	if a.grpc == nil {
		t.Fatal("serve reported no gRPC address")
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.pem)
	call := func(creds credentials.TransportCredentials) error {
		cc, err := grpc.NewClient(a.grpc.String(), grpc.WithTransportCredentials(creds))
		if err != nil {
			return err
		}
		defer cc.Close()
		cctx, ccancel := context.WithTimeout(metadata.AppendToOutgoingContext(t.Context(), "x-api-key", "k1"), 5*time.Second)
		defer ccancel()
		_, err = inferencepb.NewGRPCInferenceServiceClient(cc).ModelInfer(cctx, &inferencepb.ModelInferRequest{ModelName: "fraud",
			Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP64", Shape: []int64{4},
				Contents: &inferencepb.InferTensorContents{Fp64Contents: []float64{1, 2, 3, 4}}}}})
		return err
	}
	if err := call(credentials.NewTLS(&tls.Config{RootCAs: pool})); err != nil {
		t.Errorf("ModelInfer over TLS: %v", err)
	}
	if err := call(insecure.NewCredentials()); err == nil {
		t.Error("ModelInfer in plaintext to the TLS listener succeeded")
	}
}
