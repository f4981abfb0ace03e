package redisstate

import (
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/internal/await"
	"github.com/modelgate/modelgate/internal/redistest"
)

// gauge records the last value set.
type gauge struct{ v atomic.Int64 }

func (g *gauge) Set(v float64) { g.v.Store(int64(v)) }

func openStore(t testing.TB, addr, prefix string, up Gauge) *Store {
	t.Helper()
	cfg := configs.DefaultRedis()
	cfg.Address, cfg.KeyPrefix = addr, prefix
	s := Open(cfg, up, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	t.Cleanup(func() { s.Close() })
	return s
}

// TestBucketGCRA checks a shared bucket admits its burst at once, then
// refuses with a Retry-After of about one emission interval.
func TestBucketGCRA(t *testing.T) {
	srv := redistest.Start(t)
	s := openStore(t, srv.Addr, "t1:", nil)
	if !s.Up() {
		t.Fatal("got Redis down after Open, want up")
	}
	b := s.Bucket("acme", 10, 5)
	for i := range 5 {
		ok, _, err := b.Take()
		if err != nil || !ok {
			t.Fatalf("take %d of the burst: got ok=%v err=%v, want admitted", i, ok, err)
		}
	}
	ok, wait, err := b.Take()
	if err != nil || ok {
		t.Fatalf("take past the burst: got ok=%v err=%v, want refused", ok, err)
	}
	if wait <= 0 || wait > 100*time.Millisecond {
		t.Errorf("got retry after %v, want in (0, 100ms] (one interval at 10/s)", wait)
	}
	// Another name is another bucket.
	if ok, _, err := s.Bucket("other", 10, 5).Take(); !ok || err != nil {
		t.Errorf("other bucket: got ok=%v err=%v, want admitted", ok, err)
	}
	// Once the wait has passed, a token is there again.
	await.Until(t, 2*time.Second, "a token after the wait", func() bool {
		ok, _, _ := b.Take()
		return ok
	})
}

// TestBucketRate checks the long-run rate a shared bucket admits under a
// flood: about burst + rate × elapsed.
func TestBucketRate(t *testing.T) {
	srv := redistest.Start(t)
	s := openStore(t, srv.Addr, "t2:", nil)
	b := s.Bucket("acme", 200, 10)
	start := time.Now()
	admitted := 0
	for time.Since(start) < 500*time.Millisecond {
		if ok, _, err := b.Take(); err != nil {
			t.Fatal(err)
		} else if ok {
			admitted++
		}
	}
	elapsed := time.Since(start).Seconds()
	if limit := 10 + 200*elapsed*1.02 + 1; float64(admitted) > limit {
		t.Errorf("admitted %d in %.3fs, want at most %.0f", admitted, elapsed, limit)
	}
	if floor := 200 * 0.5 * 0.8; float64(admitted) < floor {
		t.Errorf("admitted %d in %.3fs, want at least %.0f", admitted, elapsed, floor)
	}
}

// TestReplicaCount checks replicas count each other through the replica
// set and a closed one leaves it at once.
func TestReplicaCount(t *testing.T) {
	srv := redistest.Start(t)
	a := openStore(t, srv.Addr, "t3:", nil)
	b := openStore(t, srv.Addr, "t3:", nil)
	c := openStore(t, srv.Addr, "t3:", nil)
	other := openStore(t, srv.Addr, "elsewhere:", nil)
	await.Until(t, 5*time.Second, "three replicas counted by each", func() bool {
		return a.Replicas() == 3 && b.Replicas() == 3 && c.Replicas() == 3
	})
	await.Until(t, 5*time.Second, "another prefix counted alone", func() bool { return other.Replicas() == 1 })
	c.Close()
	await.Until(t, 5*time.Second, "two replicas once one closed", func() bool {
		return a.Replicas() == 2 && b.Replicas() == 2
	})
}

// TestDownAndBack checks a killed Redis is marked down by the first failed
// call (gauge 0, no further calls: ErrUnavailable at once), the replica
// count is kept, and a restarted Redis is used again within a few
// heartbeats, without reopening the store.
func TestDownAndBack(t *testing.T) {
	srv := redistest.Start(t)
	up := &gauge{}
	s := openStore(t, srv.Addr, "t4:", up)
	b := s.Bucket("acme", 1000, 1000)
	if ok, _, err := b.Take(); !ok || err != nil {
		t.Fatalf("got ok=%v err=%v, want admitted", ok, err)
	}
	if up.v.Load() != 1 {
		t.Fatalf("got redis_up %d, want 1", up.v.Load())
	}
	srv.Kill()
	if _, _, err := b.Take(); err == nil {
		t.Fatal("Redis killed: got no error, want one")
	}
	if s.Up() || up.v.Load() != 0 {
		t.Fatalf("after a failed call: got up=%v gauge=%d, want down, 0", s.Up(), up.v.Load())
	}
	start := time.Now()
	for range 1000 {
		if _, _, err := b.Take(); err != ErrUnavailable {
			t.Fatalf("while down: got %v, want ErrUnavailable", err)
		}
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("1000 takes while down took %v, want no call to Redis (well under 100ms)", d)
	}
	if rule, n := b.Unavailable(); rule != configs.OnUnavailableLocal || n != 1 {
		t.Errorf("got rule %q replicas %d, want local, 1", rule, n)
	}
	srv.Restart()
	await.Until(t, 5*time.Second, "Redis marked up again", s.Up)
	if up.v.Load() != 1 {
		t.Errorf("got redis_up %d after restart, want 1", up.v.Load())
	}
	await.Until(t, 5*time.Second, "a take answered by the restarted Redis", func() bool {
		ok, _, err := b.Take()
		return ok && err == nil
	})
}

// BenchmarkTake measures one admitted shared-bucket take against a real
// redis-server on loopback: its allocations are go-redis's.
func BenchmarkTake(b *testing.B) {
	srv := redistest.Start(b)
	s := openStore(b, srv.Addr, "bench:", nil)
	bk := s.Bucket("acme", 1e9, 1e9)
	if ok, _, err := bk.Take(); !ok || err != nil {
		b.Fatalf("got ok=%v err=%v", ok, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := bk.Take(); err != nil {
			b.Fatal(err)
		}
	}
}
