package revision

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/modelgate/modelgate/configs"
)

// The stored encoding of a revision is encoding/json of wireRevision: the
// Revision's own JSON, except that each tenant of the routing carries its
// API key hashes ("api_keys": [{"sha256", "name"}]), which configs.Tenant
// and configs.APIKey hide from JSON (json:"-") so that /admin/config never
// shows them. A rollback replays a revision's routing exactly, keys
// included, so the store must keep them.
//
// Values of compressThreshold bytes or more are stored as one zstd frame
// of that JSON; smaller ones as the JSON itself. A value is told apart by
// its first bytes: JSON starts with '{', a zstd frame with zstdMagic.
//
// Every field of configs.Tenant round-trips: encode then decode gives a
// reflect.DeepEqual routing (pointers, nil vs empty slices, durations as
// nanoseconds, floats exactly), as TestRoutingRoundTrip checks for every
// good test config. One caveat: encoding/json replaces invalid UTF-8 in a
// string with U+FFFD; config files cannot hold it (the YAML parser refuses
// invalid UTF-8), and the hash is computed over the same replaced text, so
// a stored revision still matches its Hash.

type wireRevision struct {
	Revision
	// Routing shadows Revision.Routing (depth 0 wins over the embedded
	// field). Encoded once outside the write transaction (routingJSON).
	Routing json.RawMessage `json:"routing"`
}

// wireTenant is a tenant with its key hashes visible to encoding/json.
// Embedding configs.Tenant promotes every one of its fields, so a field
// added to it later is stored without a change here.
type wireTenant struct {
	configs.Tenant
	APIKeys []wireKey `json:"api_keys"`
}

type wireKey struct {
	configs.APIKey
	SHA256 string `json:"sha256"`
}

// compressThreshold is the encoded size from which a value is compressed:
// a small routing stays plain JSON, readable with `bbolt get`.
const compressThreshold = 4 << 10

// maxValueBytes bounds a decompressed value (a routing of tens of
// thousands of tenants is far below it); a larger one is refused as
// corrupt rather than filling memory.
const maxValueBytes = 1 << 30

var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

var (
	zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
		// EncodeAll is safe for concurrent use; no goroutines are started
		// for it. SpeedFastest: on a 2,000-tenant routing (4.1 MB of JSON) it
		// was both the fastest and the smallest of the levels (210 KB in 7.5 ms;
		// SpeedDefault 235 KB in 16 ms, SpeedBetterCompression 214 KB in 28 ms):
		// the key hashes, random hex, dominate what is left after the repeats.
		e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		if err != nil {
			panic(err) // only for invalid options
		}
		return e
	})
	zstdDecoder = sync.OnceValue(func() *zstd.Decoder {
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxValueBytes))
		if err != nil {
			panic(err) // only for invalid options
		}
		return d
	})
)

// toWire returns ts with their key hashes exposed; nil stays nil and an
// empty key list stays empty, so decoding gives back the same values.
func toWire(ts []configs.Tenant) []wireTenant {
	if ts == nil {
		return nil
	}
	ws := make([]wireTenant, len(ts))
	for i, t := range ts {
		ws[i].Tenant = t
		if t.APIKeys != nil {
			ws[i].APIKeys = make([]wireKey, len(t.APIKeys))
			for j, k := range t.APIKeys {
				ws[i].APIKeys[j] = wireKey{APIKey: k, SHA256: k.SHA256}
			}
		}
	}
	return ws
}

func fromWire(ws []wireTenant) []configs.Tenant {
	if ws == nil {
		return nil
	}
	ts := make([]configs.Tenant, len(ws))
	for i, w := range ws {
		ts[i] = w.Tenant
		if w.APIKeys != nil {
			ts[i].APIKeys = make([]configs.APIKey, len(w.APIKeys))
			for j, k := range w.APIKeys {
				ts[i].APIKeys[j] = k.APIKey
				ts[i].APIKeys[j].SHA256 = k.SHA256
			}
		}
	}
	return ts
}

// routingJSON is the canonical encoding of a routing: encoding/json of its
// wire form (struct fields in declaration order, no maps), key hashes
// included. It fails only for a NaN or infinite float, which validation
// refuses.
func routingJSON(ts []configs.Tenant) ([]byte, error) {
	b, err := json.Marshal(toWire(ts))
	if err != nil {
		return nil, fmt.Errorf("encoding routing: %w", err)
	}
	return b, nil
}

// RoutingHash is the hex SHA-256 of the routing's canonical encoding: the
// JSON of every tenant in order, with its API key hashes and every setting
// (defaults as they are in ts). Two routings with the same hash route
// identically; order counts (the same tenants listed in another order hash
// differently). It is not configs.Config.Hash, the hash of the file's
// bytes. A routing that cannot be encoded (a NaN or infinite float, which
// validation refuses) hashes to "".
func RoutingHash(ts []configs.Tenant) string {
	b, err := routingJSON(ts)
	if err != nil {
		return ""
	}
	return hashOf(b)
}

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// encodeValue is the stored value of r, whose routing is already encoded
// as routing.
func encodeValue(r *Revision, routing []byte) ([]byte, error) {
	w := wireRevision{Revision: *r, Routing: routing}
	w.Revision.Routing = nil
	b, err := json.Marshal(&w)
	if err != nil {
		return nil, fmt.Errorf("encoding revision %d: %w", r.N, err)
	}
	if len(b) < compressThreshold {
		return b, nil
	}
	return zstdEncoder().EncodeAll(b, make([]byte, 0, len(b)/8)), nil
}

// decodeValue decodes a stored value. v is only read (it may be bbolt's
// memory map, valid only during its transaction).
func decodeValue(v []byte) (*Revision, error) {
	if bytes.HasPrefix(v, zstdMagic) {
		d, err := zstdDecoder().DecodeAll(v, nil)
		if err != nil {
			return nil, fmt.Errorf("decompressing: %w", err)
		}
		v = d
	}
	if len(v) == 0 || v[0] != '{' {
		return nil, errors.New("not a revision (neither JSON nor zstd)")
	}
	var w struct {
		Revision
		Routing []wireTenant `json:"routing"`
	}
	if err := json.Unmarshal(v, &w); err != nil {
		return nil, err
	}
	r := w.Revision
	r.Routing = fromWire(w.Routing)
	return &r, nil
}
