package tenants

import (
	"fmt"
	"testing"

	"github.com/modelgate/modelgate/configs"
)

func TestDirectoryLookup(t *testing.T) {
	ts := []configs.Tenant{
		{Name: "acme", APIKeys: []configs.APIKey{{SHA256: HashKey("acme-old")}, {SHA256: HashKey("acme-new")}}},
		// Upper-case hex is accepted as well.
		{Name: "globex", APIKeys: []configs.APIKey{{SHA256: upper(HashKey("globex-key"))}}},
	}
	d := NewDirectory(ts)
	for _, tt := range []struct {
		key    string
		tenant int
		ok     bool
	}{
		{"acme-old", 0, true},
		{"acme-new", 0, true},
		{"globex-key", 1, true},
		{"", 0, false},
		{"acme", 0, false},
		{HashKey("acme-old"), 0, false}, // the stored hash is not a key
	} {
		got, ok := d.Lookup([]byte(tt.key))
		if ok != tt.ok || (ok && got != tt.tenant) {
			t.Errorf("Lookup(%q): got %d, %v; want %d, %v", tt.key, got, ok, tt.tenant, tt.ok)
		}
	}
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func TestExtractKey(t *testing.T) {
	for _, tt := range []struct {
		desc, auth, apiKey, want string
	}{
		{"bearer", "Bearer k1", "", "k1"},
		{"bearer any case", "bEaReR k1", "", "k1"},
		{"bearer spaces trimmed", "Bearer   k1  ", "", "k1"},
		{"x-api-key", "", "k2", "k2"},
		{"bearer wins over x-api-key", "Bearer k1", "k2", "k1"},
		{"basic auth is not a key", "Basic dXNlcjpwdw==", "", ""},
		{"basic auth falls back to x-api-key", "Basic dXNlcjpwdw==", "k2", "k2"},
		{"empty bearer", "Bearer ", "", ""},
		{"nothing", "", "", ""},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			if got := string(ExtractKey([]byte(tt.auth), []byte(tt.apiKey))); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHashKey(t *testing.T) {
	// printf %s 'demo-key' | sha256sum
	const want = "c48a01f49fd0f2cc404bc3cbbc80e91457a3d41bb429a695243de4c61794155c"
	if got := HashKey("demo-key"); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func BenchmarkLookup(b *testing.B) {
	var ts []configs.Tenant
	for i := range 100 {
		ts = append(ts, configs.Tenant{Name: "t", APIKeys: []configs.APIKey{{SHA256: HashKey(fmt.Sprint("key-", i))}}})
	}
	d := NewDirectory(ts)
	key := []byte("key-42")
	b.ReportAllocs()
	for b.Loop() {
		_, _ = d.Lookup(key)
	}
}
