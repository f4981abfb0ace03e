package grpcproxy

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/gateway"
	"github.com/modelgate/modelgate/internal/await"
	"github.com/modelgate/modelgate/internal/modelserver"
	"github.com/modelgate/modelgate/observability"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// startShared runs the REST gateway and the gRPC proxy for cfg, the
// proxy's admission control being the gateway's (as serve wires them), and
// returns the proxy's harness and the REST listener's base URL.
func startShared(t *testing.T, cfg *configs.Config) (*harness, string) {
	t.Helper()
	m := observability.NewMetrics()
	gw := gateway.New(cfg, m, discard())
	ln, err := gw.Listen()
	if err != nil {
		gw.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- gw.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := gw.Shutdown(ctx); err != nil {
			t.Errorf("gateway Shutdown: %v", err)
		}
		<-done
	})
	return startWith(t, cfg, m, Options{Admission: gw}), "http://" + ln.Addr().String()
}

// restInfer posts a one-row infer request of model fraud to the REST
// gateway at base with acme's key and returns the status.
func restInfer(ctx context.Context, base string) (int, error) {
	body := `{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP64","data":[1,2,3,4]}]}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v2/models/fraud/infer", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-API-Key", acmeKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// limitedModel is model fraud with the given limits YAML, served over REST
// by rest and over gRPC by grpcC.
func limitedModel(rest, grpcC *modelserver.Running, limits string) string {
	return fmt.Sprintf(`      - name: fraud
        timeout: 30s
        limits: %s
        versions:
          - {name: v1, weight: 1, endpoints: [%q], grpc_endpoints: [%q]}`, limits, rest.URL, grpcC.GRPCAddr)
}

// inferTrailer calls ModelInfer and returns the error and the trailer.
func (h *harness) inferTrailer(ctx context.Context) (metadata.MD, error) {
	var tr metadata.MD
	_, err := h.client.ModelInfer(ctx, inferRequest("fraud"), grpc.Trailer(&tr))
	return tr, err
}

// TestSharedConcurrency checks that REST and gRPC calls share the model's
// max_in_flight: one of each in flight fills a limit of 2, and a third of
// either protocol is refused without reaching a container.
func TestSharedConcurrency(t *testing.T) {
	rest := container(t, "fraud", "v1", modelserver.Options{Delay: time.Hour})
	grpcC := container(t, "fraud", "v1", modelserver.Options{Delay: time.Hour})
	h, base := startShared(t, config(t, "", limitedModel(rest, grpcC, "{max_in_flight: 2}")))

	restDone := make(chan int, 1)
	go func() {
		code, _ := restInfer(context.Background(), base)
		restDone <- code
	}()
	gctx, cancel := context.WithCancel(withKey(t.Context(), acmeKey))
	grpcDone := make(chan error, 1)
	go func() {
		_, _, err := h.infer(gctx, inferRequest("fraud"))
		grpcDone <- err
	}()
	await.Until(t, 10*time.Second, "one REST and one gRPC call to reach their containers", func() bool {
		return len(rest.Server.Requests()) == 1 && len(grpcC.Server.Requests()) == 1
	})

	tr, err := h.inferTrailer(withKey(t.Context(), acmeKey))
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(status.Convert(err).Message(), "in flight") {
		t.Errorf("a third call over gRPC: got %v, want ResourceExhausted (in flight)", err)
	}
	if got := tr.Get(MetadataRetryAfter); len(got) != 1 || got[0] != "1" {
		t.Errorf("got retry-after %v, want [1]", got)
	}
	if code, err := restInfer(t.Context(), base); code != http.StatusTooManyRequests {
		t.Errorf("a third call over REST: got %d (%v), want 429", code, err)
	}
	if r, g := len(rest.Server.Requests()), len(grpcC.Server.Requests()); r != 1 || g != 1 {
		t.Errorf("containers got %d REST and %d gRPC calls, want 1 and 1 (the limit of 2)", r, g)
	}
	if got := h.counter(t, "modelgate_rejected_requests_total", "model=fraud,reason=concurrency,tenant=acme"); got != 2 {
		t.Errorf("got %v rejections for concurrency, want 2 (one per protocol)", got)
	}

	// The slots free when the calls end: a cancelled gRPC call, a REST
	// call whose container went away.
	cancel()
	if err := <-grpcDone; status.Code(err) != codes.Canceled {
		t.Errorf("the cancelled gRPC call: got %v, want Canceled", err)
	}
	rest.Close()
	if code := <-restDone; code != http.StatusBadGateway {
		t.Errorf("the REST call whose container closed: got %d, want 502", code)
	}
	grpcC.Server.SetDelay(0)
	for range 2 { // both slots are free again
		if _, _, err := h.infer(withKey(t.Context(), acmeKey), inferRequest("fraud")); err != nil {
			t.Errorf("after the calls ended: %v, want admitted", err)
		}
	}
}

// TestSharedRateLimit checks that REST and gRPC calls take tokens from one
// bucket, and a gRPC call refused by it gets RESOURCE_EXHAUSTED with the
// wait in retry-after.
func TestSharedRateLimit(t *testing.T) {
	c := container(t, "fraud", "v1", modelserver.Options{})
	// A token every 100 s: the bucket does not refill during the test.
	h, base := startShared(t, config(t, "", limitedModel(c, c, "{requests_per_second: 0.01, burst: 2}")))
	ctx := withKey(t.Context(), acmeKey)
	if code, err := restInfer(t.Context(), base); code != http.StatusOK {
		t.Fatalf("first token over REST: got %d (%v), want 200", code, err)
	}
	if _, _, err := h.infer(ctx, inferRequest("fraud")); err != nil {
		t.Fatalf("second token over gRPC: %v", err)
	}
	tr, err := h.inferTrailer(ctx)
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(status.Convert(err).Message(), "rate limit") {
		t.Errorf("over the burst over gRPC: got %v, want ResourceExhausted (rate limit)", err)
	}
	if got := tr.Get(MetadataRetryAfter); len(got) != 1 {
		t.Errorf("got retry-after %v, want one value", got)
	} else if s, err := strconv.Atoi(got[0]); err != nil || s < 50 || s > 100 {
		t.Errorf("got retry-after %q, want the seconds until the next token (about 100)", got[0])
	}
	if code, _ := restInfer(t.Context(), base); code != http.StatusTooManyRequests {
		t.Errorf("over the burst over REST: got %d, want 429", code)
	}
	if got := h.counter(t, "modelgate_rejected_requests_total", "model=fraud,reason=rate_limited,tenant=acme"); got != 2 {
		t.Errorf("got %v rate_limited rejections, want 2 (one per protocol)", got)
	}
	if n := len(c.Server.Requests()); n != 2 {
		t.Errorf("the container got %d calls, want 2 (the burst)", n)
	}
}
