package grpcproxy

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/await"
	"github.com/modelgate/modelgate/internal/modelserver"
	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/oip/inferencepb"
	"github.com/modelgate/modelgate/router"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// oneModel is the YAML of model fraud with versions v1 and v2 at the given
// weights on containers a and b.
func twoVersions(a, b *modelserver.Running, w1, w2 int, extra string) string {
	return fmt.Sprintf(`      - name: fraud
        timeout: 5s
%s
        versions:
          - {name: v1, weight: %d, endpoints: [%q], grpc_endpoints: [%q]}
          - {name: v2, weight: %d, endpoints: [%q], grpc_endpoints: [%q]}`, extra, w1, a.URL, a.GRPCAddr, w2, b.URL, b.GRPCAddr)
}

func TestMethods(t *testing.T) {
	a := container(t, "fraud", "v1", modelserver.Options{})
	b := container(t, "fraud", "v2", modelserver.Options{RawOutput: true})
	h := start(t, config(t, "", twoVersions(a, b, 1, 0, "")))
	ctx := withKey(t.Context(), acmeKey)

	t.Run("ServerLive without a key", func(t *testing.T) {
		live, err := h.client.ServerLive(t.Context(), &inferencepb.ServerLiveRequest{})
		if err != nil || !live.Live {
			t.Errorf("got %v, %v; want live", live, err)
		}
	})
	t.Run("ServerReady without a key", func(t *testing.T) {
		ready, err := h.client.ServerReady(t.Context(), &inferencepb.ServerReadyRequest{})
		if err != nil || !ready.Ready {
			t.Errorf("got %v, %v; want ready", ready, err)
		}
	})
	t.Run("ServerMetadata", func(t *testing.T) {
		sm, err := h.client.ServerMetadata(ctx, &inferencepb.ServerMetadataRequest{})
		if err != nil || sm.Name != "modelgate" || sm.Version != observability.Version {
			t.Errorf("got %v, %v; want modelgate %s", sm, err, observability.Version)
		}
		if _, err := h.client.ServerMetadata(t.Context(), &inferencepb.ServerMetadataRequest{}); status.Code(err) != codes.Unauthenticated {
			t.Errorf("without a key: got %v, want Unauthenticated", err)
		}
	})
	t.Run("ModelReady", func(t *testing.T) {
		var hdr metadata.MD
		mr, err := h.client.ModelReady(ctx, &inferencepb.ModelReadyRequest{Name: "fraud"}, grpc.Header(&hdr))
		if err != nil || !mr.Ready {
			t.Fatalf("got %v, %v; want ready", mr, err)
		}
		if got := hdr.Get(MetadataVersion); !slices.Equal(got, []string{"v1"}) {
			t.Errorf("got %s %v, want [v1]", MetadataVersion, got)
		}
		a.Server.SetReady(false)
		defer a.Server.SetReady(true)
		if mr, err := h.client.ModelReady(ctx, &inferencepb.ModelReadyRequest{Name: "fraud"}); err != nil || mr.Ready {
			t.Errorf("container not ready: got %v, %v; want not ready", mr, err)
		}
	})
	t.Run("ModelMetadata", func(t *testing.T) {
		mm, err := h.client.ModelMetadata(ctx, &inferencepb.ModelMetadataRequest{Name: "fraud", Version: "v2"})
		if err != nil || mm.Name != "fraud" || !slices.Equal(mm.Versions, []string{"v2"}) || len(mm.Inputs) != 1 {
			t.Errorf("got %v, %v; want v2's metadata", mm, err)
		}
	})
	t.Run("ModelInfer typed", func(t *testing.T) {
		resp, v, err := h.infer(ctx, inferRequest("fraud"))
		if err != nil || v != "v1" {
			t.Fatalf("got version %q, %v; want v1", v, err)
		}
		want, _ := a.Server.Model().Predict([]float64{1, 2, 3, 4})
		if got := resp.Outputs[0].GetContents().GetFp64Contents(); len(got) != 1 || math.Abs(got[0]-want) > 1e-9 {
			t.Errorf("got probability %v, want %v", got, want)
		}
	})
	t.Run("ModelInfer raw in, raw out", func(t *testing.T) {
		req := inferRequest("fraud")
		req.ModelVersion = "v2"
		req.Inputs[0].Contents = nil
		req.RawInputContents = [][]byte{fp64(1, 2, 3, 4)}
		resp, v, err := h.infer(ctx, req)
		if err != nil || v != "v2" {
			t.Fatalf("got version %q, %v; want v2", v, err)
		}
		want, _ := b.Server.Model().Predict([]float64{1, 2, 3, 4})
		if len(resp.RawOutputContents) != 2 || len(resp.RawOutputContents[0]) != 8 ||
			math.Abs(math.Float64frombits(le64(resp.RawOutputContents[0]))-want) > 1e-9 {
			t.Errorf("got raw outputs %v, want probability %v", resp.RawOutputContents, want)
		}
	})
	t.Run("counted as the version's requests", func(t *testing.T) {
		if got := h.requests(t, "acme", "fraud", "v1", "200"); got < 1 {
			t.Errorf("got %v requests of v1 with code 200, want at least 1", got)
		}
	})
}

func fp64(v ...float64) []byte {
	var b []byte
	for _, f := range v {
		bits := math.Float64bits(f)
		for i := range 8 {
			b = append(b, byte(bits>>(8*i)))
		}
	}
	return b
}

func le64(b []byte) uint64 {
	var u uint64
	for i := range 8 {
		u |= uint64(b[i]) << (8 * i)
	}
	return u
}

func TestTenancy(t *testing.T) {
	a := container(t, "fraud", "v1", modelserver.Options{})
	h := start(t, config(t, "", twoVersions(a, a, 1, 0, "")))
	tests := []struct {
		desc  string
		ctx   context.Context
		model string
		want  codes.Code
	}{
		{"no key", t.Context(), "fraud", codes.Unauthenticated},
		{"wrong key", withKey(t.Context(), "nope"), "fraud", codes.Unauthenticated},
		{"bearer key", withKey(t.Context(), acmeKey), "fraud", codes.OK},
		{"x-api-key", metadata.AppendToOutgoingContext(t.Context(), "x-api-key", acmeKey), "fraud", codes.OK},
		{"unknown model", withKey(t.Context(), acmeKey), "nosuch", codes.NotFound},
		{"another tenant's model", withKey(t.Context(), acmeKey), "secret", codes.NotFound},
		{"own model of the other tenant", withKey(t.Context(), globexKey), "fraud", codes.NotFound},
	}
	var notFound []string
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			_, _, err := h.infer(tc.ctx, inferRequest(tc.model))
			if got := status.Code(err); got != tc.want {
				t.Fatalf("got %v (%v), want %v", got, err, tc.want)
			}
			if tc.want == codes.NotFound {
				msg := status.Convert(err).Message()
				notFound = append(notFound, msg)
				if strings.Contains(msg, tc.model) {
					t.Errorf("got message %q, which names the model", msg)
				}
			}
		})
	}
	if len(slices.Compact(notFound)) != 1 {
		t.Errorf("got NOT_FOUND messages %q, want one and the same", notFound)
	}
	if n := len(a.Server.Requests()); n != 2 {
		t.Errorf("the container got %d calls, want 2 (the authorized ones only)", n)
	}
}

func TestSplit(t *testing.T) {
	a := container(t, "fraud", "v1", modelserver.Options{})
	b := container(t, "fraud", "v2", modelserver.Options{})
	h := start(t, config(t, "", twoVersions(a, b, 80, 20, "")))
	ctx := withKey(t.Context(), acmeKey)
	const n = 600
	counts := map[string]int{}
	for range n {
		_, v, err := h.infer(ctx, inferRequest("fraud"))
		if err != nil {
			t.Fatal(err)
		}
		counts[v]++
	}
	// v2's share is 20%: with 600 calls, 5 standard deviations are ±8%.
	if share := float64(counts["v2"]) / n; share < 0.12 || share > 0.28 {
		t.Errorf("got v2 share %.3f (%v), want about 0.20", share, counts)
	}
	if got := len(a.Server.Requests()) + len(b.Server.Requests()); got != n {
		t.Errorf("containers got %d calls, want %d", got, n)
	}
	if got := len(b.Server.Requests()); got != counts["v2"] {
		t.Errorf("v2's container got %d calls, %s said v2 %d times", got, MetadataVersion, counts["v2"])
	}
}

func TestSticky(t *testing.T) {
	a := container(t, "fraud", "v1", modelserver.Options{})
	b := container(t, "fraud", "v2", modelserver.Options{})
	cfg := config(t, "", twoVersions(a, b, 50, 50, "        sticky_header: X-User-ID"))
	h := start(t, cfg)
	split := router.NewSplit("acme", &cfg.Tenants[0].Models[0])
	seen := map[string]bool{}
	for i := range 20 {
		user := fmt.Sprintf("user-%d", i)
		want := split.Name(split.PickSticky([]byte(user))) // the REST gateway's decision
		for range 3 {
			_, v, err := h.infer(withKey(t.Context(), acmeKey, "x-user-id", user), inferRequest("fraud"))
			if err != nil {
				t.Fatal(err)
			}
			if v != want {
				t.Fatalf("%s: got version %s, want %s (the same as REST)", user, v, want)
			}
		}
		seen[want] = true
	}
	if len(seen) != 2 {
		t.Errorf("20 users all went to %v, want both versions used", seen)
	}
}

func TestPinned(t *testing.T) {
	a := container(t, "fraud", "v1", modelserver.Options{})
	b := container(t, "fraud", "1", modelserver.Options{}) // the container knows v2 as "1"
	models := fmt.Sprintf(`      - name: fraud
        versions:
          - {name: v1, weight: 1, endpoints: [%q], grpc_endpoints: [%q]}
          - {name: v2, weight: 0, container_version: "1", endpoints: [%q], grpc_endpoints: [%q]}
          - {name: v3, weight: 0, endpoints: [%q]}`, a.URL, a.GRPCAddr, b.URL, b.GRPCAddr, a.URL)
	h := start(t, config(t, "", models))
	ctx := withKey(t.Context(), acmeKey)
	req := inferRequest("fraud")
	req.ModelVersion = "v2"
	for range 5 {
		resp, v, err := h.infer(ctx, req)
		if err != nil || v != "v2" || resp.ModelVersion != "1" {
			t.Fatalf("got version %q (container %q), %v; want v2 answered by container version 1", v, resp.GetModelVersion(), err)
		}
	}
	recs := b.Server.Requests()
	var sent inferencepb.ModelInferRequest
	if err := proto.Unmarshal(recs[0].Body, &sent); err != nil {
		t.Fatal(err)
	}
	if sent.ModelVersion != "1" || sent.ModelName != "fraud" || len(sent.Inputs) != 1 {
		t.Errorf("container got model %q version %q, want fraud version 1 (its container_version)", sent.ModelName, sent.ModelVersion)
	}
	if n := len(a.Server.Requests()); n != 0 {
		t.Errorf("v1's container got %d pinned calls, want 0", n)
	}
	req.ModelVersion = "v9"
	if _, _, err := h.infer(ctx, req); status.Code(err) != codes.NotFound {
		t.Errorf("unknown pin: got %v, want NotFound", err)
	}
	req.ModelVersion = "v3"
	_, _, err := h.infer(ctx, req)
	if status.Code(err) != codes.Unavailable || !strings.Contains(status.Convert(err).Message(), "grpc_endpoints") {
		t.Errorf("version without grpc_endpoints: got %v, want Unavailable naming grpc_endpoints", err)
	}
}

func TestDeadlines(t *testing.T) {
	// Each case has its own container, so its counts are its own.
	slowProxy := func(t *testing.T) (*modelserver.Running, *harness) {
		slow := container(t, "fraud", "v1", modelserver.Options{Delay: time.Hour})
		models := fmt.Sprintf(`      - name: fraud
        timeout: 200ms
        versions:
          - {name: v1, weight: 1, endpoints: [%q], grpc_endpoints: [%q]}`, slow.URL, slow.GRPCAddr)
		return slow, start(t, config(t, "", models))
	}
	t.Run("model timeout", func(t *testing.T) {
		slow, h := slowProxy(t)
		began := time.Now()
		_, _, err := h.infer(withKey(t.Context(), acmeKey), inferRequest("fraud"))
		if status.Code(err) != codes.DeadlineExceeded || status.Convert(err).Message() != "model timeout exceeded" {
			t.Errorf("got %v, want DeadlineExceeded: model timeout exceeded", err)
		}
		if el := time.Since(began); el > 3*time.Second {
			t.Errorf("answered after %v, want about the 200ms timeout", el)
		}
		await.Until(t, 5*time.Second, "the container to see the call cancelled", func() bool { return slow.Server.Canceled() == 1 })
		if got := h.requests(t, "acme", "fraud", "v1", "504"); got != 1 {
			t.Errorf("got %v requests counted 504, want 1", got)
		}
	})
	t.Run("client deadline shorter", func(t *testing.T) {
		_, h := slowProxy(t)
		ctx, cancel := context.WithTimeout(withKey(t.Context(), acmeKey), 50*time.Millisecond)
		defer cancel()
		_, _, err := h.infer(ctx, inferRequest("fraud"))
		if status.Code(err) != codes.DeadlineExceeded || status.Convert(err).Message() == "model timeout exceeded" {
			t.Errorf("got %v, want the client's own DeadlineExceeded", err)
		}
	})
	t.Run("client cancels", func(t *testing.T) {
		slow, h := slowProxy(t)
		ctx, cancel := context.WithCancel(withKey(t.Context(), acmeKey))
		errc := make(chan error, 1)
		go func() {
			_, _, err := h.infer(ctx, inferRequest("fraud"))
			errc <- err
		}()
		await.Until(t, 5*time.Second, "the call to reach the container", func() bool { return len(slow.Server.Requests()) == 1 })
		cancel()
		if err := <-errc; status.Code(err) != codes.Canceled {
			t.Errorf("got %v, want Canceled", err)
		}
		await.Until(t, 5*time.Second, "the container to see the cancellation", func() bool { return slow.Server.Canceled() == 1 })
	})
}

func TestMessageTooLarge(t *testing.T) {
	a := container(t, "fraud", "v1", modelserver.Options{})
	h := start(t, config(t, "  max_body_bytes: 1024", twoVersions(a, a, 1, 0, "")))
	req := inferRequest("fraud")
	req.Inputs[0].Contents = nil
	req.RawInputContents = [][]byte{make([]byte, 1500)} // over 1024, under twice it
	_, _, err := h.infer(withKey(t.Context(), acmeKey), req)
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "max_body_bytes") {
		t.Errorf("got %v, want InvalidArgument naming max_body_bytes", err)
	}
	if n := len(a.Server.Requests()); n != 0 {
		t.Errorf("the container got %d calls, want 0", n)
	}
	if _, _, err := h.infer(withKey(t.Context(), acmeKey), inferRequest("fraud")); err != nil {
		t.Errorf("a small message after it: %v", err)
	}
	// Without a key the call is refused from its headers, before its
	// message is read: UNAUTHENTICATED, not the size.
	if _, _, err := h.infer(t.Context(), req); status.Code(err) != codes.Unauthenticated {
		t.Errorf("a keyless message over the limit: got %v, want Unauthenticated", err)
	}
	// Over twice the limit grpc-go refuses the message from its length
	// prefix, unread.
	big := inferRequest("fraud")
	big.RawInputContents = [][]byte{make([]byte, 1<<20)}
	if _, _, err := h.infer(withKey(t.Context(), acmeKey), big); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a message of 1 MiB: got %v, want grpc-go's ResourceExhausted", err)
	}
}

func TestMetadataForwarded(t *testing.T) {
	a := container(t, "fraud", "v1", modelserver.Options{})
	h := start(t, config(t, "", twoVersions(a, a, 1, 0, "")))
	ctx := withKey(t.Context(), acmeKey, "x-api-key", acmeKey, "x-modelgate-tenant", "globex", "x-modelgate-version", "v9",
		"x-modelgate-shadow", "1", "x-request-id", "req-42", "x-user-id", "u1")
	var hdr metadata.MD
	if _, err := h.client.ModelInfer(ctx, inferRequest("fraud"), grpc.Header(&hdr)); err != nil {
		t.Fatal(err)
	}
	recs := a.Server.Requests()
	if len(recs) != 1 {
		t.Fatalf("got %d recorded calls, want 1", len(recs))
	}
	got := recs[0].Header
	for _, k := range []string{"Authorization", "X-Api-Key", "X-Modelgate-Shadow"} {
		if v := got.Values(k); len(v) > 0 {
			t.Errorf("container got %s %q, want it dropped", k, v)
		}
	}
	for k, want := range map[string]string{"X-Modelgate-Tenant": "acme", "X-Modelgate-Version": "v1", "X-Request-Id": "req-42", "X-User-Id": "u1"} {
		if v := got.Values(k); !slices.Equal(v, []string{want}) {
			t.Errorf("container got %s %q, want [%s]", k, v, want)
		}
	}
	if v := hdr.Get("x-request-id"); !slices.Equal(v, []string{"req-42"}) {
		t.Errorf("client got x-request-id %v, want [req-42]", v)
	}
	if v := hdr.Get("x-model-version"); !slices.Equal(v, []string{"v1"}) {
		t.Errorf("client got the container's x-model-version %v, want it relayed", v)
	}
}

func TestUpstreamErrors(t *testing.T) {
	failing := container(t, "fraud", "v1", modelserver.Options{FailStatus: 400})
	models := fmt.Sprintf(`      - name: fraud
        versions:
          - {name: v1, weight: 1, endpoints: [%q], grpc_endpoints: [%q]}
          - {name: dead, weight: 0, endpoints: [%q], grpc_endpoints: [%q]}`, failing.URL, failing.GRPCAddr, failing.URL, deadAddr(t))
	h := start(t, config(t, "", models))
	ctx := withKey(t.Context(), acmeKey)
	_, _, err := h.infer(ctx, inferRequest("fraud"))
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "injected failure") {
		t.Errorf("container's error: got %v, want its InvalidArgument relayed", err)
	}
	req := inferRequest("fraud")
	req.ModelVersion = "dead"
	_, _, err = h.infer(ctx, req)
	if status.Code(err) != codes.Unavailable || status.Convert(err).Message() != "model container unavailable" {
		t.Errorf("nothing listening: got %v, want Unavailable with a fixed message", err)
	}
	if got := h.requests(t, "acme", "fraud", "dead", "503"); got != 1 {
		t.Errorf("got %v requests of dead counted 503, want 1", got)
	}
	if got := h.requests(t, "acme", "fraud", "v1", "400"); got != 1 {
		t.Errorf("got %v requests of v1 counted 400, want 1", got)
	}
}

func TestMalformedMessage(t *testing.T) {
	a := container(t, "fraud", "v1", modelserver.Options{})
	h := start(t, config(t, "", twoVersions(a, a, 1, 0, "")))
	cc, err := grpc.NewClient(h.addr, grpc.WithTransportCredentials(insecureCreds()), grpc.WithDefaultCallOptions(grpc.ForceCodecV2(rawCodec{})))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	for _, tc := range []struct {
		desc string
		b    []byte
	}{{"truncated field", []byte{0x0a, 0x05, 'f'}}, {"no model", mustMarshal(&inferencepb.ModelInferRequest{Id: "x"})}} {
		t.Run(tc.desc, func(t *testing.T) {
			var out frame
			err := cc.Invoke(withKey(t.Context(), acmeKey), "/inference.GRPCInferenceService/ModelInfer", &frame{tc.b}, &out)
			if status.Code(err) != codes.InvalidArgument {
				t.Errorf("got %v, want InvalidArgument", err)
			}
		})
	}
	if n := len(a.Server.Requests()); n != 0 {
		t.Errorf("the container got %d calls, want 0", n)
	}
}
