package configs

import (
	"strings"
	"testing"
)

// TestStateDefaults checks state.redis's documented defaults and that
// scope is per limits block.
func TestStateDefaults(t *testing.T) {
	cfg, err := Load("testdata/state.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := Redis{Address: "127.0.0.1:6379", KeyPrefix: DefaultRedisKeyPrefix, Timeout: DefaultRedisTimeout, OnUnavailable: OnUnavailableLocal}
	if got := *cfg.State.Redis; got != want {
		t.Errorf("got state.redis %+v, want %+v", got, want)
	}
	if !cfg.Tenants[0].Limits.Global() {
		t.Error("tenant limits: got local, want global")
	}
	if cfg.Tenants[0].Models[0].Limits.Global() {
		t.Error("model limits without scope: got global, want local")
	}
}

// TestRedisPasswordFromEnv checks the password comes from password_env and
// never shows in the config's JSON (what /admin/config serves).
func TestRedisPasswordFromEnv(t *testing.T) {
	t.Setenv("MODELGATE_TEST_REDIS_SECRET", "s3cret-value")
	cfg, err := Parse([]byte(strings.Replace(minimalWithRedis, "PWENV", "MODELGATE_TEST_REDIS_SECRET", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.State.Redis.Password(); got != "s3cret-value" {
		t.Errorf("got password %q, want the variable's value", got)
	}
	if (&Redis{}).Password() != "" {
		t.Error("no password_env: got a password, want none")
	}
}

const minimalWithRedis = `
state:
  redis: {address: "127.0.0.1:6379", password_env: PWENV}
tenants:
  - name: acme
    api_keys: [{sha256: "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"}]
    models:
      - name: m
        versions: [{name: v1, weight: 1, endpoints: ["http://127.0.0.1:1"]}]
`
