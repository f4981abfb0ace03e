package grpcproxy

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/internal/await"
	"github.com/modelgate/modelgate/internal/modelserver"
	"github.com/modelgate/modelgate/oip/inferencepb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"
)

// TestReloadKeepsConnections checks that a reload keeping an address keeps
// its ClientConn (and the connection), and one dropping it closes it once
// its calls ended.
func TestReloadKeepsConnections(t *testing.T) {
	a := container(t, "fraud", "v1", modelserver.Options{})
	b := container(t, "fraud", "v2", modelserver.Options{})
	h := start(t, config(t, "", twoVersions(a, b, 1, 1, "")))
	ctx := withKey(t.Context(), acmeKey)
	pin := func(v string) *inferencepb.ModelInferRequest {
		r := inferRequest("fraud")
		r.ModelVersion = v
		return r
	}
	for _, v := range []string{"v1", "v2"} {
		if _, _, err := h.infer(ctx, pin(v)); err != nil {
			t.Fatal(err)
		}
	}
	connA, connB := h.proxy.eps.byAddr[a.GRPCAddr], h.proxy.eps.byAddr[b.GRPCAddr]

	// The same endpoints under other weights, then without b.
	if err := h.proxy.Apply(config(t, "", twoVersions(a, b, 3, 1, ""))); err != nil {
		t.Fatal(err)
	}
	if h.proxy.eps.byAddr[a.GRPCAddr] != connA || h.proxy.eps.byAddr[b.GRPCAddr] != connB {
		t.Fatal("a reload with the same addresses replaced their connections")
	}
	if _, _, err := h.infer(ctx, pin("v1")); err != nil {
		t.Fatal(err)
	}
	models := fmt.Sprintf(`      - name: fraud
        versions:
          - {name: v1, weight: 1, endpoints: [%q], grpc_endpoints: [%q]}`, a.URL, a.GRPCAddr)
	if err := h.proxy.Apply(config(t, "", models)); err != nil {
		t.Fatal(err)
	}
	if h.proxy.eps.byAddr[b.GRPCAddr] != nil {
		t.Error("b's endpoint is still registered after its version left the config")
	}
	await.Until(t, 5*time.Second, "b's connection to close", func() bool { return connB.cc.GetState() == connectivity.Shutdown })
	if connA.cc.GetState() == connectivity.Shutdown {
		t.Error("a's connection closed, want it kept")
	}
	if _, _, err := h.infer(ctx, pin("v2")); status.Code(err) != codes.NotFound {
		t.Errorf("v2 after its removal: got %v, want NotFound", err)
	}
}

// TestShutdownDrains checks that Shutdown lets a call in progress finish,
// then refuses Apply.
func TestShutdownDrains(t *testing.T) {
	slow := container(t, "fraud", "v1", modelserver.Options{Delay: 300 * time.Millisecond})
	cfg := config(t, "", twoVersions(slow, slow, 1, 0, ""))
	h := start(t, cfg)
	errc := make(chan error, 1)
	go func() {
		_, _, err := h.infer(withKey(context.Background(), acmeKey), inferRequest("fraud"))
		errc <- err
	}()
	await.Until(t, 5*time.Second, "the call to reach the container", func() bool { return len(slow.Server.Requests()) == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.proxy.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-errc; err != nil {
		t.Errorf("the call in progress: %v, want it answered", err)
	}
	if err := h.proxy.Apply(cfg); err != configs.ErrShuttingDown {
		t.Errorf("Apply after Shutdown: got %v, want ErrShuttingDown", err)
	}
}
