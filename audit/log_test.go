package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestOpenCreatesPrivateFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "audit")
	path := filepath.Join(dir, "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, c := range []struct {
		path string
		want os.FileMode
	}{{path, 0o600}, {dir, 0o700 | os.ModeDir}, {filepath.Dir(dir), 0o700 | os.ModeDir}} {
		st, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != c.want {
			t.Errorf("%s: got mode %v, want %v", c.path, st.Mode(), c.want)
		}
	}
	if seq, hash := l.Last(); seq != 0 || hash != "" || l.Recovered() != (Recovery{}) {
		t.Errorf("new log: got Last %d %q, Recovered %+v; want 0, \"\", zero", seq, hash, l.Recovered())
	}
}

func TestAppendFillsAndReturnsWhatIsWritten(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	before := time.Now().Truncate(time.Millisecond)
	e1, err := l.Append(Entry{Action: ActionReload, Actor: "file", Seq: 99, Prev: "junk", Hash: "junk", Status: 200})
	if err != nil {
		t.Fatal(err)
	}
	if e1.Seq != 1 || e1.Prev != "" || e1.Hash != e1.ComputeHash() || !isHash(e1.Hash) {
		t.Errorf("first entry: got seq %d prev %q hash %q, want 1, \"\", its own hash", e1.Seq, e1.Prev, e1.Hash)
	}
	if e1.Time.Before(before) || e1.Time.After(time.Now()) || e1.Time.Location() != time.UTC {
		t.Errorf("zero time became %v, want now in UTC", e1.Time)
	}
	given := time.Date(2025, 5, 6, 7, 8, 9, 123456789, time.FixedZone("CEST", 2*3600))
	e2, err := l.Append(Entry{Action: ActionWeights, Time: given, Reason: "bad \xff utf-8", Status: 412})
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2025, 5, 6, 5, 8, 9, 123000000, time.UTC); !e2.Time.Equal(want) || e2.Time.Location() != time.UTC {
		t.Errorf("got time %v, want %v", e2.Time, want)
	}
	if e2.Seq != 2 || e2.Prev != e1.Hash || e2.Reason != "bad \uFFFD utf-8" {
		t.Errorf("second entry: got seq %d prev %q reason %q", e2.Seq, e2.Prev, e2.Reason)
	}
	got, err := l.Query(Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != e1 || got[1] != e2 {
		t.Errorf("Query returned\n%+v\nwant what Append returned\n%+v\n%+v", got, e1, e2)
	}
	if seq, hash := l.Last(); seq != 2 || hash != e2.Hash {
		t.Errorf("Last: got %d %q, want 2 %q", seq, hash, e2.Hash)
	}

	if _, err := l.Append(Entry{Reason: "no action"}); err == nil {
		t.Error("an entry without action was accepted")
	}
	if _, err := l.Append(Entry{Action: "x", Reason: strings.Repeat("r", MaxLine)}); !errors.Is(err, ErrTooLong) {
		t.Errorf("huge reason: got %v, want ErrTooLong", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(Entry{Action: "x"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close: got %v, want ErrClosed", err)
	}
	if _, err := l.Query(Filter{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Query after Close: got %v, want ErrClosed", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if rep, err := verifyFile(t, path); err != nil || rep.Entries != 2 {
		t.Errorf("refused appends left a trace: %+v, %v", rep, err)
	}
}

func TestEntryJSONRoundTrip(t *testing.T) {
	path, es := writeLog(t, 3)
	lines := readLines(t, path)
	for i, e := range es {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != lines[i] {
			t.Errorf("json.Marshal:\n got %s\nwant %s", b, lines[i])
		}
		var back Entry
		if err := json.Unmarshal(b, &back); err != nil || back != e {
			t.Errorf("json.Unmarshal: got %+v, %v; want %+v", back, err, e)
		}
	}
	// Inside another value (an API answer), encoded with HTML escaping off.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(map[string][]Entry{"entries": es}); err != nil {
		t.Fatal(err)
	}
	var back map[string][]Entry
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	for i := range es {
		if back["entries"][i] != es[i] || back["entries"][i].ComputeHash() != es[i].Hash {
			t.Errorf("entry %d changed through an API answer", i+1)
		}
	}
	var e Entry
	if err := json.Unmarshal([]byte(`{"seq":1,"payload":"x"}`), &e); err == nil {
		t.Error("an unknown member was accepted")
	}
}

func TestReopenContinuesChain(t *testing.T) {
	path, es := writeLog(t, 10)
	for round := 0; round < 2; round++ {
		l, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		last := es[len(es)-1]
		if seq, hash := l.Last(); seq != last.Seq || hash != last.Hash {
			t.Fatalf("reopened: Last %d %q, want %d %q", seq, hash, last.Seq, last.Hash)
		}
		for i := 0; i < 5; i++ {
			e, err := l.Append(sample(len(es) + 1))
			if err != nil {
				t.Fatal(err)
			}
			es = append(es, e)
		}
		l.Close()
	}
	rep, err := verifyFile(t, path)
	if want := (Report{Entries: 20, First: 1, Last: 20}); err != nil || rep != want {
		t.Errorf("got %+v, %v; want %+v", rep, err, want)
	}
}

func TestOpenRecoversTornLastLine(t *testing.T) {
	tests := []struct {
		desc    string
		entries int
		tail    string
	}{
		{desc: "half a line", entries: 5, tail: `{"seq":6,"time":"2025-03-01T12:06:00.000Z","act`},
		{desc: "one byte", entries: 5, tail: `{`},
		{desc: "zeroed block", entries: 5, tail: strings.Repeat("\x00", 4096)},
		{desc: "the only line, torn", entries: 0, tail: `{"seq":1,"ti`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			path, _ := writeLog(t, tt.entries)
			good, _ := os.ReadFile(path)
			appendBytes(t, path, tt.tail)
			l, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if want := (Recovery{Offset: int64(len(good)), Bytes: int64(len(tt.tail))}); l.Recovered() != want {
				t.Errorf("got Recovered %+v, want %+v", l.Recovered(), want)
			}
			if now, _ := os.ReadFile(path); !bytes.Equal(now, good) {
				t.Errorf("file after Open is not the complete lines before the torn one")
			}
			if _, err := l.Append(sample(tt.entries + 1)); err != nil {
				t.Fatal(err)
			}
			rep, err := verifyFile(t, path)
			if want := (Report{Entries: tt.entries + 1, First: 1, Last: uint64(tt.entries + 1)}); err != nil || rep != want {
				t.Errorf("got %+v, %v; want %+v", rep, err, want)
			}
		})
	}
}

func TestOpenRefusesWhatIsNotALog(t *testing.T) {
	tests := []struct {
		desc, content, wantErr string
	}{
		{desc: "text without newline", content: "hello world", wantErr: "not a torn entry; not truncating"},
		{desc: "last line not an entry", content: "{\"seq\":1}\nnot json\n", wantErr: "last line (offset 10) is not an entry"},
		{desc: "last line without hash", content: "{\"seq\":3}\n", wantErr: "has no seq or hash"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.log")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			l, err := Open(path)
			if err == nil {
				l.Close()
				t.Fatal("Open accepted it")
			}
			if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
				t.Errorf("got %v, want the path and %q", err, tt.wantErr)
			}
			if b, _ := os.ReadFile(path); string(b) != tt.content {
				t.Errorf("Open changed the file to %q", b)
			}
		})
	}
}

func appendBytes(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentAppend appends from 8 goroutines while queries read the
// file: the chain is whole, and every query sees a contiguous prefix.
func TestConcurrentAppend(t *testing.T) {
	const writers, each = 8, 50
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var wg sync.WaitGroup
	errs := make(chan error, writers+1)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := l.Append(sample(w*each + i + 1)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	queries := 0
	for running := true; running; queries++ {
		select {
		case <-done:
			running = false
		default:
		}
		es, err := l.Query(Filter{Limit: writers * each})
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range es {
			if e.Seq != uint64(i+1) {
				t.Fatalf("query %d: entry %d has seq %d", queries, i, e.Seq)
			}
		}
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	rep, err := verifyFile(t, path)
	if want := (Report{Entries: writers * each, First: 1, Last: writers * each}); err != nil || rep != want {
		t.Errorf("got %+v, %v; want %+v", rep, err, want)
	}
	t.Logf("%d queries during the appends", queries)
}

func BenchmarkAppend(b *testing.B) {
	l, err := Open(filepath.Join(b.TempDir(), "audit.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	e := sample(1)
	e.Time = time.Time{}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Append(e); err != nil {
			b.Fatal(err)
		}
	}
}
