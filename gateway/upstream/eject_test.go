package upstream

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/modelgate/modelgate/configs"
)

func TestEjectionFor(t *testing.T) {
	brk := func(maxPct, panicPct int) configs.Breaker {
		return configs.Breaker{MaxEjectionPercent: maxPct, PanicThreshold: &panicPct}
	}
	tests := []struct {
		n    int
		cfg  configs.Breaker
		want Ejection
	}{
		{n: 1, cfg: brk(10, 50), want: Ejection{MaxOut: 1, MinAvailable: 1}},
		{n: 2, cfg: brk(10, 50), want: Ejection{MaxOut: 1, MinAvailable: 1}},
		{n: 3, cfg: brk(10, 50), want: Ejection{MaxOut: 1, MinAvailable: 2}},
		{n: 20, cfg: brk(10, 50), want: Ejection{MaxOut: 2, MinAvailable: 10}},
		{n: 64, cfg: brk(100, 0), want: Ejection{MaxOut: 64}},
		{n: 5, cfg: brk(0, 100), want: Ejection{MaxOut: 1, MinAvailable: 5}},
		{n: 5, cfg: configs.Breaker{Disabled: true}, want: Ejection{}},
		{n: 4, cfg: configs.Breaker{MaxEjectionPercent: 50}, want: Ejection{MaxOut: 2, MinAvailable: 2}}, // default panic threshold
	}
	for _, tt := range tests {
		if got := EjectionFor(tt.n, tt.cfg); got != tt.want {
			t.Errorf("%d endpoints, %+v: got %+v, want %+v", tt.n, tt.cfg, got, tt.want)
		}
	}
}

func TestHeldOut(t *testing.T) {
	until := []int64{0, 30, 10, 0, 20, 10}
	tests := []struct {
		maxOut int
		want   []int // open endpoints held out
	}{
		{maxOut: 1, want: []int{2}},       // 10 at index 2 opened first (tie with 5 by index)
		{maxOut: 2, want: []int{2, 5}},    // then 10 at index 5
		{maxOut: 3, want: []int{2, 4, 5}}, // then 20
		{maxOut: 9, want: []int{1, 2, 4, 5}},
	}
	for _, tt := range tests {
		var got []int
		for i, u := range until {
			if u != 0 && heldOut(until, i, tt.maxOut) {
				got = append(got, i)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("max %d out: got %v held out, want %v", tt.maxOut, got, tt.want)
		}
	}
}

// TestPickWithin: open breakers hold out at most MaxOut endpoints (the
// first to open); below MinAvailable a pick that may panic ignores them;
// health verdicts always count.
func TestPickWithin(t *testing.T) {
	reg, gen := newTestRegistry(t, slog.New(slog.DiscardHandler))
	eps := make([]*Endpoint, 4)
	for i := range eps {
		eps[i] = reg.Get(gen, Key{URL: fmt.Sprintf("http://127.0.0.1:%d", 1+i)})
	}
	now := time.Now().UnixNano()
	picks := func(ej Ejection, mayPanic bool) (seen map[int]bool, bypassed map[int]bool) {
		seen, bypassed = map[int]bool{}, map[int]bool{}
		for range 400 {
			i, bypass := reg.PickWithin(eps, 0, now, ej, mayPanic)
			seen[i] = true
			if bypass {
				bypassed[i] = true
			}
		}
		return seen, bypassed
	}
	eps[0].openUntil.Store(now + 2*int64(time.Minute))
	eps[1].openUntil.Store(now + int64(time.Minute)) // opened before 0
	eps[3].down.Store(true)

	seen, bypassed := picks(Ejection{MaxOut: 1, MinAvailable: 1}, false)
	if len(seen) != 2 || !seen[0] || !seen[2] || len(bypassed) != 1 || !bypassed[0] {
		t.Errorf("2 open, at most 1 out: picked %v (bypassing %v), want 0 (breaker ignored) and 2; 1 stays out, 3 is down", seen, bypassed)
	}
	seen, bypassed = picks(Ejection{MaxOut: 2, MinAvailable: 1}, true)
	if len(seen) != 1 || !seen[2] || len(bypassed) != 0 {
		t.Errorf("2 open, at most 2 out, 1 available: picked %v (bypassing %v), want only 2", seen, bypassed)
	}
	seen, bypassed = picks(Ejection{MaxOut: 2, MinAvailable: 2}, true)
	if len(seen) != 3 || seen[3] || len(bypassed) != 2 {
		t.Errorf("panic (1 of 4 available, 2 needed): picked %v (bypassing %v), want 0, 1 (breakers ignored) and 2, never 3 (down)", seen, bypassed)
	}
	seen, _ = picks(Ejection{MaxOut: 2, MinAvailable: 2}, false)
	if len(seen) != 1 || !seen[2] {
		t.Errorf("would panic but may fall back: picked %v, want only 2", seen)
	}
	if i, _ := reg.PickWithin(eps, 1<<2, now, Ejection{MaxOut: 2, MinAvailable: 1}, false); i != -1 {
		t.Errorf("only available endpoint tried, 2 open and held out: picked %d, want -1", i)
	}
	if i, bypass := reg.PickWithin(eps, 1<<2|1<<0, now, Ejection{MaxOut: 2, MinAvailable: 2}, true); i != 1 || !bypass {
		t.Errorf("panic, 0 and 2 tried: picked %d (bypass %v), want 1 bypassing its breaker", i, bypass)
	}
}

// TestJudgeServerErrors: under "corroborated" one caller's 500s and 503s
// are never failures; alternating callers' are; under "failure" all are.
func TestJudgeServerErrors(t *testing.T) {
	reg, gen := newTestRegistry(t, slog.New(slog.DiscardHandler))
	ep := reg.Get(gen, Key{URL: "http://127.0.0.1:1"})
	cfg := configs.Breaker{ConsecutiveFailures: 3, FailureRatio: 0.5, MinRequests: 100, OpenFor: time.Minute, Interval: time.Second,
		ServerErrors: configs.ServerErrorsCorroborated}
	ep.setBreaker(cfg)
	now := time.Now().UnixNano()
	const a, b = 11, 22
	judge := func(caller uint64, v error) error {
		now += int64(time.Millisecond)
		verdict := ep.Judge(v, caller, now)
		ep.Guard(func() error { return verdict })
		return verdict
	}
	for range 100 {
		if v := judge(a, Answered.Verdict(500)); v != ErrExcluded {
			t.Fatalf("one caller's 500: got %v, want %v", v, ErrExcluded)
		}
		if v := judge(a, Unavailable.Verdict(503)); v != ErrExcluded {
			t.Fatalf("one caller's 503: got %v, want %v", v, ErrExcluded)
		}
		if v := judge(b, nil); v != nil {
			t.Fatalf("a success: got %v", v)
		}
	}
	if s := ep.BreakerState(); s != 0 {
		t.Fatalf("after 200 server errors of one caller: breaker state %d, want 0", s)
	}
	if v := judge(b, Answered.Verdict(500)); v != ErrFailure {
		t.Errorf("a 500 to b after a's: got %v, want %v", v, ErrFailure)
	}
	judge(a, Answered.Verdict(500))
	judge(b, Answered.Verdict(500))
	if s := ep.BreakerState(); s != 2 {
		t.Errorf("after 3 alternating server errors: breaker state %d, want 2 (open)", s)
	}
	if v := ep.Judge(ErrFailure, a, now); v != ErrFailure {
		t.Errorf("other verdicts pass through: got %v", v)
	}

	cfg.ServerErrors = configs.ServerErrorsFailure
	ep.setBreaker(cfg)
	if v := ep.Judge(ErrServerError, a, now); v != ErrFailure {
		t.Errorf(`server_errors "failure": got %v, want %v`, v, ErrFailure)
	}
}

// TestPickWithinAllocs: picking stays allocation-free when open breakers
// are capped or ignored (run without the race detector: scripts/test.sh).
func TestPickWithinAllocs(t *testing.T) {
	reg, gen := newTestRegistry(t, slog.New(slog.DiscardHandler))
	eps := make([]*Endpoint, 8)
	for i := range eps {
		eps[i] = reg.Get(gen, Key{URL: fmt.Sprintf("http://127.0.0.1:%d", 1+i)})
	}
	now := time.Now().UnixNano()
	for i := range 5 {
		eps[i].openUntil.Store(now + int64(i+1)*int64(time.Minute))
	}
	for _, ej := range []Ejection{{MaxOut: 1}, {MaxOut: 8, MinAvailable: 4}} {
		if n := testing.AllocsPerRun(100, func() { reg.PickWithin(eps, 0, now, ej, true) }); n != 0 {
			t.Errorf("%+v: %v allocs per pick, want 0", ej, n)
		}
	}
}
