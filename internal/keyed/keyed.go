// Package keyed holds the gateway's long-lived state across config
// reloads: endpoints, retry budgets, shadow pools, admission limiters and
// metric series all outlive the routing snapshot that uses them, and each
// must be released once no snapshot does. A reload follows one shape for
// all of them (Caddy's UsagePool, Traefik's handler switcher):
//
//	gen := set.Begin()                      // one generation per Apply
//	ep := keyed.Get(endpoints, gen, url, newEndpoint) // while building
//	...                                     // build the snapshot purely from config + Get
//	gateway.snap.Store(snapshot)            // swap
//	gen.Commit()                            // release what the new snapshot did not Get
//
// so a new stateful feature registers one more Store and adds no step of its
// own to the reload order.
//
// A Set and its Stores are used by one goroutine at a time (the gateway's
// Apply, serialized by its lock); values themselves are shared with the
// request path, which never touches the Store.
package keyed

import "sync"

// Set is the collection of stores that share generations: Commit of a
// generation sweeps every store of the set, including those the
// generation did not touch (a config without shadows releases every pool).
type Set struct {
	mu     sync.Mutex
	stores []sweeper
	gen    uint64
	open   bool
}

type sweeper interface {
	sweep(gen uint64) int
	sweepAll() int
}

// Store is one kind of long-lived value, keyed by K. Create it with
// Register. Must not be copied.
type Store[K comparable, V any] struct {
	set     *Set
	release func(K, V)
	vals    map[K]*entry[V]
}

type entry[V any] struct {
	v   V
	gen uint64 // the last generation that used it
}

// Register adds a store to set. release, if not nil, is called for each
// value a Commit finds unused (after the swap), and by Close.
func Register[K comparable, V any](set *Set, release func(K, V)) *Store[K, V] {
	s := &Store[K, V]{set: set, release: release, vals: map[K]*entry[V]{}}
	set.mu.Lock()
	set.stores = append(set.stores, s)
	set.mu.Unlock()
	return s
}

// Gen is one build of the routing snapshot: the values it uses are marked
// with its number; Commit releases the others.
type Gen struct {
	set *Set
	n   uint64
}

// Begin starts a generation. Generations do not overlap: Begin panics if
// the previous one was not committed (a programming error).
func (s *Set) Begin() *Gen {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open {
		panic("keyed: Begin while a generation is open")
	}
	s.open = true
	s.gen++
	return &Gen{set: s, n: s.gen}
}

// Commit releases, in every store of the set, each value that this
// generation did not Get. Call it after the snapshot built in this
// generation is serving. It returns how many values were released.
func (g *Gen) Commit() int {
	s := g.set
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, st := range s.stores {
		n += st.sweep(g.n)
	}
	s.open = false
	return n
}

// Close releases every value of every store (shutdown). No generation may
// be open.
func (s *Set) Close() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, st := range s.stores {
		n += st.sweepAll()
	}
	return n
}

// Get returns the value of st for key, creating it with mk when there is
// none, and marks it used by gen. mk is called at most once per key while
// the value lives.
func Get[K comparable, V any](st *Store[K, V], gen *Gen, key K, mk func() V) V {
	if gen.set != st.set {
		panic("keyed: generation of another set")
	}
	e := st.vals[key]
	if e == nil {
		e = &entry[V]{v: mk()}
		st.vals[key] = e
	}
	e.gen = gen.n
	return e.v
}

// Peek returns the value for key without marking it used.
func Peek[K comparable, V any](st *Store[K, V], key K) (V, bool) {
	e, ok := st.vals[key]
	if !ok {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Close releases every value of st alone (a Set's Close releases every
// store's). It returns how many values were released.
func (st *Store[K, V]) Close() int { return st.sweepAll() }

// Len is the number of values held.
func (st *Store[K, V]) Len() int { return len(st.vals) }

// All calls f for each value held (any order). f must not call Get.
func (st *Store[K, V]) All(f func(K, V)) {
	for k, e := range st.vals {
		f(k, e.v)
	}
}

func (st *Store[K, V]) sweep(gen uint64) int {
	n := 0
	for k, e := range st.vals {
		if e.gen != gen {
			delete(st.vals, k)
			if st.release != nil {
				st.release(k, e.v)
			}
			n++
		}
	}
	return n
}

func (st *Store[K, V]) sweepAll() int {
	n := 0
	for k, e := range st.vals {
		delete(st.vals, k)
		if st.release != nil {
			st.release(k, e.v)
		}
		n++
	}
	return n
}
