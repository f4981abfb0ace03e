package revision

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/configs"
)

// TestRoutingRoundTrip: the stored encoding gives back every good test
// config's tenants exactly (keys hashes, pointers, durations, defaults),
// and their hash with them.
func TestRoutingRoundTrip(t *testing.T) {
	files, err := filepath.Glob("../configs/testdata/*.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../configs/example.yaml")
	if len(files) < 2 {
		t.Fatalf("found only %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, err := configs.Load(f)
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Tenants[0].APIKeys) == 0 || cfg.Tenants[0].APIKeys[0].SHA256 == "" {
				t.Fatalf("%s: first tenant has no key hash to round-trip", f)
			}
			in := &Revision{N: 3, Time: time.Now().UTC(), Source: SourceFile, Actor: "file", FileHash: cfg.Hash, Routing: cfg.Tenants}
			in.Hash = RoutingHash(in.Routing)
			routing, err := routingJSON(in.Routing)
			if err != nil {
				t.Fatal(err)
			}
			v, err := encodeValue(in, routing)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeValue(v)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Routing, cfg.Tenants) {
				t.Error("routing changed by the round trip:")
				diffFields(t, reflect.ValueOf(got.Routing), reflect.ValueOf(cfg.Tenants), "tenants")
			}
			gotRest, inRest := *got, *in
			gotRest.Routing, inRest.Routing = nil, nil
			if !reflect.DeepEqual(gotRest, inRest) {
				t.Errorf("revision after round trip:\n got %+v\nwant %+v", gotRest, inRest)
			}
			if h := RoutingHash(got.Routing); h != in.Hash {
				t.Errorf("hash after round trip: got %s, want %s", h, in.Hash)
			}
		})
	}
}

// TestRoutingRoundTripEveryField fills every field of configs.Tenant,
// recursively (every pointer set, every slice with an element, every
// scalar non-zero), and checks the stored encoding gives it back: a field
// added later that encoding/json does not see (json:"-", unexported)
// fails here even if no test config sets it.
func TestRoutingRoundTripEveryField(t *testing.T) {
	var tenant configs.Tenant
	fillAll(t, reflect.ValueOf(&tenant).Elem(), "Tenant")
	in := []configs.Tenant{tenant}
	b, err := routingJSON(in)
	if err != nil {
		t.Fatal(err)
	}
	v, err := encodeValue(&Revision{N: 1, Routing: in}, b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeValue(v)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Routing, in) {
		t.Error("routing changed by the round trip:")
		diffFields(t, reflect.ValueOf(got.Routing), reflect.ValueOf(in), "tenants")
	}
}

// fillAll sets every field reachable from v to a non-zero value.
func fillAll(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			t.Fatalf("%s: a time.Time in the routing: check it round-trips", path)
		}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				t.Fatalf("%s.%s: unexported field, not stored by encoding/json", path, f.Name)
			}
			fillAll(t, v.Field(i), path+"."+f.Name)
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillAll(t, v.Elem(), path)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fillAll(t, v.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.String:
		v.SetString("s-" + path)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(len(path)))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(len(path)))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(0.1 + float64(len(path)))
	default:
		t.Fatalf("%s: kind %v not handled by the test: check it round-trips and extend fillAll", path, v.Kind())
	}
}

// diffFields names the leaf fields where got and want differ.
func diffFields(t *testing.T, got, want reflect.Value, path string) {
	t.Helper()
	switch want.Kind() {
	case reflect.Struct:
		for i := range want.NumField() {
			diffFields(t, got.Field(i), want.Field(i), path+"."+want.Type().Field(i).Name)
		}
	case reflect.Pointer:
		if got.IsNil() || want.IsNil() {
			if got.IsNil() != want.IsNil() {
				t.Errorf("%s: got nil %v, want nil %v", path, got.IsNil(), want.IsNil())
			}
			return
		}
		diffFields(t, got.Elem(), want.Elem(), path)
	case reflect.Slice:
		if got.Len() != want.Len() || got.IsNil() != want.IsNil() {
			t.Errorf("%s: %d elements (nil %v), want %d (nil %v)", path, got.Len(), got.IsNil(), want.Len(), want.IsNil())
			return
		}
		for i := range want.Len() {
			diffFields(t, got.Index(i), want.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	default:
		if !reflect.DeepEqual(got.Interface(), want.Interface()) {
			t.Errorf("%s: got %v, want %v", path, got.Interface(), want.Interface())
		}
	}
}

func TestRoutingHash(t *testing.T) {
	base := testRouting(3, 1)
	h := RoutingHash(base)
	if len(h) != 64 {
		t.Fatalf("hash %q: want 64 hex characters", h)
	}
	if again := RoutingHash(testRouting(3, 1)); again != h {
		t.Errorf("same routing: got %s, want %s", again, h)
	}
	for _, tc := range []struct {
		desc   string
		change func([]configs.Tenant)
	}{
		{"key hash", func(ts []configs.Tenant) { ts[1].APIKeys[0].SHA256 = strings.Repeat("0", 64) }},
		{"key name", func(ts []configs.Tenant) { ts[1].APIKeys[0].Name = "renamed" }},
		{"weight", func(ts []configs.Tenant) { ts[2].Models[0].Versions[1].Weight++ }},
		{"endpoint", func(ts []configs.Tenant) {
			v := &ts[0].Models[1].Versions[0]
			v.Endpoints = append(v.Endpoints, "http://10.9.9.9:8000")
		}},
		{"shadow percent", func(ts []configs.Tenant) { *ts[0].Models[0].Shadow.Percent = 50 }},
		{"retry budget", func(ts []configs.Tenant) { *ts[0].Models[0].Retry.Budget = 0 }},
		{"tenant limits", func(ts []configs.Tenant) { ts[1].Limits.MaxInFlight = 7 }},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			ts := testRouting(3, 1)
			tc.change(ts)
			if got := RoutingHash(ts); got == h {
				t.Errorf("hash unchanged (%s) after changing the %s", got, tc.desc)
			}
		})
	}
}

// TestValueEncoding: small values are plain JSON with the key hashes in
// them; large ones are zstd; both decode to what was stored.
func TestValueEncoding(t *testing.T) {
	for _, tc := range []struct {
		desc       string
		tenants    int
		compressed bool
	}{
		{"one tenant", 1, false},
		{"200 tenants", 200, true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			in := &Revision{
				N: 7, Time: time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC),
				Source: SourceAPI, Actor: "alice", Reason: "more v2", FileHash: strings.Repeat("f", 64),
				Routing:       testRouting(tc.tenants, 2),
				Changes:       []Change{{Tenant: "t0", Model: "m0", Text: "weight v2 10 → 25"}},
				Overrode:      []Change{{Tenant: "t0", Text: "limits changed"}},
				WeightSources: map[string]Source{"t0/m0/v1": SourceFile, "t0/m0/v2": SourceAPI},
			}
			in.Hash = RoutingHash(in.Routing)
			routing, err := routingJSON(in.Routing)
			if err != nil {
				t.Fatal(err)
			}
			v, err := encodeValue(in, routing)
			if err != nil {
				t.Fatal(err)
			}
			if got := bytes.HasPrefix(v, zstdMagic); got != tc.compressed {
				t.Errorf("compressed: got %v, want %v (%d bytes)", got, tc.compressed, len(v))
			}
			if !tc.compressed && !bytes.Contains(v, []byte(`"sha256":"`+in.Routing[0].APIKeys[0].SHA256+`"`)) {
				t.Errorf("plain value lacks the key hash: %s", v)
			}
			got, err := decodeValue(v)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, in) {
				t.Errorf("after round trip:\n got %#v\nwant %#v", got, in)
			}
		})
	}
	if _, err := decodeValue([]byte("garbage")); err == nil {
		t.Error("garbage decoded")
	}
	if _, err := decodeValue(append(append([]byte(nil), zstdMagic...), 1, 2, 3)); err == nil {
		t.Error("truncated zstd decoded")
	}
}

// testRouting is a deterministic routing of n tenants (two keys, two
// models of two or three versions each, defaults applied) for seed: the
// same arguments give the same routing, another seed other weights and
// key hashes.
func testRouting(n int, seed uint64) []configs.Tenant {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	hexKey := func() string {
		const digits = "0123456789abcdef"
		var b [64]byte
		for i := range b {
			b[i] = digits[rng.IntN(16)]
		}
		return string(b[:])
	}
	cfg := configs.Config{Tenants: make([]configs.Tenant, n)}
	for i := range cfg.Tenants {
		t := &cfg.Tenants[i]
		t.Name = fmt.Sprintf("t%d", i)
		t.APIKeys = []configs.APIKey{{SHA256: hexKey(), Name: "current"}, {SHA256: hexKey()}}
		t.Limits = configs.Limits{RequestsPerSecond: float64(10 * (i%7 + 1)), MaxInFlight: 32}
		for m := range 2 {
			model := configs.Model{Name: fmt.Sprintf("m%d", m), StickyHeader: "X-User-ID"}
			nv := 2 + m
			for v := range nv {
				model.Versions = append(model.Versions, configs.Version{
					Name:   fmt.Sprintf("v%d", v+1),
					Weight: rng.IntN(100),
					Endpoints: []string{
						fmt.Sprintf("http://10.%d.%d.%d:8000", i%250, m, 2*v),
						fmt.Sprintf("http://10.%d.%d.%d:8000", i%250, m, 2*v+1),
					},
				})
			}
			if m == 0 {
				model.Fallback = "v1"
				model.Shadow = &configs.Shadow{Version: "v2", Tolerance: 0.001}
				model.Limits = &configs.Limits{MaxInFlight: 8}
			}
			t.Models = append(t.Models, model)
		}
	}
	cfg.SetDefaults()
	return cfg.Tenants
}
