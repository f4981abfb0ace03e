package audit

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// base is the first test entry's time.
var base = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// sample is the i-th (1-based) test entry: tenants acme, globex, "" in
// turn, actors alice and bob in turn, one minute apart from base.
func sample(i int) Entry {
	return Entry{
		Time:           base.Add(time.Duration(i) * time.Minute),
		Actor:          []string{"bob", "alice"}[i%2],
		Role:           "operator",
		Remote:         "127.0.0.1:5000" + fmt.Sprint(i%10),
		Action:         ActionWeights,
		Tenant:         []string{"acme", "globex", ""}[(i-1)%3],
		Model:          "fraud",
		BeforeRevision: uint64(i),
		AfterRevision:  uint64(i + 1),
		BeforeHash:     fmt.Sprintf("%064x", i),
		AfterHash:      fmt.Sprintf("%064x", i+1),
		Reason:         fmt.Sprintf("step %d <&> \"quoted\" ünïcode", i),
		Status:         200,
	}
}

// writeLog makes a log of n sample entries in a fresh directory and
// returns its path and the entries as Append returned them.
func writeLog(t testing.TB, n int) (string, []Entry) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.log")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	out := make([]Entry, 0, n)
	for i := 1; i <= n; i++ {
		e, err := l.Append(sample(i))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return path, out
}

// readLines is the file's lines, without newlines.
func readLines(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func joinLines(lines []string) []byte {
	return []byte(strings.Join(lines, "\n") + "\n")
}

func verifyBytes(b []byte) (Report, error) { return Verify(bytes.NewReader(b)) }

func verifyFile(t testing.TB, path string) (Report, error) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return verifyBytes(b)
}

func seqs(es []Entry) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}
