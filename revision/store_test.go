package revision

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openStore(t testing.TB, dir string, keep int) *Store {
	t.Helper()
	s, err := Open(dir, keep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// appendN appends revisions whose routings differ (seed = i), returning
// what Append returned.
func appendN(t testing.TB, s *Store, from, count int) []*Revision {
	t.Helper()
	var out []*Revision
	for i := from; i < from+count; i++ {
		r, err := s.Append(&Revision{Source: SourceAPI, Actor: "alice", Reason: "step", Routing: testRouting(2, uint64(i))})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func ns(rs []*Revision) []uint64 {
	out := make([]uint64, len(rs))
	for i, r := range rs {
		out[i] = r.N
	}
	return out
}

func TestAppendGet(t *testing.T) {
	s := openStore(t, t.TempDir(), 0)
	if s.keep != DefaultKeep {
		t.Errorf("keep 0: got %d, want DefaultKeep %d", s.keep, DefaultKeep)
	}
	if _, ok, err := s.Latest(); ok || err != nil {
		t.Fatalf("empty store: Latest ok %v, err %v", ok, err)
	}
	if n, err := s.Len(); n != 0 || err != nil {
		t.Fatalf("empty store: Len %d, %v", n, err)
	}

	in := &Revision{N: 99, Source: SourceFile, Actor: "file", FileHash: "abc", Routing: testRouting(3, 1),
		Changes: []Change{{Tenant: "t0", Text: "tenant added"}}, WeightSources: map[string]Source{"t0/m0/v1": SourceFile}}
	before := time.Now()
	r1, err := s.Append(in)
	if err != nil {
		t.Fatal(err)
	}
	if r1.N != 1 {
		t.Errorf("first N: got %d, want 1", r1.N)
	}
	if in.N != 99 || in.Hash != "" || !in.Time.IsZero() {
		t.Errorf("Append modified its argument: %+v", in)
	}
	if r1.Time.Location() != time.UTC || r1.Time.Before(before.Add(-time.Second)) || r1.Time.After(time.Now().Add(time.Second)) {
		t.Errorf("Time: got %v, want now in UTC", r1.Time)
	}
	if want := RoutingHash(in.Routing); r1.Hash != want {
		t.Errorf("Hash: got %s, want %s", r1.Hash, want)
	}

	set := time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("CET", 3600))
	r2, err := s.Append(&Revision{Time: set, Source: SourceRollback, Actor: "bob", Hash: r1.Hash, Routing: testRouting(3, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if r2.N != 2 || !r2.Time.Equal(set) || r2.Time.Location() != time.UTC {
		t.Errorf("second: N %d time %v, want 2 and %v in UTC", r2.N, r2.Time, set)
	}

	for _, want := range []*Revision{r1, r2} {
		got, ok, err := s.Get(want.N)
		if err != nil || !ok {
			t.Fatalf("Get(%d): ok %v, err %v", want.N, ok, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Get(%d):\n got %+v\nwant %+v", want.N, got, want)
		}
	}
	if got, ok, err := s.Latest(); err != nil || !ok || !reflect.DeepEqual(got, r2) {
		t.Errorf("Latest: got %+v (ok %v, err %v), want %+v", got, ok, err, r2)
	}
	for _, n := range []uint64{0, 3, 1 << 63} {
		if _, ok, err := s.Get(n); ok || err != nil {
			t.Errorf("Get(%d): ok %v, err %v; want not found", n, ok, err)
		}
	}
}

func TestAppendRejects(t *testing.T) {
	s := openStore(t, t.TempDir(), 0)
	routing := testRouting(1, 1)
	_, err := s.Append(&Revision{Hash: strings.Repeat("0", 64), Routing: routing})
	if err == nil || !strings.Contains(err.Error(), "is not its routing's") {
		t.Errorf("wrong hash: got %v", err)
	}
	nan := testRouting(1, 1)
	nan[0].Models[0].Breaker.FailureRatio = nanFloat()
	if _, err := s.Append(&Revision{Routing: nan}); err == nil {
		t.Error("NaN routing: no error")
	}
	if n, _ := s.Len(); n != 0 {
		t.Errorf("after refused appends: Len %d, want 0", n)
	}
	if r, err := s.Append(&Revision{Routing: routing}); err != nil || r.N != 1 {
		t.Errorf("after refused appends: N %v, err %v; want 1", r, err)
	}
}

func nanFloat() float64 {
	zero := 0.0
	return zero / zero
}

func TestList(t *testing.T) {
	s := openStore(t, t.TempDir(), 0)
	appendN(t, s, 0, 7)
	for _, tc := range []struct {
		desc   string
		before uint64
		limit  int
		want   []uint64
	}{
		{"newest first", 0, 0, []uint64{7, 6, 5, 4, 3, 2, 1}},
		{"limit", 0, 3, []uint64{7, 6, 5}},
		{"before", 5, 3, []uint64{4, 3, 2}},
		{"last page short", 3, 3, []uint64{2, 1}},
		{"before the first", 1, 3, []uint64{}},
		{"before past the newest", 100, 2, []uint64{7, 6}},
		{"negative limit is the default", 0, -1, []uint64{7, 6, 5, 4, 3, 2, 1}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := s.List(tc.before, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if g := ns(got); !reflect.DeepEqual(g, tc.want) {
				t.Errorf("List(%d, %d): got %v, want %v", tc.before, tc.limit, g, tc.want)
			}
		})
	}

	// Paging through: each page starts before the last one's oldest.
	var all []uint64
	for before := uint64(0); ; {
		page, err := s.List(before, 2)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, ns(page)...)
		if len(page) < 2 {
			break
		}
		before = page[len(page)-1].N
	}
	if want := []uint64{7, 6, 5, 4, 3, 2, 1}; !reflect.DeepEqual(all, want) {
		t.Errorf("paging: got %v, want %v", all, want)
	}
}

func TestListLimits(t *testing.T) {
	s := openStore(t, t.TempDir(), 2000)
	// Tiny routings and one transaction each would take 1,001 fsyncs:
	// write the revisions in one transaction through the same encoding.
	rs := appendN(t, s, 0, 1)
	bulkAppend(t, s, rs[0], MaxListLimit+10)
	for _, tc := range []struct {
		limit, want int
	}{{0, DefaultListLimit}, {MaxListLimit + 5, MaxListLimit}} {
		got, err := s.List(0, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != tc.want {
			t.Errorf("List(0, %d): %d revisions, want %d", tc.limit, len(got), tc.want)
		}
	}
}

func TestTrim(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 5)
	appended := appendN(t, s, 0, 12)
	check := func(s *Store) {
		t.Helper()
		if n, err := s.Len(); n != 5 || err != nil {
			t.Errorf("Len: got %d (%v), want 5", n, err)
		}
		got, err := s.List(0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if want := []uint64{12, 11, 10, 9, 8}; !reflect.DeepEqual(ns(got), want) {
			t.Errorf("kept: got %v, want %v", ns(got), want)
		}
		for i, r := range got {
			if !reflect.DeepEqual(r, appended[11-i]) {
				t.Errorf("revision %d changed", r.N)
			}
		}
		for n := range uint64(8) {
			if _, ok, _ := s.Get(n); ok {
				t.Errorf("Get(%d): found, want trimmed", n)
			}
		}
	}
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStore(t, dir, 5)
	check(s)
	r, err := s.Append(&Revision{Routing: testRouting(1, 99)})
	if err != nil {
		t.Fatal(err)
	}
	if r.N != 13 {
		t.Errorf("after reopen: N %d, want 13", r.N)
	}
	if got, _ := s.List(0, 0); !reflect.DeepEqual(ns(got), []uint64{13, 12, 11, 10, 9}) {
		t.Errorf("after reopen and append: %v", ns(got))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A smaller keep takes effect at the next Append.
	s = openStore(t, dir, 2)
	if n, _ := s.Len(); n != 5 {
		t.Errorf("reopened with keep 2: Len %d before an Append, want 5", n)
	}
	appendN(t, s, 100, 1)
	if got, _ := s.List(0, 0); !reflect.DeepEqual(ns(got), []uint64{14, 13}) {
		t.Errorf("keep 2 after an Append: %v, want [14 13]", ns(got))
	}
}

func TestReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "nested")
	s := openStore(t, dir, 0)
	appended := appendN(t, s, 0, 3)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o700 {
		t.Errorf("data directory mode %v, want 0700", m)
	}
	fi, err = os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if m := fi.Mode().Perm(); m != 0o600 {
		t.Errorf("store file mode %v, want 0600", m)
	}

	s = openStore(t, dir, 0)
	got, err := s.List(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []*Revision{appended[2], appended[1], appended[0]}; !reflect.DeepEqual(got, want) {
		t.Errorf("after reopen: got %v, want %v", ns(got), ns(want))
	}
	if r := appendN(t, s, 10, 1)[0]; r.N != 4 {
		t.Errorf("after reopen: N %d, want 4", r.N)
	}
}

// TestOpenLocked: a second Open of a store that is open fails within
// OpenTimeout, naming the file, and the first keeps working.
func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir, 0)
	start := time.Now()
	s2, err := Open(dir, 0)
	took := time.Since(start)
	if err == nil {
		_ = s2.Close()
		t.Fatal("second Open succeeded")
	}
	if want := filepath.Join(dir, FileName); !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "in use") {
		t.Errorf("error %q: want it to name %s and say it is in use", err, want)
	}
	if took > 3*OpenTimeout {
		t.Errorf("second Open took %v, want about OpenTimeout (%v)", took, OpenTimeout)
	}
	appendN(t, s, 0, 1)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s3 := openStore(t, dir, 0)
	if n, _ := s3.Len(); n != 1 {
		t.Errorf("after the first closed: Len %d, want 1", n)
	}
}

func TestOpenNotAStore(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, []byte(strings.Repeat("not a bbolt file\n", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, 0)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("garbage file: got %v, want an error naming %s", err, path)
	}
}

// bulkAppend appends count copies of proto in one transaction (what
// Append does, without an fsync each).
func bulkAppend(t testing.TB, s *Store, proto *Revision, count int) {
	t.Helper()
	routing, err := routingJSON(proto.Routing)
	if err != nil {
		t.Fatal(err)
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		for range count {
			r := *proto
			if err := s.appendTx(tx, &r, routing); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
