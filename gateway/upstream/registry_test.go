package upstream

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/internal/await"
	"github.com/modelgate/modelgate/internal/keyed"
	"github.com/modelgate/modelgate/internal/testlog"
)

func TestPickEndpointSkipsUnavailable(t *testing.T) {
	reg, gen := newTestRegistry(t, slog.New(slog.DiscardHandler))
	eps := []*Endpoint{reg.Get(gen, Key{URL: "http://127.0.0.1:1"}), reg.Get(gen, Key{URL: "http://127.0.0.1:2"}), reg.Get(gen, Key{URL: "http://127.0.0.1:3"}), reg.Get(gen, Key{URL: "http://127.0.0.1:4"})}
	now := time.Now().UnixNano()
	eps[0].down.Store(true)                          // failed health checks
	eps[1].openUntil.Store(now + int64(time.Minute)) // open breaker
	eps[3].openUntil.Store(now - 1)                  // open_for passed: half-open probe allowed
	for range 200 {
		i := reg.Pick(eps, 0, now)
		if i != 2 && i != 3 {
			t.Fatalf("picked endpoint %d, want 2 or 3 (0 is down, 1 has an open breaker)", i)
		}
		if j := reg.Pick(eps, 1<<2, now); j != 3 {
			t.Fatalf("with endpoint 2 tried: picked %d, want 3", j)
		}
	}
	if i := reg.Pick(eps, 1<<2|1<<3, now); i != -1 {
		t.Errorf("all Unavailable or tried: picked %d, want -1", i)
	}
	for range 5 {
		eps[2].Acquire()
	}
	if i := reg.Pick(eps[2:], 0, now); i != 1 {
		t.Errorf("two candidates: picked %d, want the one with fewer in flight", i)
	}
}

// TestPickEndpointUsesAllowedMaximum: each of a version's
// configs.MaxEndpointsPerVersion endpoints can be picked.
func TestPickEndpointUsesAllowedMaximum(t *testing.T) {
	reg, gen := newTestRegistry(t, slog.New(slog.DiscardHandler))
	eps := make([]*Endpoint, configs.MaxEndpointsPerVersion)
	for i := range eps {
		eps[i] = reg.Get(gen, Key{URL: fmt.Sprintf("http://127.0.0.1:%d", 1000+i)})
	}
	now := time.Now().UnixNano()
	for i := range eps {
		if got := reg.Pick(eps, ^uint64(0)&^(1<<i), now); got != i {
			t.Errorf("only endpoint %d untried: picked %d", i, got)
		}
	}
	if got := reg.Pick(eps, ^uint64(0), now); got != -1 {
		t.Errorf("all %d tried: picked %d, want -1", len(eps), got)
	}
}

func TestBreakerCounting(t *testing.T) {
	var logs testlog.Buffer
	reg, gen := newTestRegistry(t, slog.New(slog.NewTextHandler(&logs, nil)))
	ep := reg.Get(gen, Key{URL: "http://127.0.0.1:1"})
	ep.setBreaker(configs.Breaker{ConsecutiveFailures: 3, FailureRatio: 0.5, MinRequests: 100, OpenFor: 50 * time.Millisecond, Interval: time.Second})
	run := func(verdict error) bool { return ep.Guard(func() error { return verdict }) }
	for range 50 {
		run(Answered.Verdict(404)) // 4xx are successes
		run(Busy.Verdict(0))       // an exhausted pool is not counted
	}
	run(ErrFailure)
	run(ErrFailure)
	run(nil) // a success resets the consecutive count
	run(ErrFailure)
	run(ErrFailure)
	if ep.BreakerState() != 0 {
		t.Fatalf("after 2 consecutive failures: state %d, want closed", ep.BreakerState())
	}
	run(ErrFailure)
	if ep.BreakerState() != 2 || ep.Available(time.Now().UnixNano()) {
		t.Fatalf("after 3 consecutive failures: state %d, want open and Unavailable", ep.BreakerState())
	}
	if run(nil) {
		t.Errorf("open breaker admitted a request")
	}
	await.Until(t, 5*time.Second, "open_for to pass", func() bool { return ep.Available(time.Now().UnixNano()) })
	if ep.BreakerState() != 1 {
		t.Errorf("after open_for: state %d, want 1 (half-open)", ep.BreakerState())
	}
	if !run(nil) || ep.BreakerState() != 0 {
		t.Errorf("half-open probe succeeded: state %d, want closed", ep.BreakerState())
	}

	for _, want := range []string{
		`msg="circuit breaker opened" endpoint=http://127.0.0.1:1 from=closed`,
		`msg="circuit breaker state changed" endpoint=http://127.0.0.1:1 from=open to=half-open`,
		`msg="circuit breaker state changed" endpoint=http://127.0.0.1:1 from=half-open to=closed`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}

	t.Run("failure ratio", func(t *testing.T) {
		ep.setBreaker(configs.Breaker{ConsecutiveFailures: 1000, FailureRatio: 0.5, MinRequests: 10, OpenFor: time.Minute, Interval: 10 * time.Second})
		for i := range 10 {
			if i%2 == 0 {
				run(nil)
			} else {
				run(ErrFailure)
			}
		}
		if ep.BreakerState() != 2 {
			t.Errorf("5 failures in 10 requests at ratio 0.5: state %d, want open", ep.BreakerState())
		}
	})
	t.Run("disabled", func(t *testing.T) {
		ep.setBreaker(configs.Breaker{Disabled: true})
		for range 10 {
			if !run(ErrFailure) {
				t.Fatal("disabled breaker turned a request away")
			}
		}
		if ep.BreakerState() != 0 || !ep.Available(time.Now().UnixNano()) {
			t.Errorf("disabled breaker: state %d, want closed and available", ep.BreakerState())
		}
	})
}

// newTestRegistry returns a registry and an open generation to Get its
// endpoints in; the registry is closed when the test ends.
func newTestRegistry(t testing.TB, log *slog.Logger) (*Registry, *keyed.Gen) {
	set := new(keyed.Set)
	reg := NewRegistry(set, log, configs.DefaultMaxAnswerBytes)
	gen := set.Begin()
	t.Cleanup(func() {
		gen.Commit()
		reg.Close()
	})
	return reg, gen
}
