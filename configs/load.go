package configs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// EnvPrefix prefixes environment variables that override settings:
// MODELGATE_SERVER_LISTEN overrides server.listen, and so on.
const EnvPrefix = "MODELGATE"

// envKeys are the settings environment variables may override: every
// scalar of the Config type outside the tenants list, derived from the
// mapstructure tags (server.*, server.tls.*, server.admin_tls.*, admin.*,
// logging.*, tracing.*). The variable is EnvPrefix + "_" + the key
// upper-cased with "_" for ".", e.g. MODELGATE_SERVER_TLS_CERT_FILE. An
// empty variable counts as unset. Setting a variable of an optional section
// (server.tls, server.admin_tls) turns that section on, with its other
// settings from the file or unset (cert_file and key_file are then required).
var envKeys = scalarKeys(reflect.TypeFor[Config](), "")

// scalarKeys lists the dotted keys of t's scalar fields (pointers to
// scalars included), entering structs and pointers to structs and skipping
// lists and maps (tenants), which a variable cannot express.
func scalarKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct {
			ft = ft.Elem()
		}
		switch ft.Kind() {
		case reflect.Struct:
			keys = append(keys, scalarKeys(ft, prefix+name+".")...)
		case reflect.Slice, reflect.Array, reflect.Map:
		default:
			keys = append(keys, prefix+name)
		}
	}
	return keys
}

// Load reads, decodes, defaults and validates the file at path. Errors from
// validation are an Errors value naming each mistake's YAML path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(data)
}

// Parse is Load for bytes already read.
func Parse(data []byte) (*Config, error) {
	v := viper.New()
	v.SetConfigType("yaml")
	v.SetEnvPrefix(EnvPrefix)
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	// Viper consults the environment only for keys it knows: bind each one.
	// No viper defaults: SetDefaults is the one place defaults come from.
	for _, k := range envKeys {
		if err := v.BindEnv(k); err != nil {
			return nil, fmt.Errorf("binding %s to the environment: %w", k, err)
		}
	}
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("parsing YAML: %w", err)
	}
	var cfg Config
	err := v.UnmarshalExact(&cfg, viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(
		mapstructure.StringToTimeDurationHookFunc(),
	)))
	if err != nil {
		return nil, decodeErrors(err)
	}
	sum := sha256.Sum256(data)
	cfg.Hash = hex.EncodeToString(sum[:])
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// decodeErrors turns mapstructure's errors into path-named Errors.
func decodeErrors(err error) error {
	var out Errors
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, c := range j.Unwrap() {
				walk(c)
			}
			return
		}
		de, ok := e.(*mapstructure.DecodeError)
		if !ok {
			if inner := errors.Unwrap(e); inner != nil {
				walk(inner)
				return
			}
		}
		if ok {
			inner := de.Unwrap()
			msg := inner.Error()
			if keys, ok := strings.CutPrefix(msg, "has invalid keys: "); ok {
				for k := range strings.SplitSeq(keys, ", ") {
					out = append(out, Error{Path: joinPath(de.Name(), k), Msg: "unknown field"})
				}
				return
			}
			// Nested decode errors carry their own full name.
			var nested *mapstructure.DecodeError
			if errors.As(inner, &nested) {
				walk(inner)
				return
			}
			out = append(out, Error{Path: de.Name(), Msg: cleanDecodeMsg(msg)})
			return
		}
		out = append(out, Error{Msg: e.Error()})
	}
	walk(err)
	if len(out) == 0 {
		return err
	}
	return out
}

func joinPath(parent, key string) string {
	if parent == "" || strings.HasPrefix(parent, "configs.") {
		return key
	}
	return parent + "." + key
}

// cleanDecodeMsg shortens mapstructure's type errors for operators.
func cleanDecodeMsg(msg string) string {
	if strings.Contains(msg, "invalid duration") || strings.Contains(msg, "missing unit in duration") {
		return "must be a duration such as 2s or 500ms"
	}
	if strings.Contains(msg, "cannot parse value as 'int'") || strings.Contains(msg, "expected type 'int") {
		return "must be an integer"
	}
	if strings.Contains(msg, "cannot parse value as 'float") || strings.Contains(msg, "expected type 'float") {
		return "must be a number"
	}
	return msg
}
