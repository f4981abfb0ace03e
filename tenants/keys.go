// Package tenants owns tenant identity and policy: which API key belongs to
// which tenant, and (see admission.go) how much each tenant may send.
package tenants

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/modelgate/modelgate/configs"
)

// Directory maps API keys to tenants. Keys are held only as SHA-256
// digests; a presented key is hashed and looked up, so no comparison ever
// touches a clear key, and lookup time depends on the digest, not on how
// much of a stored key the presented one shares. Immutable after
// NewDirectory; safe for concurrent use.
type Directory struct {
	byDigest map[[sha256.Size]byte]int
}

// NewDirectory indexes the keys of a validated config: Lookup returns the
// index of the key's tenant in tenants.
func NewDirectory(tenants []configs.Tenant) *Directory {
	d := &Directory{byDigest: make(map[[sha256.Size]byte]int)}
	for i, t := range tenants {
		for _, k := range t.APIKeys {
			var digest [sha256.Size]byte
			// Validated config: 64 hex characters.
			if _, err := hex.Decode(digest[:], []byte(strings.ToLower(k.SHA256))); err == nil {
				d.byDigest[digest] = i
			}
		}
	}
	return d
}

// Lookup returns the index of the tenant owning key.
func (d *Directory) Lookup(key []byte) (int, bool) {
	if len(key) == 0 {
		return 0, false
	}
	i, ok := d.byDigest[sha256.Sum256(key)]
	return i, ok
}

var bearer = []byte("bearer ")

// ExtractKey returns the API key a request presents: the token of an
// "Authorization: Bearer KEY" header, else the X-API-Key header. The result
// aliases its arguments.
func ExtractKey(authorization, apiKey []byte) []byte {
	if len(authorization) > len(bearer) && asciiEqualFold(authorization[:len(bearer)], bearer) {
		return bytes.TrimSpace(authorization[len(bearer):])
	}
	return bytes.TrimSpace(apiKey)
}

func asciiEqualFold(a, lower []byte) bool {
	for i := range a {
		c := a[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// HashKey returns the hex SHA-256 of a key, the form config files hold.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}
