package configs

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestGoodConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/*.good.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no good configs: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, err := Load(f)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if len(cfg.Hash) != 64 {
				t.Errorf("got hash %q, want 64 hex characters", cfg.Hash)
			}
		})
	}
}

// TestBadConfigs checks that every mistake in a bad file is reported, in
// order, with its YAML path, and nothing else is.
func TestBadConfigs(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		// An editor's truncate-then-write shows the watcher an empty file.
		{"empty.bad.yaml", []string{"tenants: at least one tenant is required"}},
		{"no_tenants.bad.yaml", []string{"tenants: at least one tenant is required"}},
		{"weight.bad.yaml", []string{
			"tenants[0].models[1].versions[2].weight: must not be negative",
		}},
		{"unknown.bad.yaml", []string{
			"server.listne: unknown field",
			"tenants[0].models[0].versions[0].endpoint: unknown field",
			"tenants[0].models[0].timout: unknown field",
		}},
		{"types.bad.yaml", []string{
			"tenants[0].models[0].timeout: must be a duration such as 2s or 500ms",
			"tenants[0].models[0].versions[0].weight: must be an integer",
		}},
		{"names.bad.yaml", []string{
			`tenants[0].name: must be 1-63 characters of A-Z a-z 0-9 . _ -, got "ac me"`,
			`tenants[0].models[0].name: must be 1-128 characters of A-Z a-z 0-9 . _ -, got "../etc"`,
			"tenants[0].models[0].versions[0].name: is required",
			`tenants[0].models[0].versions[1].container_version: must be 1-128 characters of A-Z a-z 0-9 . _ -, got "../1"`,
			"tenants[0].models[0].versions[2].upstream_model: must be at most 256 bytes of UTF-8 without control characters",
			`tenants[1].name: must be 1-63 characters of A-Z a-z 0-9 . _ -, got "ac me"`,
			"tenants[1].api_keys: at least one key is required",
			"tenants[1].models: at least one model is required",
		}},
		{"duplicates.bad.yaml", []string{
			`tenants[0].models[0].versions[0].endpoints[1]: duplicate endpoint "http://127.0.0.1:8001"`,
			`tenants[0].models[0].versions[1].name: duplicate version "v1" (also versions[0])`,
			`tenants[0].models[1].name: duplicate model "fraud" (also models[0])`,
			`tenants[1].name: duplicate tenant "acme" (also tenants[0])`,
			"tenants[1].api_keys[0].sha256: key already belongs to tenants[0]",
		}},
		{"references.bad.yaml", []string{
			"tenants[0].models[0].versions[1].endpoints: at least one endpoint is required",
			"tenants[0].models[0].versions: at least one version must have a positive weight",
			`tenants[0].models[0].fallback: names no version of this model: "v9"`,
			`tenants[0].models[0].shadow.version: names no version of this model: "v8"`,
			"tenants[0].models[0].shadow.percent: must be between 0 and 100",
			"tenants[0].models[0].shadow.tolerance: must be a finite number, not negative",
		}},
		{"nan.bad.yaml", []string{
			"tracing.sampling_ratio: must be between 0 and 1",
			"tenants[0].models[0].shadow.percent: must be between 0 and 100",
			"tenants[0].models[0].shadow.tolerance: must be a finite number, not negative",
			"tenants[0].models[0].shadow.relative_tolerance: must be a finite number, not negative",
			"tenants[0].models[0].breaker.failure_ratio: must be between 0 and 1",
			"tenants[0].models[0].retry.budget: must be between 0 and 1",
		}},
		{"operators.bad.yaml", []string{
			"admin.operators[0].token_sha256: token already belongs to admin.token_sha256",
			`admin.operators[1].name: duplicate operator "alice" (also admin.operators[0])`,
			`admin.operators[1].role: must be one of viewer, operator, approver, admin, got "boss"`,
			`admin.operators[2].name: must be 1-128 characters of A-Z a-z 0-9 . _ -, got "b c"`,
			"admin.operators[2].token_sha256: must be 64 hex characters (the SHA-256 of the token)",
			`admin.operators[2].tenants[1]: names no tenant: "globex"`,
		}},
		{"grpc.bad.yaml", []string{
			"server.grpc_listen: must differ from server.listen",
			`tenants[0].models[0].versions[0].grpc_endpoints[0]: must be host:port without a scheme, got "http://127.0.0.1:9001"`,
			`tenants[0].models[0].versions[0].grpc_endpoints[1]: must be host:port, got "127.0.0.1"`,
			`tenants[0].models[0].versions[0].grpc_endpoints[3]: duplicate endpoint "127.0.0.1:9002"`,
			`tenants[0].models[0].versions[0].grpc_endpoints[4]: must be host:port, got ":9003"`,
		}},
		{"upstream.bad.yaml", []string{
			"server.max_answer_bytes: must not be negative",
			"tenants[0].models[0].versions[0].endpoints: at most 64 endpoints, got 65",
		}},
		{"state.bad.yaml", []string{
			`state.redis.address: must be host:port, got "redis-without-port"`,
			"state.redis.password_env: environment variable MODELGATE_TEST_UNSET_REDIS_PASSWORD is not set",
			"state.redis.timeout: must be positive",
			`state.redis.on_unavailable: must be one of local, open, closed, got "sometimes"`,
			`tenants[0].limits.scope: must be local or global, got "everywhere"`,
		}},
		{"scope.bad.yaml", []string{
			"tenants[0].limits.scope: global needs state.redis (the replicas' shared Redis)",
			"tenants[0].models[0].limits.scope: global needs state.redis (the replicas' shared Redis)",
		}},
		{"values.bad.yaml", []string{
			`server.listen: must be host:port, got "localhost"`,
			"server.max_body_bytes: must not be negative",
			"admin.token_sha256: must be 64 hex characters (the SHA-256 of the token)",
			`logging.level: must be one of debug, info, warn, error, got "loud"`,
			"tenants[0].limits.requests_per_second: must be a finite number, not negative",
			"tenants[0].limits.max_in_flight: must not be negative",
			`tenants[0].models[0].sticky_header: must be a valid HTTP header name, got "X User"`,
			`tenants[0].models[0].versions[0].endpoints[0]: must start with http:// or https://, got "ftp://10.0.0.1"`,
			"tenants[0].models[0].versions[0].endpoints[1]: must not contain credentials",
			`tenants[0].models[0].versions[0].endpoints[2]: must be a base URL without a path, got "http://10.0.0.1/model"`,
			`tenants[0].models[0].breaker.server_errors: must be "corroborated" or "failure", not "sometimes"`,
			"tenants[0].models[0].breaker.max_ejection_percent: must be between 0 and 100",
			"tenants[0].models[0].breaker.panic_threshold: must be between 0 and 100",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			cfg, err := Load(filepath.Join("testdata", tt.file))
			if err == nil {
				t.Fatalf("Load accepted a bad config: %+v", cfg)
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("got %T %v, want configs.Errors", err, err)
			}
			got := strings.Split(errs.Error(), "\n")
			if !slices.Equal(got, tt.want) {
				t.Errorf("got errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestBadYAMLSyntax(t *testing.T) {
	_, err := Parse([]byte("tenants: [\n  - name: x\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "parsing YAML: ") {
		t.Errorf("got %v, want a parsing YAML error", err)
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := Load("testdata/minimal.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Server
	if s.Listen != DefaultListen || s.AdminListen != DefaultAdminListen || s.MaxBodyBytes != DefaultMaxBodyBytes ||
		s.MaxAnswerBytes != DefaultMaxAnswerBytes {
		t.Errorf("got server %+v, want the documented defaults", s)
	}
	m := cfg.Tenants[0].Models[0]
	if m.Timeout != DefaultModelTimeout || m.ConnectTimeout != DefaultConnectTimeout {
		t.Errorf("got timeout %v connect %v, want %v %v", m.Timeout, m.ConnectTimeout, DefaultModelTimeout, DefaultConnectTimeout)
	}
	if m.Retry.RetryAttempts() != DefaultRetryAttempts || m.HealthCheck.Path != DefaultHealthPath {
		t.Errorf("got retry %d health path %q, want defaults", m.Retry.RetryAttempts(), m.HealthCheck.Path)
	}
	if cfg.Logging.Level != "info" {
		t.Errorf("got logging level %q, want info", cfg.Logging.Level)
	}

	full, err := Load("testdata/full.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fm := full.Tenants[0].Models[0]
	if fm.Timeout != 2*time.Second || fm.StickyHeader != "X-User-ID" || fm.Fallback != "v1" {
		t.Errorf("got model %+v, want the file's values", fm)
	}
	if cv := []string{fm.Versions[0].ContainerVersion, fm.Versions[1].ContainerVersion}; cv[0] != "" || cv[1] != "2" {
		t.Errorf("got container versions %q, want the default \"\" for v1 and the file's \"2\" for v2", cv)
	}
	sh := fm.Shadow
	if sh == nil || sh.Version != "v3" || sh.SharePercent() != 100 || sh.Tolerance != 0.001 ||
		!slices.Equal(sh.IgnoreFields, DefaultIgnoreFields) || sh.Timeout != 2*time.Second {
		t.Errorf("got shadow %+v, want file values with defaults filled", sh)
	}
	if l := full.Tenants[0].Limits; l.RequestsPerSecond != 100 || l.Burst != 200 || l.MaxInFlight != 32 {
		t.Errorf("got limits %+v", l)
	}
}

func TestEnvOverrides(t *testing.T) {
	t.Setenv("MODELGATE_SERVER_LISTEN", "127.0.0.1:18080")
	t.Setenv("MODELGATE_SERVER_MAX_BODY_BYTES", "2048")
	t.Setenv("MODELGATE_LOGGING_LEVEL", "debug")
	cfg, err := Load("testdata/full.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Listen != "127.0.0.1:18080" || cfg.Server.MaxBodyBytes != 2048 || cfg.Logging.Level != "debug" {
		t.Errorf("got listen %q max_body_bytes %d level %q, want the environment's values",
			cfg.Server.Listen, cfg.Server.MaxBodyBytes, cfg.Logging.Level)
	}
	if cfg.Server.AdminListen != "127.0.0.1:9090" {
		t.Errorf("got admin_listen %q, want the file's value", cfg.Server.AdminListen)
	}

	t.Setenv("MODELGATE_LOGGING_LEVEL", "loud")
	if _, err := Load("testdata/full.good.yaml"); err == nil || !strings.Contains(err.Error(), "logging.level: must be one of") {
		t.Errorf("got %v, want a logging.level error for a bad environment value", err)
	}
}

func TestValidName(t *testing.T) {
	for _, tt := range []struct {
		name string
		want bool
	}{
		{"fraud", true}, {"v1.2_rc-3", true}, {"A", true},
		{"", false}, {".", false}, {"..", false}, {"a/b", false}, {"a b", false}, {"é", false},
		{"...", true}, {strings.Repeat("a", MaxNameLen), true}, {strings.Repeat("a", MaxNameLen+1), false},
	} {
		if got := ValidName(tt.name); got != tt.want {
			t.Errorf("ValidName(%q): got %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestEndpointLimit: a version may list up to MaxEndpointsPerVersion
// endpoints, all of them usable; one more is refused with its YAML path.
func TestEndpointLimit(t *testing.T) {
	doc := func(n int) string {
		var b strings.Builder
		b.WriteString("tenants:\n  - name: acme\n    api_keys: [{sha256: \"2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b\"}]\n" +
			"    models:\n      - name: fraud\n        versions:\n          - name: v1\n            weight: 1\n            endpoints:\n")
		for i := range n {
			fmt.Fprintf(&b, "              - http://10.0.%d.%d:8000\n", i/200, i%200+1)
		}
		return b.String()
	}
	if _, err := Parse([]byte(doc(MaxEndpointsPerVersion))); err != nil {
		t.Errorf("%d endpoints: got %v, want valid", MaxEndpointsPerVersion, err)
	}
	want := "tenants[0].models[0].versions[0].endpoints: at most 64 endpoints, got 65"
	if _, err := Parse([]byte(doc(MaxEndpointsPerVersion + 1))); err == nil || err.Error() != want {
		t.Errorf("%d endpoints: got %v, want %q", MaxEndpointsPerVersion+1, err, want)
	}
}
