package tenants

import (
	"errors"
	"testing"
	"time"

	"github.com/modelgate/modelgate/configs"
)

// downBucket is a shared bucket whose store never answers: what a
// limiter sees while Redis is down.
type downBucket struct {
	rule     string
	replicas int
}

func (d downBucket) Take() (bool, time.Duration, error) { return false, 0, errors.New("down") }
func (d downBucket) Unavailable() (string, int)         { return d.rule, d.replicas }

// TestSharedLimiterFallback checks each on_unavailable rule: local
// enforces rate ÷ replicas and burst ÷ replicas (rounded up), open admits,
// closed refuses with a 1 s wait.
func TestSharedLimiterFallback(t *testing.T) {
	l := configs.Limits{RequestsPerSecond: 30, Burst: 10, Scope: configs.ScopeGlobal}
	now := time.Unix(1000, 0)
	tests := []struct {
		desc     string
		rule     string
		replicas int
		burst    int // admitted at once
		wait     time.Duration
	}{
		{"local, 3 replicas: burst ceil(10/3), 10/s", configs.OnUnavailableLocal, 3, 4, 100 * time.Millisecond},
		{"local, count unknown: the whole limit", configs.OnUnavailableLocal, 1, 10, time.Second / 30},
		{"closed: nothing", configs.OnUnavailableClosed, 3, 0, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			lim := NewSharedLimiter(l, nil, downBucket{tt.rule, tt.replicas})
			for i := range tt.burst {
				if ok, _ := lim.TakeToken(now); !ok {
					t.Fatalf("take %d: refused, want admitted (burst %d)", i, tt.burst)
				}
			}
			ok, wait := lim.TakeToken(now)
			if ok {
				t.Fatalf("take past the burst: admitted, want refused")
			}
			if d := wait - tt.wait; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("got wait %v, want %v", wait, tt.wait)
			}
		})
	}
	t.Run("open: everything", func(t *testing.T) {
		lim := NewSharedLimiter(l, nil, downBucket{configs.OnUnavailableOpen, 3})
		for i := range 1000 {
			if ok, _ := lim.TakeToken(now); !ok {
				t.Fatalf("take %d: refused, want admitted", i)
			}
		}
	})
}
