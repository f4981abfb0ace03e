package revision

import (
	"reflect"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// summariesMatch checks that Summaries(before, limit) lists what
// List(before, limit) does, without routing and weight sources.
func summariesMatch(t *testing.T, s *Store, before uint64, limit int) {
	t.Helper()
	full, err := s.List(before, limit)
	if err != nil {
		t.Fatal(err)
	}
	sums, err := s.Summaries(before, limit)
	if err != nil {
		t.Fatal(err)
	}
	if len(full) != len(sums) {
		t.Fatalf("before %d limit %d: %d summaries for %d revisions", before, limit, len(sums), len(full))
	}
	for i, r := range full {
		want := *r
		want.Routing, want.WeightSources = nil, nil
		if got := *sums[i]; !reflect.DeepEqual(got, want) {
			t.Errorf("summary of revision %d: got %+v, want %+v", r.N, got, want)
		}
	}
}

// TestSummaries: the summaries follow the revisions through appends,
// trimming, reopening, and a store written before summaries existed.
func TestSummaries(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 5)
	first := &Revision{Source: SourceFile, Actor: "file", Routing: testRouting(2, 1),
		Changes: []Change{{Tenant: "t0", Model: "m0", Text: "weight v1 1 → 2"}}, WeightSources: map[string]Source{"t0/m0/v1": SourceFile}}
	if _, err := s.Append(first); err != nil {
		t.Fatal(err)
	}
	appendN(t, s, 2, 11)
	summariesMatch(t, s, 0, 0)
	summariesMatch(t, s, 10, 2)
	if got, _ := s.Summaries(0, 0); !reflect.DeepEqual(ns(got), []uint64{12, 11, 10, 9, 8}) {
		t.Errorf("after trimming to 5: summaries %v", ns(got))
	}
	s.Close()

	// A store without the summaries bucket gets it filled on Open.
	db, err := bolt.Open(s.Path(), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketSummaries) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s = openStore(t, dir, 5)
	summariesMatch(t, s, 0, 0)
	appendN(t, s, 20, 1)
	summariesMatch(t, s, 0, 3)
}
