package main

import (
	"context"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/testlog"
	"github.com/modelgate/modelgate/oip/inferencepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// TestDemoGRPC runs the demo with its gRPC listener and makes the calls
// its grpcurl lines make, with a gRPC client: ModelInfer with the demo
// key (answered by fraud v1 or v2, named in x-modelgate-version) and
// ServerReady.
func TestDemoGRPC(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out testlog.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0"}, &out, io.Discard)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("demo exited %d", code)
		}
	}()
	addrRe := regexp.MustCompile(`OIP over gRPC on (\S+),`)
	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == ""; {
		if m := addrRe.FindStringSubmatch(out.String()); m != nil {
			addr = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("demo did not print its gRPC address; output:\n%s", out.String())
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	printed := out.String()
	for _, want := range []string{"grpcurl -plaintext -import-path oip -proto inference.proto -H 'authorization: Bearer demo-key'",
		addr + " inference.GRPCInferenceService/ModelInfer", addr + " inference.GRPCInferenceService/ServerReady"} {
		if !strings.Contains(printed, want) {
			t.Errorf("demo help lacks %q", want)
		}
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	c := inferencepb.NewGRPCInferenceServiceClient(cc)
	var hdr metadata.MD
	resp, err := c.ModelInfer(metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+demoKey),
		&inferencepb.ModelInferRequest{ModelName: "fraud", Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{
			{Name: "input", Datatype: "FP64", Shape: []int64{1, 4}, Contents: &inferencepb.InferTensorContents{Fp64Contents: []float64{1, 0.5, -0.3, 2}}}}},
		grpc.Header(&hdr))
	if err != nil {
		t.Fatalf("ModelInfer through the demo: %v", err)
	}
	if v := hdr.Get("x-modelgate-version"); len(v) != 1 || !slices.Contains([]string{"v1", "v2"}, v[0]) || resp.ModelName != "fraud" {
		t.Errorf("got model %q served by %v, want fraud by v1 or v2", resp.ModelName, v)
	}
	ready, err := c.ServerReady(t.Context(), &inferencepb.ServerReadyRequest{})
	if err != nil || !ready.Ready {
		t.Errorf("ServerReady: got %v, %v; want ready", ready, err)
	}
}
