package audit

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
)

// Report is what Verify read: the entries it checked before it stopped
// (all of them when it returns no error).
type Report struct {
	// Entries is the number of intact entries.
	Entries int
	// Gaps is the number of places where seq jumps by more than one:
	// entries missing there, removed from a full log or left out of a
	// filtered export. A missing start (First > 1) is not counted.
	Gaps int
	// FirstGap is the first of them; zero when Gaps is 0.
	FirstGap Gap
	// First and Last are the first and last entry's seq; 0 without
	// entries.
	First, Last uint64
}

// Gap is a place where seq jumps: entries After+1 … Seq-1 are missing
// before the entry with seq Seq on line Line.
type Gap struct {
	Line       int
	Seq, After uint64
}

// VerifyError names the first bad entry Verify found.
type VerifyError struct {
	// Line is the entry's line in the input, 1-based.
	Line int
	// Seq is the entry's seq; 0 when the line is unparsable and does
	// not even begin with one.
	Seq uint64
	// Reason says what is wrong, e.g. "hash mismatch: the entry was edited".
	Reason string
}

// Error is "line L: seq N: reason" ("line L: reason" without a seq).
func (e *VerifyError) Error() string {
	if e.Seq == 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d: seq %d: %s", e.Line, e.Seq, e.Reason)
}

// Verify reads an audit log or an export of one (JSON lines, the format
// in the package documentation) and checks, line by line:
//
//   - the line is one entry, with no unknown member, time in TimeLayout,
//     seq at least 1 ("unparsable"), prev and hash well formed ("malformed");
//   - its hash is the SHA-256 of its canonical encoding ("edited");
//   - its seq is greater than the previous entry's ("reordered");
//   - when the previous entry's seq is exactly one less, its prev is that
//     entry's hash ("link broken": an entry replaced, or the one before
//     edited and its hash recomputed); a seq 1 entry has prev "".
//
// A seq that jumps by more than one is a gap, counted in the Report and
// not an error: an export of a filtered query has them, a full log has
// none (and First is 1). Telling the two apart is the caller's business
// (modelgate audit verify fails on gaps without --partial). Empty input is
// a valid log of no entries; an empty line is an error; a last line
// without a newline is read like any other.
//
// Verify stops at the first bad entry and returns a *VerifyError naming
// it, with the Report of the entries before it; other errors are the
// reader's.
func Verify(r io.Reader) (Report, error) {
	var (
		rep      Report
		lastHash string
		lastLine int
	)
	lr := newLineReader(r)
	for {
		b, err := lr.next()
		if err == io.EOF {
			return rep, nil
		}
		if err == errLong {
			return rep, &VerifyError{Line: lr.n, Reason: "unparsable: " + err.Error()}
		}
		if err != nil {
			return rep, err
		}
		bad := func(seq uint64, format string, args ...any) (Report, error) {
			return rep, &VerifyError{Line: lr.n, Seq: seq, Reason: fmt.Sprintf(format, args...)}
		}
		if len(bytes.TrimSpace(b)) == 0 {
			return bad(0, "unparsable: empty line")
		}
		rec, err := decode(b)
		if err != nil {
			return bad(seqPrefix(b), "unparsable: %v", err)
		}
		if _, err := rec.entry(); err != nil {
			return bad(rec.Seq, "unparsable: %v", err)
		}
		seq := rec.Seq
		switch {
		case seq == 0:
			return bad(0, "malformed: no seq (seqs start at 1)")
		case !isHash(rec.Hash):
			return bad(seq, "malformed: hash %q is not 64 lowercase hex digits", rec.Hash)
		case seq == 1 && rec.Prev != "":
			return bad(seq, "malformed: seq 1 has a prev")
		case seq > 1 && !isHash(rec.Prev):
			return bad(seq, "malformed: prev %q is not 64 lowercase hex digits", rec.Prev)
		case hashOf(rec.body.canonical()) != rec.Hash:
			return bad(seq, "hash mismatch: the entry was edited")
		}
		if rep.Entries > 0 {
			switch {
			case seq <= rep.Last:
				return bad(seq, "not after seq %d on line %d: entries reordered or duplicated", rep.Last, lastLine)
			case seq == rep.Last+1 && rec.Prev != lastHash:
				return bad(seq, "prev does not match the hash of seq %d on line %d: link broken (an entry replaced, or an earlier one edited and re-hashed)", rep.Last, lastLine)
			case seq > rep.Last+1:
				if rep.Gaps == 0 {
					rep.FirstGap = Gap{Line: lr.n, Seq: seq, After: rep.Last}
				}
				rep.Gaps++
			}
		} else {
			rep.First = seq
		}
		rep.Entries++
		rep.Last, lastHash, lastLine = seq, rec.Hash, lr.n
	}
}

// seqPrefix is the seq an unparsable line begins with (`{"seq":N`), to
// name it; 0 when it does not.
func seqPrefix(b []byte) uint64 {
	rest, ok := bytes.CutPrefix(b, []byte(`{"seq":`))
	if !ok {
		return 0
	}
	i := 0
	for i < len(rest) && i < 20 && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	n, _ := strconv.ParseUint(string(rest[:i]), 10, 64)
	return n
}

// Verify checks the log's own file as the package function Verify does,
// reading the complete lines written so far (every entry whose Append
// returned before Verify was called, none after): the admin API's GET
// /admin/audit/verify. A full log has no gaps and starts at seq 1.
func (l *Log) Verify() (Report, error) {
	l.mu.Lock()
	size, closed := l.size, l.f == nil
	l.mu.Unlock()
	if closed {
		return Report{}, ErrClosed
	}
	f, err := os.Open(l.path)
	if err != nil {
		return Report{}, fmt.Errorf("audit: %w", err)
	}
	defer f.Close()
	return Verify(io.LimitReader(f, size))
}
