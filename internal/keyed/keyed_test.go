package keyed

import (
	"slices"
	"testing"
)

type val struct {
	key      string
	released bool
}

func TestGenerations(t *testing.T) {
	var set Set
	var released []string
	st := Register(&set, func(k string, v *val) {
		v.released = true
		released = append(released, k)
	})
	made := 0
	mk := func(k string) func() *val {
		return func() *val { made++; return &val{key: k} }
	}

	g1 := set.Begin()
	a := Get(st, g1, "a", mk("a"))
	b := Get(st, g1, "b", mk("b"))
	if again := Get(st, g1, "a", mk("a")); again != a {
		t.Fatalf("second Get in one generation made a new value")
	}
	if n := g1.Commit(); n != 0 || made != 2 {
		t.Fatalf("first commit released %d, made %d; want 0 and 2", n, made)
	}

	g2 := set.Begin()
	if got := Get(st, g2, "a", mk("a")); got != a {
		t.Fatalf("a was not carried over to the next generation")
	}
	c := Get(st, g2, "c", mk("c"))
	if n := g2.Commit(); n != 1 || !b.released || a.released || c.released {
		t.Fatalf("second commit released %d (%v); want only b", n, released)
	}
	if _, ok := Peek(st, "b"); ok {
		t.Fatalf("b still held after release")
	}

	if n := set.Close(); n != 2 || !a.released || !c.released {
		t.Fatalf("Close released %d; want a and c", n)
	}
	slices.Sort(released)
	if want := []string{"a", "b", "c"}; !slices.Equal(released, want) {
		t.Fatalf("released %v, want %v", released, want)
	}
}

// A generation that touches none of a store's values still sweeps it: a
// config without shadows must release every shadow pool.
func TestUntouchedStoreIsSwept(t *testing.T) {
	var set Set
	used := Register[string, int](&set, nil)
	other := 0
	unused := Register(&set, func(string, int) { other++ })
	g := set.Begin()
	Get(used, g, "x", func() int { return 1 })
	Get(unused, g, "y", func() int { return 2 })
	g.Commit()

	g = set.Begin()
	Get(used, g, "x", func() int { return 1 })
	g.Commit()
	if other != 1 || unused.Len() != 0 || used.Len() != 1 {
		t.Fatalf("untouched store: released %d, left %d/%d; want 1, 0/1", other, unused.Len(), used.Len())
	}
}

func TestOverlappingGenerationsPanic(t *testing.T) {
	var set Set
	set.Begin()
	defer func() {
		if recover() == nil {
			t.Fatalf("Begin with an open generation did not panic")
		}
	}()
	set.Begin()
}
