package grpcproxy

import (
	"testing"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/gateway/upstream"
	"google.golang.org/grpc/codes"
)

func TestVerdict(t *testing.T) {
	tests := []struct {
		desc       string
		code       codes.Code
		clientDone bool
		want       error
	}{
		{"ok", codes.OK, false, nil},
		{"unavailable", codes.Unavailable, false, errFailure},
		{"model timeout", codes.DeadlineExceeded, false, errFailure},
		{"internal", codes.Internal, false, errFailure},
		{"unknown", codes.Unknown, false, errFailure},
		{"data loss", codes.DataLoss, false, errFailure},
		{"invalid argument", codes.InvalidArgument, false, nil},
		{"not found", codes.NotFound, false, nil},
		{"failed precondition", codes.FailedPrecondition, false, nil},
		{"out of range", codes.OutOfRange, false, nil},
		{"unauthenticated", codes.Unauthenticated, false, nil},
		{"permission denied", codes.PermissionDenied, false, nil},
		{"resource exhausted", codes.ResourceExhausted, false, nil},
		{"unimplemented", codes.Unimplemented, false, nil},
		{"aborted", codes.Aborted, false, nil},
		{"canceled", codes.Canceled, false, errExcluded},
		{"client gone mid-call", codes.Unavailable, true, errExcluded},
		{"client's own deadline", codes.DeadlineExceeded, true, errExcluded},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			if got := verdict(tc.code, tc.clientDone); got != tc.want {
				t.Errorf("verdict(%v, %v) = %v, want %v", tc.code, tc.clientDone, got, tc.want)
			}
		})
	}
}

func TestRetryableAndFallsBack(t *testing.T) {
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		want := c == codes.Unavailable
		if got := retryable(c); got != want {
			t.Errorf("retryable(%v) = %v, want %v", c, got, want)
		}
		if got := fallsBack(c); got != want {
			t.Errorf("fallsBack(%v) = %v, want %v", c, got, want)
		}
	}
}

func TestChoose(t *testing.T) {
	none := upstream.Ejection{}
	tests := []struct {
		desc       string
		until      []int64 // 0: breaker not open
		loads      []int64
		down       uint64 // health checks fail
		tried      uint64
		ej         upstream.Ejection
		mayPanic   bool
		want       []int // acceptable picks; empty: -1
		wantBypass bool
	}{
		{desc: "one endpoint", until: []int64{0}, loads: []int64{3}, ej: none, want: []int{0}},
		{desc: "least loaded of two", until: []int64{0, 0}, loads: []int64{5, 1}, ej: none, want: []int{1}},
		{desc: "tried skipped", until: []int64{0, 0}, loads: []int64{5, 1}, tried: 1 << 1, ej: none, want: []int{0}},
		{desc: "all tried", until: []int64{0, 0}, loads: []int64{0, 0}, tried: 3, ej: none, want: nil},
		{desc: "open skipped", until: []int64{9, 0}, loads: []int64{0, 7}, ej: none, want: []int{1}},
		{desc: "only open, no panic", until: []int64{9}, loads: []int64{0}, ej: upstream.Ejection{MaxOut: 1}, want: nil},
		{desc: "only open, panic threshold", until: []int64{9}, loads: []int64{0}, ej: upstream.Ejection{MaxOut: 1, MinAvailable: 1}, mayPanic: true, want: []int{0}, wantBypass: true},
		{desc: "panic needs mayPanic", until: []int64{9}, loads: []int64{0}, ej: upstream.Ejection{MaxOut: 1, MinAvailable: 1}, want: nil},
		{desc: "down skipped", until: []int64{0, 0}, loads: []int64{0, 7}, down: 1, ej: none, want: []int{1}},
		{desc: "all down", until: []int64{0, 0}, loads: []int64{0, 0}, down: 3, ej: none, want: nil},
		{desc: "down never chosen in panic", until: []int64{0, 9}, loads: []int64{0, 0}, down: 1, ej: upstream.Ejection{MaxOut: 1, MinAvailable: 1}, mayPanic: true, want: []int{1}, wantBypass: true},
		{desc: "down neither open nor available: no panic with one available", until: []int64{0, 9, 0}, loads: []int64{0, 0, 5}, down: 1, ej: upstream.Ejection{MaxOut: 1, MinAvailable: 1}, mayPanic: true, want: []int{2}},
		{desc: "down does not count against the ejection cap", until: []int64{0, 9, 0}, loads: []int64{0, 0, 5}, down: 1, ej: upstream.Ejection{MaxOut: 1}, want: []int{2}},
		{desc: "over the ejection cap the later opened serves", until: []int64{5, 9, 0}, loads: []int64{0, 0, 100}, tried: 1 << 2, ej: upstream.Ejection{MaxOut: 1}, want: []int{1}, wantBypass: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			for range 20 { // P2C samples at random
				got, bypass := choose(tc.until, tc.loads, tc.down, tc.tried, tc.ej, tc.mayPanic)
				if len(tc.want) == 0 {
					if got != -1 {
						t.Fatalf("got %d, want -1", got)
					}
					continue
				}
				ok := false
				for _, w := range tc.want {
					ok = ok || got == w
				}
				if !ok || bypass != tc.wantBypass {
					t.Fatalf("got %d (bypass %v), want one of %v (bypass %v)", got, bypass, tc.want, tc.wantBypass)
				}
			}
		})
	}
}

func TestChooseAllocs(t *testing.T) {
	until, loads := []int64{9, 0, 0}, []int64{0, 1, 2}
	if n := testing.AllocsPerRun(100, func() { choose(until, loads, 0, 0, upstream.Ejection{MaxOut: 1}, true) }); n != 0 {
		t.Errorf("got %v allocations per choice, want 0", n)
	}
}

func TestReadyVerdict(t *testing.T) {
	tests := []struct {
		desc             string
		server           bool
		code             codes.Code
		ready            bool
		wantOK, wantMiss bool
	}{
		{desc: "model ready", code: codes.OK, ready: true, wantOK: true},
		{desc: "model not ready", code: codes.OK},
		{desc: "model not found", code: codes.NotFound},
		{desc: "model unimplemented", code: codes.Unimplemented},
		{desc: "model unreachable", code: codes.Unavailable},
		{desc: "check timeout", code: codes.DeadlineExceeded},
		{desc: "server ready", server: true, code: codes.OK, ready: true, wantOK: true},
		{desc: "server not ready", server: true, code: codes.OK},
		{desc: "server without ServerReady", server: true, code: codes.Unimplemented, wantOK: true, wantMiss: true},
		{desc: "server unreachable", server: true, code: codes.Unavailable},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			ok, missing := readyVerdict(tc.server, tc.code, tc.ready)
			if ok != tc.wantOK || missing != tc.wantMiss {
				t.Errorf("got ok=%v missing=%v, want ok=%v missing=%v", ok, missing, tc.wantOK, tc.wantMiss)
			}
		})
	}
}

func TestProbeFor(t *testing.T) {
	hc := func(path string) configs.HealthCheck {
		c := configs.DefaultModel().HealthCheck
		c.Path = path
		return c
	}
	tests := []struct {
		desc, path, containerVersion string
		wantServer                   bool
		wantVersion                  string
	}{
		{desc: "default path asks ModelReady", path: configs.DefaultHealthPath, containerVersion: "3", wantVersion: "3"},
		{desc: "no container_version: the model as a whole", path: configs.DefaultHealthPath},
		{desc: "versioned path", path: "/v2/models/{model}/versions/{version}/ready", containerVersion: "2", wantVersion: "2"},
		{desc: "V1 status is model-level", path: "/v1/models/{model}", containerVersion: "1", wantVersion: "1"},
		{desc: "server ready path asks ServerReady", path: "/v2/health/ready", containerVersion: "1", wantServer: true},
		{desc: "custom path asks ServerReady", path: "/ping", wantServer: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got := probeFor(hc(tc.path), "fraud", tc.containerVersion)
			if got.server != tc.wantServer {
				t.Fatalf("server: got %v, want %v", got.server, tc.wantServer)
			}
			if tc.wantServer {
				if got.model != "" || got.version != "" {
					t.Errorf("ServerReady plan names model %q version %q, want none", got.model, got.version)
				}
				return
			}
			if got.model != "fraud" || got.version != tc.wantVersion {
				t.Errorf("got ModelReady(%q, %q), want (fraud, %q)", got.model, got.version, tc.wantVersion)
			}
		})
	}
}
