package audit

import (
	"bytes"
	"os"
	"slices"
	"testing"
	"time"
)

func TestQuery(t *testing.T) {
	// seq: tenant actor — 1 acme alice, 2 globex bob, 3 "" alice, 4 acme bob,
	// 5 globex alice, 6 "" bob, … 12 "" bob; entry i at base + i minutes.
	path, _ := writeLog(t, 12)
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Minute) }
	tests := []struct {
		desc string
		f    Filter
		want []uint64
	}{
		{desc: "zero filter: all", f: Filter{}, want: []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}},
		{desc: "since is inclusive", f: Filter{Since: at(5)}, want: []uint64{5, 6, 7, 8, 9, 10, 11, 12}},
		{desc: "until is exclusive", f: Filter{Until: at(5)}, want: []uint64{1, 2, 3, 4}},
		{desc: "since and until", f: Filter{Since: at(3), Until: at(6)}, want: []uint64{3, 4, 5}},
		{desc: "between entries", f: Filter{Since: at(3).Add(time.Second), Until: at(4)}, want: nil},
		{desc: "actor", f: Filter{Actor: "bob"}, want: []uint64{2, 4, 6, 8, 10, 12}},
		{desc: "unknown actor", f: Filter{Actor: "mallory"}, want: nil},
		{desc: "one tenant: no tenant-less entries", f: Filter{Tenants: []string{"acme"}}, want: []uint64{1, 4, 7, 10}},
		{desc: "two tenants", f: Filter{Tenants: []string{"globex", "acme"}}, want: []uint64{1, 2, 4, 5, 7, 8, 10, 11}},
		{desc: "a tenant with no entries", f: Filter{Tenants: []string{"initech"}}, want: nil},
		{desc: "empty tenant list: all, tenant-less included", f: Filter{Tenants: []string{}}, want: []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}},
		{desc: "limit: the newest, in log order", f: Filter{Limit: 3}, want: []uint64{10, 11, 12}},
		{desc: "limit after filtering", f: Filter{Tenants: []string{"acme"}, Actor: "bob", Limit: 1}, want: []uint64{10}},
		{desc: "limit above the count", f: Filter{Actor: "alice", Limit: 100}, want: []uint64{1, 3, 5, 7, 9, 11}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got, err := l.Query(tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(seqs(got), tt.want) {
				t.Errorf("got seqs %v, want %v", seqs(got), tt.want)
			}
		})
	}
}

func TestQueryDefaultLimit(t *testing.T) {
	path, es := writeLog(t, DefaultLimit+25)
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got, err := l.Query(Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if want := es[25:]; !slices.Equal(got, want) {
		t.Errorf("got %d entries, seqs %v…; want the newest %d", len(got), seqs(got[:min(3, len(got))]), DefaultLimit)
	}
}

func TestExport(t *testing.T) {
	path, es := writeLog(t, 12)
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	t.Run("all: byte for byte the file", func(t *testing.T) {
		var buf bytes.Buffer
		if err := Export(&buf, es); err != nil {
			t.Fatal(err)
		}
		if file, _ := os.ReadFile(path); !bytes.Equal(buf.Bytes(), file) {
			t.Errorf("export differs from the file:\n%s\nfile:\n%s", buf.Bytes(), file)
		}
	})
	t.Run("filtered: verifies with gaps", func(t *testing.T) {
		got, err := l.Query(Filter{Tenants: []string{"acme"}})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := Export(&buf, got); err != nil {
			t.Fatal(err)
		}
		rep, err := verifyBytes(buf.Bytes())
		want := Report{Entries: 4, Gaps: 3, FirstGap: Gap{Line: 2, Seq: 4, After: 1}, First: 1, Last: 10}
		if err != nil || rep != want {
			t.Errorf("got %+v, %v; want %+v", rep, err, want)
		}
	})
	t.Run("filtered, one entry edited: detected", func(t *testing.T) {
		got, err := l.Query(Filter{Actor: "bob"})
		if err != nil {
			t.Fatal(err)
		}
		got[2].Status = 500 // seq 6
		var buf bytes.Buffer
		if err := Export(&buf, got); err != nil {
			t.Fatal(err)
		}
		_, err = verifyBytes(buf.Bytes())
		if verr, ok := err.(*VerifyError); !ok || verr.Line != 3 || verr.Seq != 6 {
			t.Errorf("got %v, want line 3 seq 6 named", err)
		}
	})
}
