package tenants

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelgate/modelgate/configs"
)

func TestTokenBucket(t *testing.T) {
	t0 := time.Unix(1000, 0)
	b := NewTokenBucket(600) // 10 tokens a second
	if r, ok, _ := b.Reserve(400, t0); !ok || r != 400 {
		t.Fatalf("reserve 400 of a full 600: got %d %v", r, ok)
	}
	r, ok, wait := b.Reserve(300, t0)
	if ok || r != 0 || wait != 10*time.Second {
		t.Fatalf("reserve 300 of 200 left: got %d %v, retry after %v; want refused, 10s", r, ok, wait)
	}
	b.Settle(400, 150, t0) // used less: 250 back
	if got := b.Level(t0); got != 450 {
		t.Errorf("after a refund: level %v, want 450", got)
	}
	b.Settle(0, 500, t0) // a charge beyond the level: a debt
	if got := b.Level(t0); got != -50 {
		t.Errorf("after a charge: level %v, want -50", got)
	}
	if got := b.Level(t0.Add(30 * time.Second)); got != 250 {
		t.Errorf("30 s later: level %v, want 250", got)
	}
	if got := b.Level(t0.Add(time.Hour)); got != 600 {
		t.Errorf("an hour later: level %v, want the size, 600", got)
	}
	if got := b.Level(t0); got != 600 {
		t.Errorf("a clock going back: level %v, want 600 unchanged", got)
	}
	// An estimate over the whole budget waits for a full bucket.
	if r, ok, _ := b.Reserve(5000, t0.Add(time.Hour)); !ok || r != 600 {
		t.Errorf("reserve 5000 of a full 600: got %d %v, want 600 reserved", r, ok)
	}
	b.Settle(600, 600, t0.Add(time.Hour))
	if _, ok, wait := b.Reserve(5000, t0.Add(time.Hour+30*time.Second)); ok || wait != 30*time.Second {
		t.Errorf("reserve 5000 of 300: got %v, retry after %v; want refused, 30s", ok, wait)
	}
}

// TestTokenBucketConcurrentReserve: requests racing for one budget take
// at most what it holds, all or nothing each.
func TestTokenBucketConcurrentReserve(t *testing.T) {
	const budget, n, each = 1000, 64, 70
	b := NewTokenBucket(budget)
	now := time.Unix(1000, 0)
	var taken, admitted atomic.Int64
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r, ok, _ := b.Reserve(each, now); ok {
				taken.Add(int64(r))
				admitted.Add(1)
			}
		}()
	}
	wg.Wait()
	if got, want := admitted.Load(), int64(budget/each); got != want || taken.Load() != want*each {
		t.Errorf("admitted %d requests taking %d tokens, want %d taking %d", got, taken.Load(), want, want*each)
	}
}

// TestReserveTokensBothOrNeither: a model budget's refusal gives the
// tenant's reservation back; limiters without a budget take nothing.
func TestReserveTokensBothOrNeither(t *testing.T) {
	now := time.Unix(1000, 0)
	tenant := NewLimiter(configs.Limits{TokensPerMinute: 1000}, nil)
	model := NewLimiter(configs.Limits{TokensPerMinute: 100}, nil)
	g := Grant{Tenant: tenant, Model: model}
	h, ok, _ := g.ReserveTokens(80, now)
	if !ok || !h.Holds() {
		t.Fatal("80 of 1000 and 100: refused")
	}
	if _, ok, wait := g.ReserveTokens(50, now); ok || wait != 18*time.Second {
		t.Fatalf("50 more of the model's 20: got %v, retry after %v; want refused, 18s", ok, wait)
	}
	if got := tenant.tokens.Level(now); got != 920 {
		t.Errorf("tenant level after the model refused: %v, want 920 (its reservation given back)", got)
	}
	h.Settle(30, now)
	if got, want := model.tokens.Level(now), 70.0; got != want {
		t.Errorf("model level after settling 30 of 80: %v, want %v", got, want)
	}
	if h, ok, _ := (Grant{Tenant: NewLimiter(configs.Limits{MaxInFlight: 1}, nil)}).ReserveTokens(1<<30, now); !ok || h.Holds() {
		t.Errorf("no token budget: got %v, holds %v; want admitted holding nothing", ok, h.Holds())
	}
}

func TestReserveTokensAllocs(t *testing.T) {
	now := time.Unix(1000, 0)
	g := Grant{Tenant: NewLimiter(configs.Limits{TokensPerMinute: 1 << 30}, nil), Model: NewLimiter(configs.Limits{TokensPerMinute: 1 << 30}, nil)}
	if n := testing.AllocsPerRun(100, func() {
		h, _, _ := g.ReserveTokens(100, now)
		h.Settle(50, now)
	}); n != 0 {
		t.Errorf("got %v allocations, want 0", n)
	}
}
