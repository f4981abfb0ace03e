package configs

import (
	"net"
	"os"
	"time"
)

// Defaults of state.redis.
const (
	DefaultRedisKeyPrefix     = "modelgate:"
	DefaultRedisTimeout       = 250 * time.Millisecond
	DefaultRedisOnUnavailable = OnUnavailableLocal
)

// Values of Limits.Scope.
const (
	// ScopeLocal: each replica enforces the limit by itself (N replicas
	// admit up to N times requests_per_second).
	ScopeLocal = "local"
	// ScopeGlobal: requests_per_second and burst hold across every replica
	// sharing state.redis.
	ScopeGlobal = "global"
)

// Values of Redis.OnUnavailable.
const (
	// OnUnavailableLocal: while Redis cannot be reached, each replica
	// enforces requests_per_second ÷ N and burst ÷ N (rounded up, at least
	// 1) by itself, N being the last replica count Redis told (1 before any).
	OnUnavailableLocal = "local"
	// OnUnavailableOpen: global rate limits admit every request while Redis
	// cannot be reached (max_in_flight still applies).
	OnUnavailableOpen = "open"
	// OnUnavailableClosed: global rate limits refuse every request (429,
	// Retry-After 1) while Redis cannot be reached.
	OnUnavailableClosed = "closed"
)

// State configures what several replicas of the gateway share. It is
// static: a change needs a restart (a reload logs a warning and keeps the
// running connection). Without it every replica is alone and nothing below
// applies.
type State struct {
	// Redis, when set, is the Redis (or Valkey) server the replicas share.
	// Phase 1 (docs/REPLICAS.md) shares global rate limits only.
	Redis *Redis `mapstructure:"redis" json:"redis,omitempty"`
}

// Redis is the connection to the shared Redis server.
type Redis struct {
	// Address is host:port of the Redis server. Required.
	Address string `mapstructure:"address" json:"address"`
	// Username is the ACL user (Redis 6+). Default "" (the default user).
	Username string `mapstructure:"username" json:"username,omitempty"`
	// PasswordEnv names the environment variable holding the password, read
	// at start; the password itself is never in the file, the logs or
	// /admin/config. Default "" (no password). When set, the variable must
	// be set and not empty.
	PasswordEnv string `mapstructure:"password_env" json:"password_env,omitempty"`
	// TLS connects over TLS, verifying the server against the system roots.
	// Default false.
	TLS bool `mapstructure:"tls" json:"tls,omitempty"`
	// KeyPrefix starts every key the gateway writes, so several gateways
	// (or other programs) can share one Redis. Default "modelgate:".
	KeyPrefix string `mapstructure:"key_prefix" json:"key_prefix"`
	// Timeout bounds one Redis call: dial, write and read. A request whose
	// admission call times out is decided by OnUnavailable. Default 250ms.
	Timeout time.Duration `mapstructure:"timeout" json:"timeout"`
	// OnUnavailable is how global rate limits decide while Redis cannot be
	// reached: "local" (default; limit ÷ last known replica count), "open"
	// (admit) or "closed" (refuse). Redis is retried once a second; when it
	// answers, limits are global again without a restart.
	OnUnavailable string `mapstructure:"on_unavailable" json:"on_unavailable"`
}

// Password returns the Redis password from the environment variable
// PasswordEnv ("" when PasswordEnv is unset).
func (r *Redis) Password() string {
	if r.PasswordEnv == "" {
		return ""
	}
	return os.Getenv(r.PasswordEnv)
}

// DefaultRedis returns the defaults of state.redis.
func DefaultRedis() Redis {
	return Redis{KeyPrefix: DefaultRedisKeyPrefix, Timeout: DefaultRedisTimeout, OnUnavailable: DefaultRedisOnUnavailable}
}

// Global reports whether l's rate limit is shared by every replica.
func (l Limits) Global() bool { return l.Scope == ScopeGlobal }

func (v *validator) state(s *State) {
	r := s.Redis
	if r == nil {
		return
	}
	if _, _, err := net.SplitHostPort(r.Address); err != nil {
		v.add("state.redis.address", "must be host:port, got %q", r.Address)
	}
	if r.PasswordEnv != "" && os.Getenv(r.PasswordEnv) == "" {
		v.add("state.redis.password_env", "environment variable %s is not set", r.PasswordEnv)
	}
	if r.Timeout <= 0 {
		v.add("state.redis.timeout", "must be positive")
	}
	switch r.OnUnavailable {
	case OnUnavailableLocal, OnUnavailableOpen, OnUnavailableClosed:
	default:
		v.add("state.redis.on_unavailable", "must be one of %s, %s, %s, got %q", OnUnavailableLocal, OnUnavailableOpen, OnUnavailableClosed, r.OnUnavailable)
	}
}

// scope checks a limits block's scope against the state section.
func (v *validator) scope(p string, l *Limits, s *State) {
	switch l.Scope {
	case "", ScopeLocal:
	case ScopeGlobal:
		if s.Redis == nil {
			v.add(p+".scope", "global needs state.redis (the replicas' shared Redis)")
		}
	default:
		v.add(p+".scope", "must be %s or %s, got %q", ScopeLocal, ScopeGlobal, l.Scope)
	}
}

// Unlimited reports whether l limits nothing (every limit zero, whatever
// its scope).
func (l Limits) Unlimited() bool {
	l.Scope = ""
	return l == Limits{}
}
