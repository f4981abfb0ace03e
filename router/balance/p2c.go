// Package balance chooses which replica of a model version serves a request.
// It is pure: the caller passes the current load of each candidate (replicas
// already filtered to the healthy ones whose breaker admits traffic) and gets
// back an index. No network, no clocks, no shared state.
package balance

import "math/rand/v2"

// Picker chooses one of len(loads) candidates, where loads[i] is candidate
// i's number of requests in flight. It returns the chosen index, or -1 when
// loads is empty. Implementations must not retain loads.
type Picker interface {
	Pick(loads []int64) int
}

// P2C is power-of-two-choices on least load (the default of Envoy and
// Linkerd): it samples two distinct candidates uniformly at random and keeps
// the one with fewer requests in flight (the first sampled on a tie). It
// never picks the single most-loaded candidate when there are two or more
// with different loads, and spreads load almost as evenly as a full
// least-loaded scan without its herding onto one idle replica. The zero value
// is ready to use and safe for concurrent use.
type P2C struct {
	// IntN returns a uniform random int in [0, n). Nil uses math/rand/v2;
	// tests set it to make picks deterministic.
	IntN func(n int) int
}

// Pick implements Picker.
func (p P2C) Pick(loads []int64) int {
	intN := p.IntN
	if intN == nil {
		intN = rand.IntN
	}
	switch n := len(loads); n {
	case 0:
		return -1
	case 1:
		return 0
	default:
		i := intN(n)
		j := intN(n - 1)
		if j >= i {
			j++
		}
		if loads[j] < loads[i] {
			return j
		}
		return i
	}
}

var _ Picker = P2C{}
