// Package router makes modelgate's routing decisions: which request path is
// which prediction API call, and which model version serves a request. It is
// pure: no network, no fiber, no clocks; everything here can be unit-tested
// with no server. The gateway package does the I/O.
package router

import (
	"math"
	"math/rand/v2"

	"github.com/cespare/xxhash/v2"
	"github.com/modelgate/modelgate/configs"
)

// Split chooses among one model's versions. It is immutable after NewSplit
// and safe for concurrent use.
type Split struct {
	names   []string
	weights []float64
	cum     []int // cumulative weights, for unsticky picks
	total   int
	seeds   []uint64 // per-version hash seeds, for rendezvous hashing
	prefix  uint64   // hash of (tenant, model), so users are spread per model
	byName  map[string]int
}

// NewSplit builds the split of model m owned by tenant. Version indexes
// follow the order of m.Versions.
func NewSplit(tenant string, m *configs.Model) *Split {
	s := &Split{
		names:   make([]string, len(m.Versions)),
		weights: make([]float64, len(m.Versions)),
		cum:     make([]int, len(m.Versions)),
		seeds:   make([]uint64, len(m.Versions)),
		prefix:  xxhash.Sum64String(tenant + "\x00" + m.Name + "\x00"),
		byName:  make(map[string]int, len(m.Versions)),
	}
	for i, v := range m.Versions {
		s.names[i] = v.Name
		s.weights[i] = float64(v.Weight)
		s.total += v.Weight
		s.cum[i] = s.total
		s.seeds[i] = xxhash.Sum64String(v.Name)
		s.byName[v.Name] = i
	}
	return s
}

// Len is the number of versions.
func (s *Split) Len() int { return len(s.names) }

// Name returns the name of version i.
func (s *Split) Name(i int) string { return s.names[i] }

// Lookup returns the index of the named version (for pinned requests).
func (s *Split) Lookup(name []byte) (int, bool) {
	i, ok := s.byName[string(name)]
	return i, ok
}

// Pick returns a version index with probability weight/total. Versions of
// weight 0 are never picked.
func (s *Split) Pick() int {
	if len(s.cum) == 1 {
		return 0
	}
	r := rand.IntN(s.total)
	for i, c := range s.cum {
		if r < c {
			return i
		}
	}
	return len(s.cum) - 1
}

// PickSticky returns the version for a sticky key: a deterministic function
// of (tenant, model, key, versions and weights), identical on every replica
// and across restarts. It uses weighted rendezvous hashing, so the share of
// keys per version follows the weights, and raising one version's weight only
// moves keys to that version, never away from it.
func (s *Split) PickSticky(key []byte) int {
	if len(s.names) == 1 {
		return 0
	}
	h := KeyHash(s.prefix, key)
	best, bestScore := 0, math.Inf(-1)
	for i, w := range s.weights {
		if w <= 0 {
			continue
		}
		// Score -w/ln(u) with u uniform in (0,1): the version with the highest
		// score wins, and P(win) = w/Σw (Schindelhauer & Schomaker).
		u := unitFloat(mix64(h ^ s.seeds[i]))
		score := -w / math.Log(u)
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	return best
}

// KeyHash hashes a sticky key under a per-model prefix. The shadow sampler
// uses the same hash so the same users are shadowed every time.
func KeyHash(prefix uint64, key []byte) uint64 {
	return mix64(xxhash.Sum64(key) ^ prefix)
}

// Prefix is the per-model hash prefix used by PickSticky.
func (s *Split) Prefix() uint64 { return s.prefix }

// mix64 is the splitmix64 finalizer: a bijection that spreads every input
// bit over the output.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// unitFloat maps a hash to (0, 1), never 0 or 1.
func unitFloat(h uint64) float64 {
	return (float64(h>>11) + 0.5) / (1 << 53)
}

// Sample reports whether a request falls in a percent share. With a sticky
// key (hasKey) the answer is a deterministic function of the key hash, so
// the same users are sampled every time; otherwise it is random.
func Sample(percent float64, keyHash uint64, hasKey bool) bool {
	switch {
	case percent >= 100:
		return true
	case percent <= 0:
		return false
	case hasKey:
		return unitFloat(mix64(keyHash^0x5348414457)) < percent/100
	default:
		return rand.Float64() < percent/100
	}
}
