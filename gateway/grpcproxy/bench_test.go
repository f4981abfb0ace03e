package grpcproxy

import (
	"context"
	"testing"

	"github.com/modelgate/modelgate/internal/modelserver"
	"github.com/modelgate/modelgate/oip/inferencepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// BenchmarkGRPCInfer measures one ModelInfer call through the gateway's
// gRPC listener (tenancy, admission off, split, breaker, one upstream
// call) against the same call made directly to the container, in the same
// run: the difference is the proxy's cost. Run with -benchmem.
func BenchmarkGRPCInfer(b *testing.B) {
	c := container(b, "fraud", "v1", modelserver.Options{})
	h := start(b, config(b, "", twoVersions(c, c, 1, 0, "")))
	cc, err := grpc.NewClient(c.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close() })
	direct := inferencepb.NewGRPCInferenceServiceClient(cc)
	req := inferRequest("fraud")
	for _, bc := range []struct {
		name   string
		client inferencepb.GRPCInferenceServiceClient
		ctx    context.Context
	}{
		{"direct", direct, context.Background()},
		{"gateway", h.client, withKey(context.Background(), acmeKey)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := bc.client.ModelInfer(bc.ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
