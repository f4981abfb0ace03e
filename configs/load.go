package configs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/viper"
)

// EnvPrefix prefixes environment variables that override scalar settings:
// MODELGATE_SERVER_LISTEN overrides server.listen, and so on.
const EnvPrefix = "MODELGATE"

// scalarKeys are the settings environment variables may override, with
// their defaults (viper only consults the environment for keys it knows).
var scalarKeys = map[string]any{
	"server.listen":           DefaultListen,
	"server.admin_listen":     DefaultAdminListen,
	"server.max_body_bytes":   DefaultMaxBodyBytes,
	"server.max_header_bytes": DefaultMaxHeaderBytes,
	"server.read_timeout":     DefaultReadTimeout,
	"server.write_timeout":    DefaultWriteTimeout,
	"server.idle_timeout":     DefaultIdleTimeout,
	"server.shutdown_timeout": DefaultShutdownTimeout,
	"server.upstream_ca_file": "",
	"admin.token_sha256":      "",
	"admin.pprof":             false,
	"logging.level":           "info",
	"logging.access_log":      false,
	"tracing.endpoint":        "",
	"tracing.service_name":    "modelgate",
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
	v.AutomaticEnv()
	for k, d := range scalarKeys {
		v.SetDefault(k, d)
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
