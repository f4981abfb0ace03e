package grpcproxy

import (
	"testing"

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
		{desc: "over the ejection cap the later opened serves", until: []int64{5, 9, 0}, loads: []int64{0, 0, 100}, tried: 1 << 2, ej: upstream.Ejection{MaxOut: 1}, want: []int{1}, wantBypass: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			for range 20 { // P2C samples at random
				got, bypass := choose(tc.until, tc.loads, tc.tried, tc.ej, tc.mayPanic)
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
	if n := testing.AllocsPerRun(100, func() { choose(until, loads, 0, upstream.Ejection{MaxOut: 1}, true) }); n != 0 {
		t.Errorf("got %v allocations per choice, want 0", n)
	}
}
