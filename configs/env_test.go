package configs

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// scalarSetting is one scalar field of Config outside tenants, found by
// walking the type the way an operator reads the YAML.
type scalarSetting struct {
	key   string       // YAML path, e.g. "server.tls.cert_file"
	index []int        // field index path from Config
	typ   reflect.Type // the field's type (*float64 for optional numbers)
}

// walkScalars lists every scalar setting of Config except the tenants
// list, entering structs and pointers to structs.
func walkScalars(t reflect.Type, prefix string, index []int, out *[]scalarSetting) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("mapstructure"), ",")[0]
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		key, idx := prefix+tag, append(append([]int(nil), index...), i)
		ft := f.Type
		if ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct {
			ft = ft.Elem()
		}
		switch ft.Kind() {
		case reflect.Struct:
			walkScalars(ft, key+".", idx, out)
		case reflect.Slice, reflect.Map:
			// tenants (and any future list) are not environment settings
		default:
			*out = append(*out, scalarSetting{key: key, index: idx, typ: f.Type})
		}
	}
}

// TestEnvOverridesEveryScalar walks the Config type and, for every scalar
// setting outside tenants, sets MODELGATE_<PATH> and checks that the loaded
// config took it: nothing is listed by hand, so a new setting is covered
// (or this test says which valid value it needs).
func TestEnvOverridesEveryScalar(t *testing.T) {
	var settings []scalarSetting
	walkScalars(reflect.TypeFor[Config](), "", nil, &settings)
	if len(settings) < 20 {
		t.Fatalf("walk found %d settings, want every scalar of server, admin, logging, tracing", len(settings))
	}
	// Values that pass validation where a generic one would not.
	valid := map[string]string{
		"server.listen":                "127.0.0.1:18080",
		"server.admin_listen":          "127.0.0.1:19090",
		"server.grpc_listen":           "127.0.0.1:18081",
		"server.tls.min_version":       "1.3",
		"server.admin_tls.min_version": "1.3",
		"admin.token_sha256":           strings.Repeat("ab", 32),
		"logging.level":                "debug",
		"tracing.endpoint":             "http://127.0.0.1:4318",
		"state.redis.address":          "127.0.0.1:6379",
		"state.redis.password_env":     "MODELGATE_TEST_REDIS_PASSWORD",
		"state.redis.on_unavailable":   "open",
	}
	t.Setenv("MODELGATE_TEST_REDIS_PASSWORD", "not-a-real-password")
	durType := reflect.TypeFor[time.Duration]()
	want := map[string]any{}
	for _, s := range settings {
		raw, ok := valid[s.key]
		typ := s.typ
		if typ.Kind() == reflect.Pointer {
			typ = typ.Elem()
		}
		var v any
		switch {
		case ok:
			v = raw
		case typ == durType:
			raw, v = "7s", 7*time.Second
		case typ.Kind() == reflect.String:
			raw = "/etc/modelgate/" + strings.ReplaceAll(s.key, ".", "-")
			v = raw
		case typ.Kind() == reflect.Bool:
			raw, v = "true", true
		case typ.Kind() >= reflect.Int && typ.Kind() <= reflect.Int64:
			raw, v = "4096", int64(4096)
		case typ.Kind() >= reflect.Uint && typ.Kind() <= reflect.Uint64:
			raw, v = "3", uint64(3)
		case typ.Kind() == reflect.Float64 || typ.Kind() == reflect.Float32:
			raw, v = "0.25", 0.25
		default:
			t.Fatalf("%s: no test value for type %v; add one", s.key, s.typ)
		}
		env := EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(s.key, ".", "_"))
		t.Setenv(env, raw)
		want[s.key] = v
	}
	cfg, err := Load("testdata/minimal.good.yaml")
	if err != nil {
		t.Fatalf("Load with every setting from the environment: %v", err)
	}
	root := reflect.ValueOf(cfg).Elem()
	for _, s := range settings {
		fv, ok := fieldByIndex(root, s.index)
		if !ok {
			t.Errorf("%s: its section stayed unset (nil)", s.key)
			continue
		}
		if fv.Kind() == reflect.Pointer {
			if fv.IsNil() {
				t.Errorf("%s: got nil, want %v from the environment", s.key, want[s.key])
				continue
			}
			fv = fv.Elem()
		}
		var got any
		switch {
		case fv.Type() == durType:
			got = time.Duration(fv.Int())
		case fv.Kind() >= reflect.Int && fv.Kind() <= reflect.Int64:
			got = fv.Int()
		case fv.Kind() >= reflect.Uint && fv.Kind() <= reflect.Uint64:
			got = fv.Uint()
		case fv.Kind() == reflect.Float64 || fv.Kind() == reflect.Float32:
			got = fv.Float()
		default:
			got = fv.Interface()
		}
		if got != want[s.key] {
			t.Errorf("%s: got %v, want %v from %s_%s", s.key, got, want[s.key], EnvPrefix,
				strings.ToUpper(strings.ReplaceAll(s.key, ".", "_")))
		}
	}
}

// fieldByIndex is reflect.Value.FieldByIndex reporting a nil pointer on the
// way instead of panicking.
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}

// TestEnvLeavesUnsetSectionsAlone: binding every key to the environment
// adds no defaults and no sections: without variables, optional sections
// (server.tls) stay unset and the defaults are SetDefaults' alone.
func TestEnvLeavesUnsetSectionsAlone(t *testing.T) {
	cfg, err := Load("testdata/minimal.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.TLS != nil || cfg.Server.AdminTLS != nil || cfg.Tracing.SamplingRatio != nil {
		t.Errorf("got tls %+v admin_tls %+v sampling_ratio %v, want all unset", cfg.Server.TLS, cfg.Server.AdminTLS, cfg.Tracing.SamplingRatio)
	}
	t.Setenv("MODELGATE_SERVER_TLS_CERT_FILE", "/etc/modelgate/tls.crt")
	_, err = Load("testdata/minimal.good.yaml")
	if err == nil || !strings.Contains(err.Error(), "server.tls.key_file: is required") {
		t.Errorf("only MODELGATE_SERVER_TLS_CERT_FILE set: got %v, want server.tls.key_file required", err)
	}
	t.Setenv("MODELGATE_TRACING_SAMPLING_RATIO", "1.5")
	if _, err := Load("testdata/minimal.good.yaml"); err == nil || !strings.Contains(err.Error(), "tracing.sampling_ratio: must be between 0 and 1") {
		t.Errorf("MODELGATE_TRACING_SAMPLING_RATIO=1.5: got %v, want the validation error", err)
	}
}
