package router

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/configs"
)

// weighted builds model name from "v1=90 v2=10".
func weighted(name, spec string) *configs.Model {
	m := &configs.Model{Name: name}
	for _, f := range strings.Fields(spec) {
		v, w, _ := strings.Cut(f, "=")
		n, err := strconv.Atoi(w)
		if err != nil {
			panic(err)
		}
		m.Versions = append(m.Versions, configs.Version{Name: v, Weight: n})
	}
	return m
}

// bruteFlows sends keys user-0 … user-(n-1) through real splits of from and
// to and counts each (version under from, version under to).
func bruteFlows(tenant string, from, to *configs.Model, n int) map[[2]string]int {
	a, b := NewSplit(tenant, from), NewSplit(tenant, to)
	counts := map[[2]string]int{}
	key := make([]byte, 0, 32)
	for k := range n {
		key = strconv.AppendInt(append(key[:0], "user-"...), int64(k), 10)
		counts[[2]string{a.Name(a.PickSticky(key)), b.Name(b.PickSticky(key))}]++
	}
	return counts
}

// stickyCases are weight changes checked against a brute-force count.
var stickyCases = []struct {
	desc     string
	from, to *configs.Model
}{
	{"90/10 → 75/25", weighted("fraud", "v1=90 v2=10"), weighted("fraud", "v1=75 v2=25")},
	{"50/50 → 0/100", weighted("fraud", "v1=50 v2=50"), weighted("fraud", "v1=0 v2=100")},
	{"canary 90/10 → 100/0 (rolled back)", weighted("fraud", "v1=90 v2=10"), weighted("fraud", "v1=100 v2=0")},
	{"version added: 90/10 → 80/10/10", weighted("fraud", "v1=90 v2=10"), weighted("fraud", "v1=80 v2=10 v3=10")},
	{"version removed: 80/10/10 → 90/10", weighted("fraud", "v1=80 v2=10 v3=10"), weighted("fraud", "v1=90 v2=10")},
	{"version renamed: v1/v2 50/50 → v1/v3 50/50", weighted("fraud", "v1=50 v2=50"), weighted("fraud", "v1=50 v3=50")},
	{"3 versions: 50/30/20 → 20/30/50", weighted("fraud", "v1=50 v2=30 v3=20"), weighted("fraud", "v1=20 v2=30 v3=50")},
	{"3 versions: 34/33/33 → 10/80/10", weighted("fraud", "v1=34 v2=33 v3=33"), weighted("fraud", "v1=10 v2=80 v3=10")},
	{"5 versions reshuffled", weighted("fraud", "a=5 b=40 c=25 d=20 e=10"), weighted("fraud", "a=30 b=10 c=25 d=5 e=30 f=7")},
	{"1 version → 2: 100 → 90/10", weighted("fraud", "v1=1"), weighted("fraud", "v1=90 v2=10")},
	{"2 versions → 1: 90/10 → v2 only", weighted("fraud", "v1=90 v2=10"), weighted("fraud", "v2=1")},
	{"all weight to a new version", weighted("fraud", "v1=90 v2=10"), weighted("fraud", "v1=0 v2=0 v3=100")},
	{"weight-0 version raised: 100/0/0 → 100/50/0", weighted("fraud", "v1=100 v2=0 v3=0"), weighted("fraud", "v1=100 v2=50 v3=0")},
	{"model renamed: 50/50 under another name", weighted("fraud", "v1=50 v2=50"), weighted("fraud2", "v1=50 v2=50")},
	{"model renamed and reweighted", weighted("fraud", "v1=90 v2=10"), weighted("fraud2", "v1=75 v2=25")},
}

// TestStickySwitchShareBruteForce checks StickySwitchShare and every
// StickyFlows share against 100,000 synthetic keys through the real
// splits, each within 4 standard errors (sqrt(p(1−p)/n)); a share of 0
// or 1 must be met exactly. Run with -v for the table.
func TestStickySwitchShareBruteForce(t *testing.T) {
	const n = 100_000
	t.Logf("%-46s %9s %9s %8s %6s", "change", "formula", "brute", "4·SE", "z")
	for _, tc := range stickyCases {
		t.Run(tc.desc, func(t *testing.T) {
			counts := bruteFlows("acme", tc.from, tc.to, n)
			switched := 0
			for k, c := range counts {
				if k[0] != k[1] {
					switched += c
				}
			}
			want := StickySwitchShare("acme", tc.from, tc.to)
			checkShare(t, "switch share", want, switched, n)
			t.Logf("%-46s %9.5f %9.5f %8.5f %6.2f", tc.desc, want, float64(switched)/n,
				4*se(want, n), z(want, switched, n))
			flows := StickyFlows("acme", tc.from, tc.to)
			total := 0.0
			seen := map[[2]string]bool{}
			for _, f := range flows {
				k := [2]string{f.From, f.To}
				seen[k] = true
				total += f.Share
				checkShare(t, "flow "+f.From+" → "+f.To, f.Share, counts[k], n)
				t.Logf("    %-42s %9.5f %9.5f %8.5f %6.2f", f.From+" → "+f.To, f.Share,
					float64(counts[k])/n, 4*se(f.Share, n), z(f.Share, counts[k], n))
			}
			for k, c := range counts {
				if k[0] != k[1] && !seen[k] {
					t.Errorf("%d keys moved %s → %s, a flow StickyFlows does not have", c, k[0], k[1])
				}
			}
			if math.Abs(total-want) > 1e-12 {
				t.Errorf("flows add up to %.15f, switch share is %.15f", total, want)
			}
		})
	}
}

func se(p float64, n int) float64 { return math.Sqrt(p * (1 - p) / float64(n)) }

func z(p float64, count, n int) float64 {
	if s := se(p, n); s > 0 {
		return (float64(count)/float64(n) - p) / s
	}
	return 0
}

// checkShare fails unless count of n is within 4 standard errors of p
// (exactly p·n when p is 0 or 1).
func checkShare(t *testing.T, what string, p float64, count, n int) {
	t.Helper()
	got := float64(count) / float64(n)
	if p == 0 || p == 1 {
		if got != p {
			t.Errorf("%s: got %d of %d keys, want exactly %v", what, count, n, p)
		}
		return
	}
	if d := math.Abs(got - p); d > 4*se(p, n) {
		t.Errorf("%s: got %.5f of keys, formula %.5f: off by %.1f standard errors", what, got, p, d/se(p, n))
	}
}

// TestStickySwitchShareExact pins the cases with a closed answer.
func TestStickySwitchShareExact(t *testing.T) {
	tests := []struct {
		desc     string
		from, to *configs.Model
		want     float64
	}{
		{"identical", weighted("fraud", "v1=90 v2=10"), weighted("fraud", "v1=90 v2=10"), 0},
		{"same weights in another order", weighted("fraud", "v1=50 v2=30 v3=20"), weighted("fraud", "v3=20 v1=50 v2=30"), 0},
		{"all scaled", weighted("fraud", "v1=90 v2=10"), weighted("fraud", "v1=9 v2=1"), 0},
		{"weight-0 version added", weighted("fraud", "v1=90 v2=10"), weighted("fraud", "v1=90 v2=10 v3=0"), 0},
		{"one version reweighted", weighted("fraud", "v1=1"), weighted("fraud", "v1=7"), 0},
		{"one version renamed", weighted("fraud", "v1=1"), weighted("fraud", "v2=1"), 1},
		{"all weight to a new version", weighted("fraud", "v1=90 v2=10"), weighted("fraud", "v1=0 v2=0 v3=100"), 1},
		// Raising one weight moves (its new share − its old share) of keys.
		{"90/10 → 75/25", weighted("fraud", "v1=90 v2=10"), weighted("fraud", "v1=75 v2=25"), 0.15},
		{"50/50 → 0/100", weighted("fraud", "v1=50 v2=50"), weighted("fraud", "v1=0 v2=100"), 0.5},
		{"1 version → 90/10", weighted("fraud", "v1=1"), weighted("fraud", "v1=90 v2=10"), 0.1},
		// A renamed version is a new hash: of v2's half, v1 gets half back.
		{"v2 renamed v3 at 50/50", weighted("fraud", "v1=50 v2=50"), weighted("fraud", "v1=50 v3=50"), 2.0 / 3},
		// Model renamed: independent picks, 1 − (½·½ + ½·½).
		{"model renamed", weighted("fraud", "v1=50 v2=50"), weighted("fraud2", "v1=50 v2=50"), 0.5},
		{"model added", nil, weighted("fraud", "v1=1"), 0},
		{"model removed", weighted("fraud", "v1=1"), nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got := StickySwitchShare("acme", tt.from, tt.to)
			if math.Abs(got-tt.want) > 1e-15 || (tt.want == 0 || tt.want == 1) && got != tt.want {
				t.Errorf("got %.17g, want %v", got, tt.want)
			}
		})
	}
}

// TestStickyFlowsAddUp checks on random weightings (zero weights, one
// version and no positive weight included) that the flows and the stays
// are a distribution: the flows sum to the switch share and, with
// each version's stays, every version's share under from and under to.
func TestStickyFlowsAddUp(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	names := []string{"a", "b", "c", "d", "e", "f"}
	random := func() *configs.Model {
		m := &configs.Model{Name: "fraud"}
		for _, nm := range names[:1+r.IntN(len(names))] {
			w := r.IntN(100)
			if r.IntN(4) == 0 {
				w = 0
			}
			m.Versions = append(m.Versions, configs.Version{Name: nm, Weight: w})
		}
		return m
	}
	for range 2000 {
		from, to := random(), random()
		w, v := stickyWeights(from), stickyWeights(to)
		share := StickySwitchShare("acme", from, to)
		outOf, into := map[string]float64{}, map[string]float64{}
		total := 0.0
		for _, f := range StickyFlows("acme", from, to) {
			outOf[f.From] += f.Share
			into[f.To] += f.Share
			total += f.Share
		}
		if math.Abs(total-share) > 1e-9 {
			t.Fatalf("%v → %v: flows add up to %.12f, switch share %.12f", w, v, total, share)
		}
		for _, i := range unionNames(w, v) {
			stay := 0.0
			if w[i] > 0 && v[i] > 0 {
				stay = stays(w, v, i)
			}
			if got, want := stay+outOf[i], w[i]/sum(w); math.Abs(got-want) > 1e-9 {
				t.Fatalf("%v → %v: %s keeps %.12f and loses %.12f, want its share %.12f", w, v, i, stay, outOf[i], want)
			}
			if got, want := stay+into[i], v[i]/sum(v); math.Abs(got-want) > 1e-9 {
				t.Fatalf("%v → %v: %s keeps %.12f and gains %.12f, want its share %.12f", w, v, i, stay, into[i], want)
			}
		}
	}
}

// stays is P(i under both), the closed form of StickySwitchShare's doc.
func stays(w, v map[string]float64, i string) float64 {
	d := 1.0
	for _, k := range unionNames(w, v) {
		if k != i {
			d += max(w[k]/w[i], v[k]/v[i])
		}
	}
	return 1 / d
}

// TestStickyFlowsMonotone checks PickSticky's promise by brute force and
// by formula: raising one version's weight moves keys only to it, and
// lowering one moves keys only away from it.
func TestStickyFlowsMonotone(t *testing.T) {
	steps := []string{
		"v1=100 v2=0 v3=0",
		"v1=100 v2=5 v3=0",
		"v1=100 v2=10 v3=0",
		"v1=100 v2=10 v3=5",
		"v1=100 v2=50 v3=5",
		"v1=100 v2=50 v3=40",
		"v1=100 v2=500 v3=40",
		"v1=300 v2=500 v3=40",
	}
	const n = 20_000
	for s := 1; s < len(steps); s++ {
		for _, dir := range []struct {
			name     string
			from, to string
		}{{"raised", steps[s-1], steps[s]}, {"lowered", steps[s], steps[s-1]}} {
			from, to := weighted("fraud", dir.from), weighted("fraud", dir.to)
			changed := ""
			for i, v := range from.Versions {
				if v.Weight != to.Versions[i].Weight {
					changed = v.Name
				}
			}
			ok := func(a, b string) bool {
				if dir.name == "raised" {
					return b == changed
				}
				return a == changed
			}
			moved := 0
			for k, c := range bruteFlows("acme", from, to, n) {
				if k[0] == k[1] {
					continue
				}
				moved += c
				if !ok(k[0], k[1]) {
					t.Errorf("%s → %s (%s %s): %d keys moved %s → %s", dir.from, dir.to, changed, dir.name, c, k[0], k[1])
				}
			}
			if moved == 0 {
				t.Errorf("%s → %s: no key moved", dir.from, dir.to)
			}
			for _, f := range StickyFlows("acme", from, to) {
				if !ok(f.From, f.To) {
					t.Errorf("%s → %s (%s %s): formula moves %.6f %s → %s", dir.from, dir.to, changed, dir.name, f.Share, f.From, f.To)
				}
			}
		}
	}
}

func ExampleStickyFlows() {
	from := &configs.Model{Name: "fraud", Versions: []configs.Version{{Name: "v1", Weight: 90}, {Name: "v2", Weight: 10}}}
	to := &configs.Model{Name: "fraud", Versions: []configs.Version{{Name: "v1", Weight: 75}, {Name: "v2", Weight: 25}}}
	fmt.Printf("%.1f%% of sticky users switch\n", 100*StickySwitchShare("acme", from, to))
	for _, f := range StickyFlows("acme", from, to) {
		fmt.Printf("%.1f%% move %s → %s\n", 100*f.Share, f.From, f.To)
	}
	// Output:
	// 15.0% of sticky users switch
	// 15.0% move v1 → v2
}
