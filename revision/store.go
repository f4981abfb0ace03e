package revision

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// DefaultKeep is how many revisions a Store keeps when Open is given no
// bound: the newest 200.
const DefaultKeep = 200

// FileName is the store's file in its data directory.
const FileName = "revisions.db"

// OpenTimeout bounds how long Open waits for the store's file lock, which
// another process (or another Store in this one) holding the file keeps.
const OpenTimeout = time.Second

// List's page sizes.
const (
	DefaultListLimit = 50
	MaxListLimit     = 1000
)

var (
	bucketRevisions = []byte("revisions") // big-endian N → value (encoding.go)
	bucketSummaries = []byte("summaries") // big-endian N → JSON of the revision without routing and weight sources
	bucketMeta      = []byte("meta")
	keyLastN        = []byte("last_n") // big-endian N of the last revision ever appended
)

// Store is the embedded, crash-safe store of revisions: one bbolt file,
// DIR/revisions.db. Each Append is one ACID transaction, fsynced before it
// returns: a crash or kill -9 at any moment leaves the store as it was
// before the Append or after it, never in between. It keeps the newest
// keep revisions; numbers are never reused, even after older revisions
// were trimmed or the store reopened.
//
// A Store is safe for concurrent use. Each read sees one consistent
// state and runs alongside other reads and an Append; Appends are
// serialized. One process at a time may have the file open (an exclusive
// file lock).
type Store struct {
	db   *bolt.DB
	path string
	keep int
}

// Open opens the store in dir, creating dir (mode 0700) and the file
// (0600) if missing. keep is how many revisions to keep, the newest;
// keep ≤ 0 means DefaultKeep. A keep lower than the revisions already
// stored takes effect at the next Append.
//
// If another process (or another open Store) holds the file, Open fails
// after OpenTimeout with an error naming the file, rather than waiting.
func Open(dir string, keep int) (*Store, error) {
	if keep <= 0 {
		keep = DefaultKeep
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("revision store: creating data directory: %w", err)
	}
	path := filepath.Join(dir, FileName)
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, os.ErrNotExist)
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: OpenTimeout})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("revision store %s is in use by another process (another modelgate with the same data directory?): file still locked after %v", path, OpenTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("revision store %s: %w", path, err)
	}
	s := &Store{db: db, path: path, keep: keep}
	if err := db.Update(s.init); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("revision store %s: %w", path, err)
	}
	if created {
		// bbolt fsyncs the file, not the directory entry of a new one.
		if err := syncDir(dir); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("revision store %s: %w", path, err)
		}
	}
	return s, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// init creates the buckets and checks that the counter is not behind the
// revisions (it never is unless the file was edited by hand).
func (s *Store) init(tx *bolt.Tx) error {
	revs, err := tx.CreateBucketIfNotExists(bucketRevisions)
	if err != nil {
		return err
	}
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	last, err := lastN(meta)
	if err != nil {
		return err
	}
	if err := backfillSummaries(tx, revs); err != nil {
		return err
	}
	if k, _ := revs.Cursor().Last(); k != nil {
		n, err := keyN(k)
		if err != nil {
			return err
		}
		if n > last {
			return fmt.Errorf("revision %d stored but the counter says %d", n, last)
		}
	}
	return nil
}

// Path is the store's file.
func (s *Store) Path() string { return s.path }

// Close closes the store, waiting for transactions under way. The Store
// must not be used afterwards.
func (s *Store) Close() error { return s.db.Close() }

// Append stores r as the next revision, in one transaction: it gets N =
// the last N ever appended + 1 (1 for the first), Time = now (UTC) if
// zero, Hash = RoutingHash(r.Routing) if empty; then the oldest revisions
// beyond keep are deleted. A non-empty r.Hash must equal
// RoutingHash(r.Routing). r's own N is ignored and r is not modified.
// When Append returns nil error the revision is on disk (fsynced).
//
// It returns the stored copy: r with N, Time (in UTC) and Hash set,
// sharing r's Routing, Changes and WeightSources (treat them as read-only).
func (s *Store) Append(r *Revision) (*Revision, error) {
	routing, err := routingJSON(r.Routing)
	if err != nil {
		return nil, fmt.Errorf("revision store: %w", err)
	}
	stored := *r
	if hash := hashOf(routing); stored.Hash == "" {
		stored.Hash = hash
	} else if stored.Hash != hash {
		return nil, fmt.Errorf("revision store: revision's hash %s is not its routing's (%s)", stored.Hash, hash)
	}
	if stored.Time.IsZero() {
		stored.Time = time.Now()
	}
	stored.Time = stored.Time.UTC()
	if err := s.db.Update(func(tx *bolt.Tx) error { return s.appendTx(tx, &stored, routing) }); err != nil {
		return nil, fmt.Errorf("revision store %s: appending: %w", s.path, err)
	}
	return &stored, nil
}

// appendTx numbers r, stores it with its encoded routing and trims, in tx.
func (s *Store) appendTx(tx *bolt.Tx, r *Revision, routing []byte) error {
	revs, meta := tx.Bucket(bucketRevisions), tx.Bucket(bucketMeta)
	last, err := lastN(meta)
	if err != nil {
		return err
	}
	r.N = last + 1
	v, err := encodeValue(r, routing)
	if err != nil {
		return err
	}
	k := nKey(r.N)
	if err := revs.Put(k[:], v); err != nil {
		return err
	}
	sum, err := encodeSummary(r)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketSummaries).Put(k[:], sum); err != nil {
		return err
	}
	if err := meta.Put(keyLastN, k[:]); err != nil {
		return err
	}
	if err := s.trim(revs, r.N); err != nil {
		return err
	}
	return s.trim(tx.Bucket(bucketSummaries), r.N)
}

// encodeSummary is the summaries bucket's value of r: r without its
// routing and weight sources, plain JSON (small: no compression).
func encodeSummary(r *Revision) ([]byte, error) {
	sum := *r
	sum.Routing, sum.WeightSources = nil, nil
	b, err := json.Marshal(&sum)
	if err != nil {
		return nil, fmt.Errorf("encoding the summary of revision %d: %w", r.N, err)
	}
	return b, nil
}

// backfillSummaries creates the summaries bucket, filling it from the
// revisions when it is new (a store written before summaries existed).
func backfillSummaries(tx *bolt.Tx, revs *bolt.Bucket) error {
	if tx.Bucket(bucketSummaries) != nil {
		return nil
	}
	sums, err := tx.CreateBucket(bucketSummaries)
	if err != nil {
		return err
	}
	return revs.ForEach(func(k, v []byte) error {
		r, err := decodeAt(k, v)
		if err != nil {
			return err
		}
		b, err := encodeSummary(r)
		if err != nil {
			return err
		}
		return sums.Put(k, b)
	})
}

// trim deletes the revisions beyond s.keep below newest: those numbered
// newest - keep or less. Numbers being contiguous, that keeps the newest
// keep; each Append trimming, it usually deletes one.
func (s *Store) trim(revs *bolt.Bucket, newest uint64) error {
	if newest <= uint64(s.keep) {
		return nil
	}
	oldest := newest - uint64(s.keep) + 1
	c := revs.Cursor()
	// Re-seek the first key after each delete: a bbolt cursor is not
	// meant to move on after Delete.
	for k, _ := c.First(); k != nil; k, _ = c.First() {
		n, err := keyN(k)
		if err != nil {
			return err
		}
		if n >= oldest {
			return nil
		}
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

// Latest returns the newest revision; false if there is none.
func (s *Store) Latest() (*Revision, bool, error) {
	var r *Revision
	err := s.db.View(func(tx *bolt.Tx) error {
		k, v := tx.Bucket(bucketRevisions).Cursor().Last()
		if k == nil {
			return nil
		}
		var err error
		r, err = decodeAt(k, v)
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("revision store %s: %w", s.path, err)
	}
	return r, r != nil, nil
}

// Get returns revision n; false if there is none (never made, or trimmed).
func (s *Store) Get(n uint64) (*Revision, bool, error) {
	var r *Revision
	err := s.db.View(func(tx *bolt.Tx) error {
		k := nKey(n)
		v := tx.Bucket(bucketRevisions).Get(k[:])
		if v == nil {
			return nil
		}
		var err error
		r, err = decodeAt(k[:], v)
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("revision store %s: %w", s.path, err)
	}
	return r, r != nil, nil
}

// List returns up to limit revisions with N < before, newest first; before
// 0 starts from the newest. limit ≤ 0 means DefaultListLimit (50); it is
// capped at MaxListLimit (1000). The next page is List(last.N, limit),
// until a page is shorter than limit. Each revision is decoded whole,
// routing included.
func (s *Store) List(before uint64, limit int) ([]*Revision, error) {
	return s.page(bucketRevisions, before, limit, decodeAt)
}

// Summaries is List without the revisions' Routing and WeightSources
// (nil): what a listing shows, read from a bucket of small summaries
// written in the same transaction as each revision, so a page costs the
// same whatever the routing's size. Get returns a whole revision.
func (s *Store) Summaries(before uint64, limit int) ([]*Revision, error) {
	return s.page(bucketSummaries, before, limit, func(k, v []byte) (*Revision, error) {
		var r Revision
		if err := json.Unmarshal(v, &r); err != nil {
			return nil, fmt.Errorf("decoding the summary of revision %x: %w", k, err)
		}
		return &r, nil
	})
}

// page walks bucket newest first from below before (0: the newest),
// decoding at most limit values (List's defaults and cap).
func (s *Store) page(bucket []byte, before uint64, limit int, decode func(k, v []byte) (*Revision, error)) ([]*Revision, error) {
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	var out []*Revision
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		var k, v []byte
		if before == 0 {
			k, v = c.Last()
		} else {
			b := nKey(before)
			if k, _ = c.Seek(b[:]); k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
		}
		for ; k != nil && len(out) < limit; k, v = c.Prev() {
			r, err := decode(k, v)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("revision store %s: %w", s.path, err)
	}
	return out, nil
}

// Len is how many revisions the store holds (at most keep, after an
// Append).
func (s *Store) Len() (int, error) {
	var n int
	err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketRevisions).Stats().KeyN
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("revision store %s: %w", s.path, err)
	}
	return n, nil
}

// decodeAt decodes the value stored under key k and checks it is the
// revision the key says.
func decodeAt(k, v []byte) (*Revision, error) {
	n, err := keyN(k)
	if err != nil {
		return nil, err
	}
	r, err := decodeValue(v)
	if err != nil {
		return nil, fmt.Errorf("decoding revision %d: %w", n, err)
	}
	if r.N != n {
		return nil, fmt.Errorf("revision stored as %d says it is %d", n, r.N)
	}
	return r, nil
}

func nKey(n uint64) [8]byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], n)
	return k
}

func keyN(k []byte) (uint64, error) {
	if len(k) != 8 {
		return 0, fmt.Errorf("bad revision key %x", k)
	}
	return binary.BigEndian.Uint64(k), nil
}

func lastN(meta *bolt.Bucket) (uint64, error) {
	v := meta.Get(keyLastN)
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("bad revision counter %x", v)
	}
	return binary.BigEndian.Uint64(v), nil
}
