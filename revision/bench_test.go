package revision

import (
	"fmt"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// BenchmarkAppend appends revisions of a 200- and a 2,000-tenant routing
// (2,000 tenants: 4,000 models, 10,000 versions, 20,000 endpoints, 4,000
// key hashes) to a store keeping DefaultKeep, each its own fsynced
// transaction. It reports the routing's JSON size and the stored value's
// (zstd) size per revision.
func BenchmarkAppend(b *testing.B) {
	for _, tenants := range []int{200, 2000} {
		b.Run(fmt.Sprintf("tenants=%d", tenants), func(b *testing.B) {
			s := openStore(b, b.TempDir(), 0)
			var rs [2]*Revision // alternate, as a change and its rollback
			for i := range rs {
				rs[i] = &Revision{Source: SourceAPI, Actor: "bench", Routing: testRouting(tenants, uint64(i))}
			}
			json, err := routingJSON(rs[0].Routing)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := s.Append(rs[i%2]); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(len(json)), "json-B/rev")
			b.ReportMetric(float64(storedSize(b, s)), "stored-B/rev")
		})
	}
}

// BenchmarkGet decodes one revision of a 2,000-tenant routing.
func BenchmarkGet(b *testing.B) {
	s := openStore(b, b.TempDir(), 0)
	r, err := s.Append(&Revision{Source: SourceAPI, Actor: "bench", Routing: testRouting(2000, 1)})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, ok, err := s.Get(r.N); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

// storedSize is the size of the newest stored value.
func storedSize(b *testing.B, s *Store) int {
	var n int
	err := s.db.View(func(tx *bolt.Tx) error {
		_, v := tx.Bucket(bucketRevisions).Cursor().Last()
		n = len(v)
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkListPage: a page of 50 revisions of a 2,000-tenant routing,
// whole (List) and as summaries (Summaries, what GET /admin/revisions
// reads).
func BenchmarkListPage(b *testing.B) {
	s := openStore(b, b.TempDir(), 0)
	for i := range 50 {
		if _, err := s.Append(&Revision{Source: SourceAPI, Actor: "bench", Routing: testRouting(2000, uint64(i))}); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct {
		name string
		list func(uint64, int) ([]*Revision, error)
	}{{"List", s.List}, {"Summaries", s.Summaries}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if rs, err := bc.list(0, 50); err != nil || len(rs) != 50 {
					b.Fatal(len(rs), err)
				}
			}
		})
	}
}
