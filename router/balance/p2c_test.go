package balance

import (
	"math/rand/v2"
	"testing"
)

func TestP2CPick(t *testing.T) {
	// seq returns an IntN that yields the given values in order.
	seq := func(vals ...int) func(int) int {
		return func(n int) int {
			v := vals[0]
			vals = vals[1:]
			if v >= n {
				panic("test sequence out of range")
			}
			return v
		}
	}
	tests := []struct {
		desc  string
		loads []int64
		intN  func(int) int
		want  int
	}{
		{desc: "none", loads: nil, want: -1},
		{desc: "one", loads: []int64{7}, want: 0},
		{desc: "second sample less loaded", loads: []int64{5, 1, 9}, intN: seq(0, 0), want: 1},
		{desc: "first sample less loaded", loads: []int64{5, 1, 9}, intN: seq(1, 1), want: 1},
		{desc: "tie keeps first sample", loads: []int64{3, 3, 3}, intN: seq(2, 0), want: 2},
		{desc: "second index skips the first", loads: []int64{0, 4, 2}, intN: seq(1, 1), want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := (P2C{IntN: tt.intN}).Pick(tt.loads); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestP2CDistribution(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	p := P2C{IntN: r.IntN}
	loads := []int64{0, 10, 10, 10, 50}
	got := make([]int, len(loads))
	const n = 20000
	for range n {
		got[p.Pick(loads)]++
	}
	// The idle replica wins whenever it is sampled: 1-(4/5)(3/4) = 40%.
	if frac := float64(got[0]) / n; frac < 0.37 || frac > 0.43 {
		t.Errorf("idle replica got %.3f of picks, want about 0.40 (%v)", frac, got)
	}
	if got[4] != 0 {
		t.Errorf("most-loaded replica got %d picks, want 0 (%v)", got[4], got)
	}
	// Equal loads spread evenly.
	even := make([]int, 4)
	for range n {
		even[p.Pick([]int64{2, 2, 2, 2})]++
	}
	for i, c := range even {
		if frac := float64(c) / n; frac < 0.22 || frac > 0.28 {
			t.Errorf("equal loads: candidate %d got %.3f of picks, want about 0.25 (%v)", i, frac, even)
		}
	}
}

func BenchmarkP2C(b *testing.B) {
	loads := []int64{3, 1, 4, 1, 5}
	b.ReportAllocs()
	for b.Loop() {
		_ = P2C{}.Pick(loads)
	}
}
