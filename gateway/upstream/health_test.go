package upstream

import (
	"testing"

	"github.com/modelgate/modelgate/configs"
)

func TestHealthState(t *testing.T) {
	cfg := configs.HealthCheck{UnhealthyAfter: 2, HealthyAfter: 3}
	h := NewHealthState(true)
	steps := []struct {
		ok            bool
		wantUp, wantC bool
	}{
		{false, true, false}, {true, true, false}, {false, true, false}, {false, false, true},
		{true, false, false}, {true, false, false}, {false, false, false},
		{true, false, false}, {true, false, false}, {true, true, true}, {true, true, false},
	}
	for i, s := range steps {
		changed := h.Observe(s.ok, cfg)
		if h.Up() != s.wantUp || changed != s.wantC {
			t.Fatalf("step %d (ok=%v): got up=%v changed=%v, want up=%v changed=%v", i, s.ok, h.Up(), changed, s.wantUp, s.wantC)
		}
	}
}
