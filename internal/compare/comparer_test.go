package compare

import (
	"math/bits"
	"reflect"
	"testing"
)

// TestComparerReuse checks that one Comparer, reused across answers of
// every shape (matching, differing, invalid), returns what a fresh one does.
func TestComparerReuse(t *testing.T) {
	bodies := [][2]string{
		{oipBody(`[0.7,0.2]`, `[0.3,0.7,0.8,0.2]`), oipBody(`[0.71,0.2]`, `[0.29,0.71,0.8,0.2]`)},
		{`{"predictions":[[0.3,0.7],[0.9,0.1]]}`, `{"predictions":[[0.3,0.7],[0.4,0.6]]}`},
		{`{"a":{"b":[1,{"c":"x","c":"y"}]},"id":1}`, `{"a":{"b":[1,{"c":"y"}]},"id":2}`},
		{`{"a":`, `{}`},
		{`[1e400]`, `[5]`},
		{sklearnBody("a", `[1,2,0]`), sklearnBody("b", `[1,0,0]`)},
		{mixedBody(`[0.1,0.7,0.2,0.6,0.3,0.1]`, `[1,0]`), mixedBody(`[0.1,0.7,0.2,0.3,0.6,0.1]`, `[1,1]`)},
		{`{"predictions":["setosa","virginica"]}`, `{"predictions":["setosa","versicolor"]}`},
		{oipBody(`[0.7,0.2]`, `[0.3,0.7,0.8,0.2]`), oipBody(`[0.7,0.2]`, `[0.3,0.7,0.8,0.2]`)},
	}
	o := Options{Tolerance: 0.001, IgnoreFields: []string{"id"}}
	c := New()
	for round := 0; round < 2; round++ {
		for _, b := range bodies {
			got, gotErr := c.Compare([]byte(b[0]), []byte(b[1]), o)
			want, wantErr := new(Comparer).Compare([]byte(b[0]), []byte(b[1]), o)
			if gotErr != wantErr || !reflect.DeepEqual(got, want) {
				t.Errorf("round %d, %s vs %s: got %+v, %v; want %+v, %v", round, b[0], b[1], got, gotErr, want, wantErr)
			}
		}
	}
}

// TestCompareAllocs pins the steady state of a warm Comparer: matching
// answers allocate nothing; differing ones only the Diffs they record.
func TestCompareAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, bb := range benchBodies {
		c := New()
		p, s := []byte(bb.primary), []byte(bb.shadow)
		res, _ := c.Compare(p, s, bb.opts)
		allocs := testing.AllocsPerRun(100, func() { _, _ = c.Compare(p, s, bb.opts) })
		// Matching: none. Differing: at most one path and two values
		// per kept diff, plus each growth of Diffs (capacity 1, 2, 4...).
		want := 0.0
		if n := len(res.Diffs); n > 0 {
			want = float64(3*n + bits.Len(uint(n-1)) + 1)
		}
		if allocs > want {
			t.Errorf("%s: got %.0f allocations per comparison, want at most %.0f", bb.name, allocs, want)
		}
	}
}
