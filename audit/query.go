package audit

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// DefaultLimit is Filter.Limit's default: the newest 1000 entries.
const DefaultLimit = 1000

// Filter selects entries for Query. The zero Filter selects the newest
// DefaultLimit entries.
type Filter struct {
	// Since and Until bound the entry time: Since <= Time < Until. A zero
	// value leaves that side unbounded.
	Since, Until time.Time
	// Actor, when not empty, selects the entries of that actor only
	// (exact match).
	Actor string
	// Tenants, when not empty, selects the entries whose Tenant is one of
	// them; entries with an empty Tenant (a reload, a failed login) are
	// then left out too. This is the scope rule: an operator scoped to
	// some tenants sees only their entries; only an unscoped one (empty
	// Tenants) sees entries that belong to no tenant.
	Tenants []string
	// Limit is how many entries at most, the newest ones; DefaultLimit
	// when 0 or negative.
	Limit int
}

// Match reports whether e passes the filter's time, actor and tenant
// conditions (Limit aside).
func (f Filter) Match(e Entry) bool {
	switch {
	case !f.Since.IsZero() && e.Time.Before(f.Since):
		return false
	case !f.Until.IsZero() && !e.Time.Before(f.Until):
		return false
	case f.Actor != "" && e.Actor != f.Actor:
		return false
	case len(f.Tenants) > 0 && !slices.Contains(f.Tenants, e.Tenant):
		return false
	}
	return true
}

// Query reads the log file and returns the newest Limit entries that
// match f, in log order (oldest first). It sees every entry whose Append
// returned before Query was called, and none written after; it does not
// check hashes (Verify does). An unparsable line is an error naming it.
func (l *Log) Query(f Filter) ([]Entry, error) {
	l.mu.Lock()
	size, closed := l.size, l.f == nil
	l.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	file, err := os.Open(l.path)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	defer file.Close()
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	var out []Entry
	lr := newLineReader(io.LimitReader(file, size))
	for {
		b, err := lr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("audit: %s:%d: %w", l.path, lr.n, err)
		}
		var e Entry
		if err := e.UnmarshalJSON(b); err != nil {
			return nil, fmt.Errorf("audit: %s:%d: %w", l.path, lr.n, err)
		}
		if !f.Match(e) {
			continue
		}
		out = append(out, e)
		if len(out) >= 2*limit { // keep the newest limit, amortised
			out = append(out[:0], out[len(out)-limit:]...)
		}
	}
	if len(out) > limit {
		out = append(out[:0], out[len(out)-limit:]...)
	}
	return out, nil
}

// Export writes entries as JSON lines, the log file's own format: the
// output of a Query verifies (with gaps where the filter left entries
// out) as long as the entries are unchanged.
func Export(w io.Writer, entries []Entry) error {
	bw := bufio.NewWriter(w)
	for _, e := range entries {
		b, _ := e.MarshalJSON()
		bw.Write(b)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// lineReader reads lines of at most MaxLine bytes, newline included.
type lineReader struct {
	r   *bufio.Reader
	buf []byte
	n   int // number of the line last returned, 1-based
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// errLong is next's error for a line longer than MaxLine.
var errLong = fmt.Errorf("line longer than %d bytes", MaxLine)

// next returns the next line without its newline (and without a "\r"
// before it); a last line without a newline is returned as it is. The
// slice is valid until the next call. io.EOF after the last line.
func (lr *lineReader) next() ([]byte, error) {
	lr.buf = lr.buf[:0]
	for {
		chunk, err := lr.r.ReadSlice('\n')
		lr.buf = append(lr.buf, chunk...)
		if len(lr.buf) > MaxLine {
			lr.n++
			return nil, errLong
		}
		switch err {
		case nil:
			lr.n++
			return bytes.TrimSuffix(lr.buf[:len(lr.buf)-1], []byte("\r")), nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			if len(lr.buf) == 0 {
				return nil, io.EOF
			}
			lr.n++
			return lr.buf, nil
		default:
			return nil, err
		}
	}
}
