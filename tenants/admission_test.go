package tenants

import (
	"sync"
	"testing"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/internal/keyed"
)

func TestTakeTokenRetryAfter(t *testing.T) {
	l := NewLimiter(configs.Limits{RequestsPerSecond: 0.5, Burst: 2}, nil)
	now := time.Unix(1000, 0)
	for i := range 2 {
		if ok, _ := l.TakeToken(now); !ok {
			t.Fatalf("token %d of the burst refused", i)
		}
	}
	ok, wait := l.TakeToken(now)
	if ok {
		t.Fatal("got a third token from a burst of 2, want refusal")
	}
	if wait != 2*time.Second {
		t.Errorf("got wait %v, want 2s at 0.5 rps", wait)
	}
	ok, wait = l.TakeToken(now.Add(1500 * time.Millisecond))
	if ok || wait != 500*time.Millisecond {
		t.Errorf("after 1.5s: got ok=%v wait=%v, want refusal with 500ms", ok, wait)
	}
	if s := (Decision{RetryAfter: 500 * time.Millisecond}).RetryAfterSeconds(); s != 1 {
		t.Errorf("RetryAfterSeconds(500ms) = %d, want 1 (rounded up)", s)
	}
	if s := (Decision{RetryAfter: 2001 * time.Millisecond}).RetryAfterSeconds(); s != 3 {
		t.Errorf("RetryAfterSeconds(2.001s) = %d, want 3", s)
	}
	if ok, _ := l.TakeToken(now.Add(2 * time.Second)); !ok {
		t.Error("after 2s at 0.5 rps: token refused, want one")
	}
}

func TestUnlimited(t *testing.T) {
	l := NewLimiter(configs.Limits{}, nil)
	now := time.Now()
	for range 1000 {
		if d := l.Acquire(now); d.Outcome != Admitted {
			t.Fatalf("unlimited limiter refused: %+v", d)
		}
	}
	if n := testing.AllocsPerRun(100, func() { l.Acquire(now); l.Release() }); n != 0 {
		t.Errorf("Acquire+Release (unlimited) allocates %v times, want 0", n)
	}
	lim := NewLimiter(configs.Limits{RequestsPerSecond: 1e9, MaxInFlight: 10}, nil)
	if n := testing.AllocsPerRun(100, func() { lim.Acquire(now); lim.Release() }); n != 0 {
		t.Errorf("Acquire+Release (limited, admitted) allocates %v times, want 0", n)
	}
}

func TestConcurrencyNoQueue(t *testing.T) {
	l := NewLimiter(configs.Limits{MaxInFlight: 2}, nil)
	now := time.Now()
	for i := range 2 {
		if d := l.Acquire(now); d.Outcome != Admitted {
			t.Fatalf("request %d: got %v, want Admitted", i, d.Outcome)
		}
	}
	if d := l.Acquire(now); d.Outcome != Concurrency || d.Queued {
		t.Fatalf("third request: got %+v, want Concurrency without queueing", d)
	}
	l.Release()
	if d := l.Acquire(now); d.Outcome != Admitted {
		t.Fatalf("after a release: got %v, want Admitted", d.Outcome)
	}
	if got := l.InFlight(); got != 2 {
		t.Errorf("InFlight = %d, want 2", got)
	}
}

// waitQueued polls until n requests wait in l's queue.
func waitQueued(t *testing.T, l *Limiter, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		l.mu.Lock()
		got := len(l.queue)
		l.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue length %d, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestQueueFIFO(t *testing.T) {
	l := NewLimiter(configs.Limits{MaxInFlight: 1, MaxQueue: 3, MaxQueueWait: time.Minute}, nil)
	if d := l.Acquire(time.Now()); d.Outcome != Admitted {
		t.Fatal("first request refused")
	}
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := l.Acquire(time.Now())
			if d.Outcome != Admitted || !d.Queued {
				t.Errorf("waiter %d: got %+v, want Admitted after queueing", i, d)
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			l.Release()
		}()
		waitQueued(t, l, i+1) // enqueue in a known order
	}
	if d := l.Acquire(time.Now()); d.Outcome != Concurrency {
		t.Errorf("with the queue full: got %v, want Concurrency", d.Outcome)
	}
	l.Release()
	wg.Wait()
	if len(order) != 3 || order[0] != 0 || order[1] != 1 || order[2] != 2 {
		t.Errorf("got grant order %v, want [0 1 2]", order)
	}
	if got := l.InFlight(); got != 0 {
		t.Errorf("InFlight after all released = %d, want 0", got)
	}
}

func TestQueueTimeout(t *testing.T) {
	const wait = 50 * time.Millisecond
	l := NewLimiter(configs.Limits{MaxInFlight: 1, MaxQueue: 1, MaxQueueWait: wait}, nil)
	l.Acquire(time.Now())
	d := l.Acquire(time.Now())
	if d.Outcome != Concurrency || !d.Queued || d.Waited < wait {
		t.Fatalf("got %+v, want Concurrency after waiting at least %v", d, wait)
	}
	waitQueued(t, l, 0)
	l.Release()
	if got := l.InFlight(); got != 0 {
		t.Errorf("InFlight = %d, want 0 (a timed-out waiter holds nothing)", got)
	}
}

func TestBuildKeepsUnchangedLimiters(t *testing.T) {
	cfg := func(acmeRPS float64) *configs.Config {
		c := &configs.Config{Tenants: []configs.Tenant{
			{Name: "acme", Limits: configs.Limits{RequestsPerSecond: acmeRPS}, Models: []configs.Model{{Name: "fraud", Limits: &configs.Limits{MaxInFlight: 4}}, {Name: "free"}}},
			{Name: "globex", Limits: configs.Limits{RequestsPerSecond: 5, Burst: 5}, Models: []configs.Model{{Name: "churn"}}},
			{Name: "open", Models: []configs.Model{{Name: "m"}}},
		}}
		c.SetDefaults()
		return c
	}
	var set keyed.Set
	a := NewAdmission(&set)
	build := func(c *configs.Config) *Limiters {
		gen := set.Begin()
		defer gen.Commit()
		return a.Build(gen, c)
	}
	first := build(cfg(10))
	if first.Tenant(2) != nil || first.Model(0, 1) != nil || first.Model(1, 0) != nil {
		t.Error("got limiters for unlimited tenants/models, want nil")
	}
	second := build(cfg(20))
	if first.Tenant(0) == second.Tenant(0) {
		t.Error("acme's limits changed but its limiter was kept")
	}
	if got := second.Tenant(0).Limits(); got.RequestsPerSecond != 20 || got.Burst != 20 {
		t.Errorf("acme's new limits: got %+v, want 20 rps burst 20", got)
	}
	if first.Tenant(1) != second.Tenant(1) {
		t.Error("globex's limits did not change but its limiter was replaced")
	}
	if first.Model(0, 0) != second.Model(0, 0) {
		t.Error("acme/fraud's limits did not change but its limiter was replaced")
	}
	// Bucket state survives: drain globex, rebuild, still drained.
	now := time.Now()
	for range 5 {
		second.Tenant(1).TakeToken(now)
	}
	third := build(cfg(30))
	if ok, _ := third.Tenant(1).TakeToken(now); ok {
		t.Error("globex's drained bucket was refilled by a reload")
	}
}
