package rollout

import (
	"fmt"
	"maps"
	"testing"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/router"
)

func TestWeightsAt(t *testing.T) {
	for _, tc := range []struct {
		before map[string]int
		pct    int
		want   map[string]int
	}{
		{map[string]int{"v1": 100, "v2": 0}, 0, map[string]int{"v1": 100, "v2": 0}},
		{map[string]int{"v1": 100, "v2": 0}, 5, map[string]int{"v1": 95, "v2": 5}},
		{map[string]int{"v1": 100, "v2": 0}, 25, map[string]int{"v1": 75, "v2": 25}},
		{map[string]int{"v1": 100, "v2": 0}, 100, map[string]int{"v1": 0, "v2": 100}},
		{map[string]int{"v1": 60, "v0": 40, "v2": 0}, 5, map[string]int{"v1": 57, "v0": 38, "v2": 5}},
		// The canary's own weight before the rollout does not count.
		{map[string]int{"v1": 90, "v2": 10}, 50, map[string]int{"v1": 50, "v2": 50}},
		{map[string]int{"v1": 90, "v2": 10}, 0, map[string]int{"v1": 90, "v2": 0}},
	} {
		got := weightsAt(tc.before, "v2", tc.pct)
		if !maps.Equal(got, tc.want) {
			t.Errorf("weightsAt(%v, %d%%) = %v, want %v", tc.before, tc.pct, got, tc.want)
		}
		if tc.pct > 0 && tc.pct < 100 {
			if s := share(got, "v2"); s != float64(tc.pct) {
				t.Errorf("weightsAt(%v, %d%%): canary share %g%%", tc.before, tc.pct, s)
			}
		}
	}
}

// TestStickyUsersMoveOneWay routes 20,000 sticky users through the real
// router at every step of a rollout: while the canary's percent rises a
// user only ever moves from its version to the canary, and the weights
// of a rollback put every user back where it was before the rollout.
func TestStickyUsersMoveOneWay(t *testing.T) {
	before := map[string]int{"v0": 30, "v1": 70, "v2": 0}
	split := func(w map[string]int) *router.Split {
		m := &configs.Model{Name: "fraud"}
		for _, v := range []string{"v0", "v1", "v2"} {
			m.Versions = append(m.Versions, configs.Version{Name: v, Weight: w[v]})
		}
		return router.NewSplit("acme", m)
	}
	const users = 20000
	pick := func(s *router.Split) []string {
		out := make([]string, users)
		for u := range out {
			out[u] = s.Name(s.PickSticky(fmt.Appendf(nil, "user-%d", u)))
		}
		return out
	}
	start := pick(split(before))
	prev := start
	for _, pct := range []int{5, 25, 50, 100} {
		now := pick(split(weightsAt(before, "v2", pct)))
		onCanary := 0
		for u := range now {
			if now[u] != prev[u] && now[u] != "v2" {
				t.Fatalf("at %d%% user %d moved from %s to %s: users may only move to the canary", pct, u, prev[u], now[u])
			}
			if now[u] == "v2" {
				onCanary++
			}
		}
		if got := float64(onCanary) / users * 100; got < float64(pct)-2 || got > float64(pct)+2 {
			t.Errorf("at %d%%: %.1f%% of users on the canary", pct, got)
		}
		prev = now
	}
	back := pick(split(weightsAt(before, "v2", 0)))
	for u := range back {
		if back[u] != start[u] {
			t.Fatalf("after rollback user %d is on %s, was on %s before the rollout", u, back[u], start[u])
		}
	}
}

func TestOverlaid(t *testing.T) {
	m := configs.Model{Name: "fraud", Timeout: 3e9, Versions: []configs.Version{{Name: "v1", Weight: 100}, {Name: "v2", Weight: 0}}}
	got, changed := overlaid(m, nil, map[string]int{"v1": 95, "v2": 5}, "v2", false)
	if !changed || got.Versions[0].Weight != 95 || got.Versions[1].Weight != 5 || got.Shadow != nil {
		t.Fatalf("overlaid = %+v, %v", got, changed)
	}
	if m.Versions[0].Weight != 100 {
		t.Fatal("overlaid modified its argument")
	}
	got, changed = overlaid(m, nil, map[string]int{"v1": 100, "v2": 0}, "v2", true)
	if !changed || got.Shadow == nil || got.Shadow.Version != "v2" || got.Shadow.SharePercent() != 100 || got.Shadow.Timeout != m.Timeout {
		t.Fatalf("shadowing overlay = %+v", got.Shadow)
	}
	if _, changed := overlaid(m, nil, map[string]int{"v1": 100, "v2": 0}, "v2", false); changed {
		t.Fatal("an overlay with the model's own weights changed it")
	}
	// After the shadow step, the rollout's shadow goes and the file's
	// (none here) comes back.
	if back, changed := overlaid(got, nil, map[string]int{"v1": 95, "v2": 5}, "v2", false); !changed || back.Shadow != nil {
		t.Fatalf("after shadowing: %+v", back.Shadow)
	}
	own := &configs.Shadow{Version: "v2", Tolerance: 0.1}
	if got, _ := overlaid(m, own, map[string]int{"v1": 100, "v2": 0}, "v2", true); got.Shadow.Tolerance != 0.1 {
		t.Fatal("the file's shadow of the canary was replaced")
	}
	other := &configs.Shadow{Version: "v1"}
	if got, _ := overlaid(m, other, map[string]int{"v1": 100, "v2": 0}, "v2", false); got.Shadow != other {
		t.Fatal("the file's shadow did not come back after the shadow step")
	}
}
