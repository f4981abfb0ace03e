package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// ErrClosed is the error of Append and Query on a closed Log.
var ErrClosed = errors.New("audit: log closed")

// Log is an audit log file open for appending. Append, Query, Last and
// Close are safe for concurrent use; entries are written in the order
// Append is called (one mutex), each line fsynced before Append returns.
//
// The Log owns its file while open: nothing else may write, truncate or
// rotate it. There is no rotation or size bound; the file grows by one
// line (typically 300–500 bytes) per entry.
type Log struct {
	path string
	rec  Recovery // set by Open, read-only after

	mu   sync.Mutex
	f    *os.File // nil once closed
	size int64    // bytes of complete, fsynced lines
	seq  uint64   // last entry's seq, 0 for an empty log
	hash string   // last entry's hash
	err  error    // sticky: a failed append that could not be undone
}

// Recovery is what Open removed from the end of the file: a torn last
// line, the bytes after the last newline, left by a crash during an
// append. Bytes is 0 when the file ended cleanly.
type Recovery struct {
	// Offset is where the torn line began: the file's size after Open.
	Offset int64
	// Bytes is how many bytes were removed.
	Bytes int64
}

// Open opens the audit log at path for appending, creating it (mode
// 0600, missing parent directories 0700) when it does not exist.
//
// An existing file is continued: Open reads its last line to take the
// next seq and prev from it (the rest of the file is not read; Verify
// checks a whole file). A torn last line — bytes after the last newline
// that begin like an entry (`{`) or are all NUL — is truncated away and
// reported by Recovered, which the caller should log. Open fails, and
// changes nothing, when the file ends in anything else, when its last
// complete line is not an entry, or when a line is longer than MaxLine.
func Open(path string) (*Log, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, fs.ErrNotExist)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	l := &Log{path: path, f: f}
	if created {
		// The new file's directory entry must survive a crash too.
		if err := syncDir(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, fmt.Errorf("audit: %w", err)
		}
	}
	if err := l.resume(); err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: %s: %w", path, err)
	}
	return l, nil
}

// resume truncates a torn last line and reads the last entry.
func (l *Log) resume() error {
	st, err := l.f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	nl, err := lastNewline(l.f, size, MaxLine)
	if err != nil {
		return err
	}
	end := nl + 1 // 0 without any newline
	if end < size {
		if nl < 0 && size > MaxLine {
			return fmt.Errorf("no newline in the last %d bytes: not an audit log", MaxLine)
		}
		tail := make([]byte, size-end)
		if _, err := l.f.ReadAt(tail, end); err != nil {
			return err
		}
		if !torn(tail) {
			return fmt.Errorf("ends with %d bytes after its last line that are not a torn entry; not truncating", len(tail))
		}
		if err := l.f.Truncate(end); err != nil {
			return err
		}
		if err := l.f.Sync(); err != nil {
			return err
		}
		l.rec = Recovery{Offset: end, Bytes: size - end}
	}
	l.size = end
	if end == 0 {
		return nil
	}
	prev, err := lastNewline(l.f, end-1, MaxLine)
	if err != nil {
		return err
	}
	start := prev + 1
	if prev < 0 && end > MaxLine {
		return fmt.Errorf("last line longer than %d bytes", MaxLine)
	}
	b := make([]byte, end-1-start)
	if _, err := l.f.ReadAt(b, start); err != nil {
		return err
	}
	r, err := decode(b)
	switch {
	case err != nil:
		return fmt.Errorf("last line (offset %d) is not an entry: %w", start, err)
	case r.Seq == 0 || !isHash(r.Hash):
		return fmt.Errorf("last line (offset %d) has no seq or hash", start)
	}
	l.seq, l.hash = r.Seq, r.Hash
	return nil
}

// torn reports whether tail can be what a crash during an append left:
// the start of a line (an entry begins with "{") or zeroed blocks.
func torn(tail []byte) bool {
	return tail[0] == '{' || len(bytes.Trim(tail, "\x00")) == 0
}

// lastNewline is the offset of the last '\n' in f before end, looking
// back at most max bytes; -1 when there is none.
func lastNewline(f *os.File, end, max int64) (int64, error) {
	const chunk = 64 << 10
	buf := make([]byte, chunk)
	for lo := end; lo > 0 && end-lo < max; {
		n := min(int64(chunk), lo, max-(end-lo))
		lo -= n
		if _, err := f.ReadAt(buf[:n], lo); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return lo + int64(i), nil
		}
	}
	return -1, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Recovered is what Open truncated from the end of the file; zero when
// nothing. Log it: "audit log FILE: removed a torn last line (N bytes at
// offset X)".
func (l *Log) Recovered() Recovery { return l.rec }

// Path is the file's path as given to Open.
func (l *Log) Path() string { return l.path }

// Last is the seq and hash of the newest entry: (0, "") for an empty log.
// Publishing seq (a metric, the admin API) lets an operator see a
// truncated tail, which the chain alone cannot show.
func (l *Log) Last() (seq uint64, hash string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq, l.hash
}

// Append writes e as the log's next entry and returns it as written.
// It sets Seq (the last entry's plus one), Prev (the last entry's Hash)
// and Hash, ignoring what e holds in them; Time becomes the current time
// when zero and is otherwise rounded down to the millisecond, in UTC.
// Strings that are not valid UTF-8 get U+FFFD for each invalid byte
// sequence (as encoding/json writes them), so the returned entry equals
// the one in the file.
//
// The line is written with one write and fsynced before Append returns.
// When the write or the fsync fails, Append truncates the file back to
// its last complete line and returns the error; the log stays usable. If
// even that fails, this and every later Append return an error. Action
// is required; an entry whose line would exceed MaxLine gets ErrTooLong.
func (l *Log) Append(e Entry) (Entry, error) {
	if e.Action == "" {
		return Entry{}, errors.New("audit: entry without an action")
	}
	for _, s := range []*string{&e.Actor, &e.Role, &e.Remote, &e.Action, &e.Tenant, &e.Model, &e.BeforeHash, &e.AfterHash, &e.Reason} {
		*s = strings.ToValidUTF8(*s, "\uFFFD")
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC().Truncate(time.Millisecond)
	if y := e.Time.Year(); y < 1 || y > 9999 {
		return Entry{}, fmt.Errorf("audit: time %v outside years 1–9999", e.Time)
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.f == nil:
		return Entry{}, ErrClosed
	case l.err != nil:
		return Entry{}, l.err
	}
	e.Seq, e.Prev = l.seq+1, l.hash
	c := e.body().canonical()
	e.Hash = hashOf(c)
	b := line(c, e.Hash)
	if len(b) > MaxLine {
		return Entry{}, ErrTooLong
	}
	_, err := l.f.Write(b)
	if err == nil {
		err = l.f.Sync()
	}
	if err != nil {
		if terr := l.undo(); terr != nil {
			l.err = fmt.Errorf("audit: %s: a failed append could not be undone (%v); the log is read-only until reopened", l.path, terr)
		}
		return Entry{}, fmt.Errorf("audit: appending to %s: %w", l.path, err)
	}
	l.size += int64(len(b))
	l.seq, l.hash = e.Seq, e.Hash
	return e, nil
}

// undo removes what a failed append may have left after the last
// complete line.
func (l *Log) undo() error {
	if err := l.f.Truncate(l.size); err != nil {
		return err
	}
	return l.f.Sync()
}

// Close closes the file. Append and Query return ErrClosed afterwards;
// closing twice is a no-op.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
