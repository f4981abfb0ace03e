package router

import (
	"fmt"
	"math"
	"testing"

	"github.com/modelgate/modelgate/configs"
)

func model(name string, weights ...int) *configs.Model {
	m := &configs.Model{Name: name}
	for i, w := range weights {
		m.Versions = append(m.Versions, configs.Version{Name: fmt.Sprintf("v%d", i+1), Weight: w})
	}
	return m
}

// within reports whether got is within tol (absolute) of want.
func within(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

func TestPickFollowsWeights(t *testing.T) {
	tests := []struct {
		desc    string
		weights []int
	}{
		{desc: "90/10 canary", weights: []int{90, 10}},
		{desc: "three ways", weights: []int{50, 30, 20}},
		{desc: "zero weight gets nothing", weights: []int{1, 0, 3}},
		{desc: "single version", weights: []int{7}},
	}
	const n = 200_000
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			s := NewSplit("acme", model("fraud", tt.weights...))
			counts := make([]int, s.Len())
			for range n {
				counts[s.Pick()]++
			}
			total := 0
			for _, w := range tt.weights {
				total += w
			}
			for i, w := range tt.weights {
				want := float64(w) / float64(total)
				got := float64(counts[i]) / n
				if w == 0 && counts[i] != 0 {
					t.Errorf("version %s of weight 0 got %d picks, want 0", s.Name(i), counts[i])
				}
				// Standard deviation of a share is at most 0.5/sqrt(n) ≈ 0.0011;
				// 0.006 is over five of them.
				if !within(got, want, 0.006) {
					t.Errorf("version %s: got share %.4f, want %.4f", s.Name(i), got, want)
				}
			}
		})
	}
}

func TestPickStickyDeterministic(t *testing.T) {
	a := NewSplit("acme", model("fraud", 50, 30, 20))
	b := NewSplit("acme", model("fraud", 50, 30, 20)) // another replica
	other := NewSplit("globex", model("fraud", 50, 30, 20))
	differ := 0
	for i := range 2000 {
		key := fmt.Appendf(nil, "user-%d", i)
		got := a.PickSticky(key)
		for range 3 {
			if again := a.PickSticky(key); again != got {
				t.Fatalf("key %s: got %d then %d from the same split", key, got, again)
			}
		}
		if rep := b.PickSticky(key); rep != got {
			t.Fatalf("key %s: got %d on one replica, %d on another", key, got, rep)
		}
		if other.PickSticky(key) != got {
			differ++
		}
	}
	// Another tenant's model hashes users independently.
	if differ < 500 {
		t.Errorf("only %d of 2000 keys land differently for another tenant, want users spread per tenant/model", differ)
	}
}

// TestPickStickyStable pins a few assignments so that a change to the hash
// (which would move users between versions on upgrade) fails loudly.
func TestPickStickyStable(t *testing.T) {
	s := NewSplit("acme", model("fraud", 50, 50))
	got := ""
	for i := range 16 {
		got += s.Name(s.PickSticky(fmt.Appendf(nil, "user-%d", i)))[1:]
	}
	const want = "1111121122122121"
	if got != want {
		t.Errorf("got assignments %s, want %s: the sticky hash changed, which moves users on upgrade", got, want)
	}
}

func TestPickStickyFollowsWeights(t *testing.T) {
	weights := []int{70, 20, 10, 0}
	s := NewSplit("acme", model("fraud", weights...))
	const n = 100_000
	counts := make([]int, s.Len())
	for i := range n {
		counts[s.PickSticky(fmt.Appendf(nil, "user-%d", i))]++
	}
	for i, w := range weights {
		got := float64(counts[i]) / n
		if want := float64(w) / 100; !within(got, want, 0.01) {
			t.Errorf("version %s: got share %.4f of keys, want %.2f", s.Name(i), got, want)
		}
	}
}

// TestPickStickyMonotone checks the canary property: raising one version's
// weight (the others unchanged) moves keys only to that version, never away
// from it, and moves none between the others.
func TestPickStickyMonotone(t *testing.T) {
	steps := [][]int{
		{100, 0, 0},
		{100, 5, 0},
		{100, 10, 0},
		{100, 10, 5},
		{100, 50, 5},
		{100, 50, 40},
		{100, 500, 40},
		{300, 500, 40},
	}
	const keys = 20_000
	prev := NewSplit("acme", model("fraud", steps[0]...))
	for _, w := range steps[1:] {
		next := NewSplit("acme", model("fraud", w...))
		// Which version's weight went up in this step?
		raised := -1
		for i := range w {
			if float64(w[i]) > prev.weights[i] {
				raised = i
			}
		}
		moved := 0
		for k := range keys {
			key := fmt.Appendf(nil, "user-%d", k)
			before, after := prev.PickSticky(key), next.PickSticky(key)
			if before == after {
				continue
			}
			moved++
			if after != raised {
				t.Fatalf("weights %v: key %s moved from %s to %s, want moves only to %s",
					w, key, prev.Name(before), next.Name(after), next.Name(raised))
			}
		}
		if moved == 0 {
			t.Errorf("weights %v: no key moved to %s", w, next.Name(raised))
		}
		prev = next
	}
}

func TestLookupPinned(t *testing.T) {
	s := NewSplit("acme", model("fraud", 90, 10, 0))
	for _, tt := range []struct {
		name string
		want int
		ok   bool
	}{{"v1", 0, true}, {"v3", 2, true}, {"v4", 0, false}, {"V1", 0, false}, {"", 0, false}} {
		got, ok := s.Lookup([]byte(tt.name))
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("Lookup(%q): got %d, %v; want %d, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestSample(t *testing.T) {
	s := NewSplit("acme", model("fraud", 1))
	sampled := 0
	const n = 20_000
	for i := range n {
		h := KeyHash(s.Prefix(), fmt.Appendf(nil, "user-%d", i))
		got := Sample(25, h, true)
		if Sample(25, h, true) != got {
			t.Fatalf("user-%d: sampling with a key is not deterministic", i)
		}
		// A user sampled at 25% is also sampled at any larger percent.
		if got && !Sample(60, h, true) {
			t.Fatalf("user-%d sampled at 25%% but not at 60%%", i)
		}
		if got {
			sampled++
		}
	}
	if share := float64(sampled) / n; !within(share, 0.25, 0.02) {
		t.Errorf("got keyed share %.3f, want 0.25", share)
	}
	random := 0
	for range n {
		if Sample(10, 0, false) {
			random++
		}
	}
	if share := float64(random) / n; !within(share, 0.10, 0.015) {
		t.Errorf("got random share %.3f, want 0.10", share)
	}
	if Sample(0, 1, true) || !Sample(100, 1, true) || Sample(0, 0, false) || !Sample(100, 0, false) {
		t.Error("0% must sample nothing and 100% everything")
	}
}

func BenchmarkPick(b *testing.B) {
	s := NewSplit("acme", model("fraud", 90, 10))
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Pick()
	}
}

func BenchmarkPickSticky(b *testing.B) {
	s := NewSplit("acme", model("fraud", 80, 15, 5))
	key := []byte("user-1234567")
	b.ReportAllocs()
	for b.Loop() {
		_ = s.PickSticky(key)
	}
}

// TestPickStickyCanaryRollout walks a two-version canary from 0% to 100% the
// way operators do it (weight moved from stable to canary): a user who has
// reached the canary never goes back to stable.
func TestPickStickyCanaryRollout(t *testing.T) {
	const keys = 20_000
	onCanary := make([]bool, keys)
	for _, canary := range []int{0, 1, 5, 10, 25, 50, 75, 99, 100} {
		s := NewSplit("acme", model("fraud", 100-canary, canary))
		n := 0
		for k := range keys {
			got := s.PickSticky(fmt.Appendf(nil, "user-%d", k)) == 1
			if onCanary[k] && !got {
				t.Fatalf("canary at %d%%: user-%d went back from the canary to stable", canary, k)
			}
			onCanary[k] = got
			if got {
				n++
			}
		}
		if share := 100 * float64(n) / keys; !within(share, float64(canary), 1.5) {
			t.Errorf("canary at %d%%: got %.1f%% of users on it", canary, share)
		}
	}
}
