package upstream

import (
	"testing"

	"github.com/modelgate/modelgate/configs"
)

func TestHealthyStatus(t *testing.T) {
	for _, tt := range []struct {
		code          int
		ok, wantMissg bool
	}{
		{200, true, false}, {204, true, false},
		{404, true, true}, {405, true, true}, {501, true, true},
		{500, false, false}, {503, false, false}, {429, false, false}, {401, false, false}, {302, false, false},
	} {
		ok, missing := healthyStatus(tt.code)
		if ok != tt.ok || missing != tt.wantMissg {
			t.Errorf("healthyStatus(%d): got %v, %v; want %v, %v", tt.code, ok, missing, tt.ok, tt.wantMissg)
		}
	}
}

func TestHealthState(t *testing.T) {
	cfg := configs.HealthCheck{UnhealthyAfter: 2, HealthyAfter: 3}
	h := healthState{up: true}
	steps := []struct {
		ok            bool
		wantUp, wantC bool
	}{
		{false, true, false}, {true, true, false}, {false, true, false}, {false, false, true},
		{true, false, false}, {true, false, false}, {false, false, false},
		{true, false, false}, {true, false, false}, {true, true, true}, {true, true, false},
	}
	for i, s := range steps {
		changed := h.observe(s.ok, cfg)
		if h.up != s.wantUp || changed != s.wantC {
			t.Fatalf("step %d (ok=%v): got up=%v changed=%v, want up=%v changed=%v", i, s.ok, h.up, changed, s.wantUp, s.wantC)
		}
	}
}
