package maxprocs

import (
	"runtime"
	"testing"
)

func TestRaise(t *testing.T) {
	orig := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(orig) })

	cases := []struct {
		name          string
		env           string
		start         int
		before, after int
	}{
		{"one P, no env: raised", "", 1, 1, Min},
		{"already Min: unchanged", "", Min, Min, Min},
		{"more than Min: unchanged", "", Min + 2, Min + 2, Min + 2},
		{"one P set by GOMAXPROCS=1: unchanged", "1", 1, 1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("GOMAXPROCS", c.env)
			runtime.GOMAXPROCS(c.start)
			before, after := Raise()
			if before != c.before || after != c.after {
				t.Errorf("Raise() = %d, %d; want %d, %d", before, after, c.before, c.after)
			}
			if got := runtime.GOMAXPROCS(0); got != c.after {
				t.Errorf("GOMAXPROCS now %d, want %d", got, c.after)
			}
		})
	}
}
