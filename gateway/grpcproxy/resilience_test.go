package grpcproxy

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/internal/modelserver"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// oneVersion is model fraud with version v1 on the given gRPC addresses
// and the extra model YAML (retry, breaker, ...).
func oneVersion(extra string, addrs ...string) string {
	return fmt.Sprintf(`      - name: fraud
        timeout: 5s
%s
        versions:
          - {name: v1, weight: 1, endpoints: ["http://127.0.0.1:1"], grpc_endpoints: [%s]}`, extra, quoted(addrs))
}

func quoted(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// TestRetryOnUnavailable checks that a call whose endpoint is unreachable
// is retried on the version's other endpoint, and that with retries off
// (retry.budget 0) it is not.
func TestRetryOnUnavailable(t *testing.T) {
	good := container(t, "fraud", "v1", modelserver.Options{})
	dead := deadAddr(t)
	h := start(t, config(t, "", oneVersion("", dead, good.GRPCAddr)))
	ctx := withKey(t.Context(), acmeKey)
	const n = 40
	for range n {
		if _, _, err := h.infer(ctx, inferRequest("fraud")); err != nil {
			t.Fatalf("got %v, want every call answered (retried on the live endpoint)", err)
		}
	}
	if got := len(good.Server.Requests()); got != n {
		t.Errorf("the live container got %d calls, want %d", got, n)
	}
	// P2C chose the dead endpoint first for some calls (each a retry)
	// until its breaker opened after 5 failures.
	if got := h.counter(t, "modelgate_retries_total", "model=fraud,tenant=acme,version=v1"); got < 1 || got > 5 {
		t.Errorf("got %v retries, want 1 to 5 (until the breaker opened)", got)
	}

	h2 := start(t, config(t, "", oneVersion("        retry: {budget: 0}\n        breaker: {disabled: true}", dead, good.GRPCAddr)))
	failed := 0
	for range n {
		if _, _, err := h2.infer(ctx, inferRequest("fraud")); status.Code(err) == codes.Unavailable {
			failed++
		} else if err != nil {
			t.Fatalf("got %v, want answered or Unavailable", err)
		}
	}
	// Each call picks the dead endpoint with probability 1/2.
	if failed == 0 || failed == n {
		t.Errorf("without retries %d of %d calls failed, want some", failed, n)
	}
}

// TestNoRetryOnAnswers checks that codes other than UNAVAILABLE are
// relayed at once, not retried.
func TestNoRetryOnAnswers(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   codes.Code
	}{{400, codes.InvalidArgument}, {500, codes.Internal}, {504, codes.DeadlineExceeded}} {
		t.Run(tc.want.String(), func(t *testing.T) {
			a := container(t, "fraud", "v1", modelserver.Options{FailStatus: tc.status})
			b := container(t, "fraud", "v1", modelserver.Options{FailStatus: tc.status})
			h := start(t, config(t, "", oneVersion("        breaker: {disabled: true}", a.GRPCAddr, b.GRPCAddr)))
			for range 4 {
				if _, _, err := h.infer(withKey(t.Context(), acmeKey), inferRequest("fraud")); status.Code(err) != tc.want {
					t.Fatalf("got %v, want %v relayed", err, tc.want)
				}
			}
			if got := len(a.Server.Requests()) + len(b.Server.Requests()); got != 4 {
				t.Errorf("containers got %d calls for 4, want 4 (no retries)", got)
			}
		})
	}
}

// TestBreaker checks that container failures (UNAVAILABLE, INTERNAL) open
// an endpoint's breaker, after which calls are refused without reaching
// it; that client-caused codes do not; and that the open breaker survives
// a reload that keeps its settings.
func TestBreaker(t *testing.T) {
	const brk = "        retry: {attempts: 0}\n        breaker: {consecutive_failures: 3, open_for: 1h, panic_threshold: 0}"
	for _, tc := range []struct {
		status int
		opens  bool
	}{{503, true}, {500, true}, {400, false}, {404, false}} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			c := container(t, "fraud", "v1", modelserver.Options{FailStatus: tc.status})
			// With the REST gateway: it owns the model's rejection series.
			h, _ := startShared(t, config(t, "", oneVersion(brk, c.GRPCAddr)))
			ctx := withKey(t.Context(), acmeKey)
			for range 6 {
				_, _, _ = h.infer(ctx, inferRequest("fraud"))
			}
			want := 6
			if tc.opens {
				want = 3
			}
			if got := len(c.Server.Requests()); got != want {
				t.Fatalf("the container got %d of 6 calls, want %d", got, want)
			}
			if !tc.opens {
				return
			}
			_, _, err := h.infer(ctx, inferRequest("fraud"))
			if status.Code(err) != codes.Unavailable || status.Convert(err).Message() != status.Convert(errNoAvailable).Message() {
				t.Errorf("with the breaker open: got %v, want Unavailable (no available endpoint)", err)
			}
			if got := h.counter(t, "modelgate_rejected_requests_total", "model=fraud,reason=no_endpoint,tenant=acme"); got != 4 {
				t.Errorf("got %v no_endpoint rejections, want 4", got)
			}
			// A reload keeping the breaker's settings keeps it open.
			c.Server.SetFailStatus(0)
			if err := h.proxy.Apply(config(t, "", oneVersion(brk+"\n        sticky_header: X-User", c.GRPCAddr))); err != nil {
				t.Fatal(err)
			}
			if _, _, err := h.infer(ctx, inferRequest("fraud")); status.Code(err) != codes.Unavailable {
				t.Errorf("after a reload: got %v, want the breaker still open", err)
			}
			// Changed settings start a new, closed breaker.
			if err := h.proxy.Apply(config(t, "", oneVersion("        breaker: {consecutive_failures: 4}", c.GRPCAddr))); err != nil {
				t.Fatal(err)
			}
			if _, _, err := h.infer(ctx, inferRequest("fraud")); err != nil {
				t.Errorf("after a reload changing the breaker: %v, want answered", err)
			}
		})
	}
}

// TestFallback checks that a call the chosen version cannot serve goes to
// the model's fallback version (named in x-modelgate-version and counted),
// and that a pinned call does not without fallback_pinned.
func TestFallback(t *testing.T) {
	good := container(t, "fraud", "v2", modelserver.Options{})
	models := fmt.Sprintf(`      - name: fraud
        fallback: v2
        versions:
          - {name: v1, weight: 1, endpoints: ["http://127.0.0.1:1"], grpc_endpoints: [%q]}
          - {name: v2, weight: 0, endpoints: [%q], grpc_endpoints: [%q]}`, deadAddr(t), good.URL, good.GRPCAddr)
	h := start(t, config(t, "", models))
	ctx := withKey(t.Context(), acmeKey)
	for range 8 { // the breaker opens after 5; the fallback serves throughout
		if _, v, err := h.infer(ctx, inferRequest("fraud")); err != nil || v != "v2" {
			t.Fatalf("got version %q, %v; want served by the fallback v2", v, err)
		}
	}
	if got := h.counter(t, "modelgate_fallbacks_total", "from=v1,model=fraud,tenant=acme,to=v2"); got != 8 {
		t.Errorf("got %v fallbacks, want 8", got)
	}
	if got := h.requests(t, "acme", "fraud", "v2", "200"); got != 8 {
		t.Errorf("got %v requests of v2 counted 200, want 8", got)
	}
	pinned := inferRequest("fraud")
	pinned.ModelVersion = "v1"
	if _, v, err := h.infer(ctx, pinned); status.Code(err) != codes.Unavailable || v != "v1" {
		t.Errorf("pinned to v1: got version %q, %v; want v1 Unavailable (no fallback_pinned)", v, err)
	}
}
