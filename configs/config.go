// Package configs holds modelgate's configuration types, their defaults,
// loading (the only place viper is used) and validation.
//
// A *Config returned by Load or Parse is read-only: the gateway builds its
// routing snapshot from it and never mutates it, so it may be shared between
// goroutines without locking.
//
// Static settings (server.listen, server.admin_listen, server.max_body_bytes,
// TLS listeners) need a restart; everything under tenants, admin.token_sha256,
// logging and tracing reloads live. Environment variables MODELGATE_<PATH>
// override every scalar setting outside tenants (see EnvPrefix).
package configs

import "time"

// Default values applied by Load and Parse for settings the file leaves out.
const (
	DefaultListen          = "127.0.0.1:8080"
	DefaultAdminListen     = "127.0.0.1:9090"
	DefaultMaxBodyBytes    = 10 << 20 // 10 MiB
	DefaultMaxHeaderBytes  = 16 << 10 // 16 KiB
	DefaultMaxConnections  = 10000
	DefaultReadTimeout     = 30 * time.Second
	DefaultWriteTimeout    = 30 * time.Second
	DefaultIdleTimeout     = 90 * time.Second
	DefaultShutdownTimeout = 15 * time.Second
	DefaultModelTimeout    = 30 * time.Second
	DefaultConnectTimeout  = 2 * time.Second
	DefaultMaxConnsPerHost = 1024
	DefaultMaxAnswerBytes  = 64 << 20 // 64 MiB

	// MaxEndpointsPerVersion bounds a version's endpoints: the picker keeps
	// its candidates on the stack and marks tried endpoints in a 64-bit set.
	MaxEndpointsPerVersion = 64
)

// Config is the whole configuration file. It needs at least one tenant, so
// an empty or truncated file is invalid and cannot replace a running config.
type Config struct {
	Server  Server  `mapstructure:"server" json:"server"`
	Admin   Admin   `mapstructure:"admin" json:"admin"`
	Logging Logging `mapstructure:"logging" json:"logging"`
	Tracing Tracing `mapstructure:"tracing" json:"tracing"`
	// State is what replicas share (state.go). Static: needs a restart.
	State   State    `mapstructure:"state" json:"state"`
	Tenants []Tenant `mapstructure:"tenants" json:"tenants"`

	// Hash is the hex SHA-256 of the file's bytes, set by Load/Parse. It is
	// exported as modelgate_config_info{hash} and shown by /admin/config.
	Hash string `mapstructure:"-" json:"hash"`
}

// Server holds the listener settings. They are static: changing them in a
// reloaded file has no effect until restart (a reload logs a warning).
type Server struct {
	// Listen is the address for prediction traffic. Default "127.0.0.1:8080".
	Listen string `mapstructure:"listen" json:"listen"`
	// AdminListen is the address for /metrics, health and the admin API.
	// Default "127.0.0.1:9090".
	AdminListen string `mapstructure:"admin_listen" json:"admin_listen"`
	// GRPCListen, when set, is the host:port of a second traffic listener
	// serving the Open Inference Protocol over gRPC
	// (inference.GRPCInferenceService, package gateway/grpcproxy): the same
	// tenants, keys, models and splits as the REST listener, forwarded to
	// each version's grpc_endpoints. Plaintext HTTP/2 (h2c), or TLS with
	// the traffic listener's certificate when server.tls is set. It must
	// differ from listen and admin_listen. Default "" (off). Needs a
	// restart.
	GRPCListen string `mapstructure:"grpc_listen" json:"grpc_listen,omitempty"`
	// MaxBodyBytes caps a request body; larger requests get 413 and never
	// reach a model. Default 10 MiB.
	MaxBodyBytes int64 `mapstructure:"max_body_bytes" json:"max_body_bytes"`
	// MaxAnswerBytes caps the body of a model container's answer, after
	// transfer decoding (the bytes the gateway would hold in memory). An
	// answer over it gets the client a 502 "upstream answer too large"
	// (counted as modelgate_rejected_requests_total{reason="answer_too_large"}),
	// is not retried and does not count against the endpoint's breaker; an
	// answer that announces a larger Content-Length is refused before its
	// body is read. It applies to every endpoint (one connection pool per
	// endpoint URL, shared by every model listing it), to shadow answers
	// too, and needs a restart. Default 64 MiB.
	MaxAnswerBytes int64 `mapstructure:"max_answer_bytes" json:"max_answer_bytes"`
	// MaxHeaderBytes caps the request line plus headers. Default 16 KiB.
	MaxHeaderBytes int `mapstructure:"max_header_bytes" json:"max_header_bytes"`
	// MaxConnections caps the traffic listener's concurrent connections;
	// more are refused. With bodies read only after authentication (see
	// docs/SECURITY.md), memory held by connections that have not
	// authenticated is about MaxConnections × (40 KiB + 2 × MaxHeaderBytes).
	// Default 10000.
	MaxConnections int `mapstructure:"max_connections" json:"max_connections"`
	// ReadTimeout bounds reading one whole request (slow clients). Default 30s.
	ReadTimeout time.Duration `mapstructure:"read_timeout" json:"read_timeout"`
	// WriteTimeout bounds writing one response. Default 30s.
	WriteTimeout time.Duration `mapstructure:"write_timeout" json:"write_timeout"`
	// IdleTimeout closes keep-alive connections idle this long. Default 90s.
	IdleTimeout time.Duration `mapstructure:"idle_timeout" json:"idle_timeout"`
	// ShutdownTimeout bounds how long SIGTERM waits for in-flight requests.
	// Default 15s.
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout" json:"shutdown_timeout"`
	// TLS, when set, serves prediction traffic over HTTPS, and gRPC
	// traffic (grpc_listen) over TLS with the same certificate.
	TLS *TLS `mapstructure:"tls" json:"tls,omitempty"`
	// AdminTLS, when set, serves the admin listener over HTTPS; with
	// client_ca_file, only clients with a certificate it signed (mTLS).
	AdminTLS *TLS `mapstructure:"admin_tls" json:"admin_tls,omitempty"`
	// UpstreamCAFile, when set, is a PEM bundle of the CAs trusted for
	// https:// endpoints instead of the system roots. Default "" (system
	// roots). Re-read on every reload; new upstream connections use the new
	// CAs, established ones stay up. A bundle that does not load fails the
	// whole reload.
	UpstreamCAFile string `mapstructure:"upstream_ca_file" json:"upstream_ca_file,omitempty"`
}

// TLS configures a listener's certificate. The files are re-read on every
// config reload (file change, SIGHUP, POST /admin/reload), so certificates
// rotate without a restart; if they fail to load, the whole reload fails
// and the previous certificates (and config) stay.
type TLS struct {
	// CertFile is the PEM certificate chain. Required.
	CertFile string `mapstructure:"cert_file" json:"cert_file"`
	// KeyFile is the PEM private key. Required.
	KeyFile string `mapstructure:"key_file" json:"key_file"`
	// MinVersion is "1.2" or "1.3". Default "1.2".
	MinVersion string `mapstructure:"min_version" json:"min_version"`
	// ClientCAFile, when set, requires client certificates signed by it (mTLS).
	ClientCAFile string `mapstructure:"client_ca_file" json:"client_ca_file,omitempty"`
}

// Admin configures the admin API.
type Admin struct {
	// TokenSHA256 is the hex SHA-256 of a bearer token with role admin
	// (every admin endpoint), named "admin" in the audit log: the same as
	// an operator {name: admin, role: admin}. Empty: no such token.
	TokenSHA256 string `mapstructure:"token_sha256" json:"-"`
	// Operators are the people and tools allowed on the admin API, each
	// with a bearer token, a role and optionally a tenant scope. Every
	// admin endpoint but /metrics, /healthz and /readyz needs one of them
	// (or TokenSHA256); with none configured those endpoints answer 403.
	Operators []Operator `mapstructure:"operators" json:"-"`
	// Pprof exposes /debug/pprof/ on the admin listener to role admin.
	// Default false.
	Pprof bool `mapstructure:"pprof" json:"pprof"`
	// KeepRevisions is how many routing revisions the data directory keeps
	// (the oldest are deleted beyond it; numbers are never reused). Read
	// at start. Default 200.
	KeepRevisions int `mapstructure:"keep_revisions" json:"keep_revisions"`
}

// Operator is one user of the admin API.
type Operator struct {
	// Name identifies the operator in the audit log and in revisions;
	// required, unique, [A-Za-z0-9._-].
	Name string `mapstructure:"name" json:"name"`
	// TokenSHA256 is the hex SHA-256 of the operator's bearer token;
	// required, unique among operators and admin.token_sha256.
	TokenSHA256 string `mapstructure:"token_sha256" json:"-"`
	// Role is one of RoleViewer (read), RoleOperator (viewer, and change
	// weights, roll back, reload), RoleApprover (operator, and approve
	// rollout steps) and RoleAdmin (everything, pprof included). Required.
	Role string `mapstructure:"role" json:"role"`
	// Tenants, if set, scope the operator to those tenants (each must be a
	// configured tenant): other tenants' routes, revisions and audit
	// entries are invisible to it (404, not 403), and actions over every
	// tenant (reload, rollback of the whole routing) are refused (403).
	// Empty: every tenant.
	Tenants []string `mapstructure:"tenants" json:"tenants,omitempty"`
}

// The roles of the admin API, each allowed what the ones before it are.
const (
	RoleViewer   = "viewer"
	RoleOperator = "operator"
	RoleApprover = "approver"
	RoleAdmin    = "admin"
)

// RoleRank orders the roles (0 for an unknown one): a role may do what
// every role of a lower rank may.
func RoleRank(role string) int {
	switch role {
	case RoleViewer:
		return 1
	case RoleOperator:
		return 2
	case RoleApprover:
		return 3
	case RoleAdmin:
		return 4
	}
	return 0
}

// Logging configures the structured (JSON) logs.
type Logging struct {
	// Level is debug, info, warn or error. Default info.
	Level string `mapstructure:"level" json:"level"`
	// AccessLog writes one JSON line ("msg":"access") per proxied request:
	// request id, tenant, model, version, role, status, total and upstream
	// duration, bytes; 5xx lines are at warn with the cause. Default false.
	AccessLog bool `mapstructure:"access_log" json:"access_log"`
	// AccessLogSampleRatio is the share (0–1) of non-5xx requests that get a
	// line; 5xx answers are always logged. Default 1 (every request).
	AccessLogSampleRatio *float64 `mapstructure:"access_log_sample_ratio" json:"access_log_sample_ratio,omitempty"`
}

// Tracing configures OpenTelemetry export over OTLP/HTTP. Disabled when
// Endpoint is empty and OTEL_EXPORTER_OTLP_ENDPOINT and
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT are unset, or when OTEL_SDK_DISABLED=true.
// The other standard OTEL_EXPORTER_OTLP_* variables (headers, TLS,
// compression, timeout) apply. Reloadable.
type Tracing struct {
	// Endpoint is the OTLP/HTTP collector's base URL, e.g.
	// "http://127.0.0.1:4318"; "/v1/traces" is appended when it has no path.
	Endpoint string `mapstructure:"endpoint" json:"endpoint"`
	// SamplingRatio for new traces, 0–1; requests with a sampled or
	// unsampled caller follow the caller (parent-based). Default
	// OTEL_TRACES_SAMPLER_ARG if set, else 1.0.
	SamplingRatio *float64 `mapstructure:"sampling_ratio" json:"sampling_ratio,omitempty"`
	// ServiceName is the service.name resource attribute; default
	// "modelgate". OTEL_SERVICE_NAME overrides it.
	ServiceName string `mapstructure:"service_name" json:"service_name"`
}

// Tenant is one calling organisation: its keys, limits and models. A tenant
// can reach only its own models.
type Tenant struct {
	// Name is required, unique, [A-Za-z0-9._-], at most 63 characters.
	Name string `mapstructure:"name" json:"name"`
	// APIKeys lists the SHA-256 of each accepted key; several allow rotation.
	APIKeys []APIKey `mapstructure:"api_keys" json:"-"`
	// Limits is the tenant's admission control; zero values mean unlimited.
	Limits Limits `mapstructure:"limits" json:"limits"`
	// Models are the tenant's models; at least one.
	Models []Model `mapstructure:"models" json:"models"`
}

// APIKey is one accepted key, stored only as its SHA-256.
type APIKey struct {
	// SHA256 is the lowercase or uppercase hex SHA-256 of the key (64 chars).
	SHA256 string `mapstructure:"sha256" json:"-"`
	// Name optionally labels the key for operators (never logged with it).
	Name string `mapstructure:"name" json:"name,omitempty"`
}

// Limits is admission control for a tenant or a model. Zero means unlimited.
type Limits struct {
	// RequestsPerSecond is the token-bucket rate. 0 = no rate limit.
	RequestsPerSecond float64 `mapstructure:"requests_per_second" json:"requests_per_second"`
	// Burst is the bucket size. Default max(1, ceil(RequestsPerSecond)).
	Burst int `mapstructure:"burst" json:"burst"`
	// MaxInFlight caps concurrent requests. 0 = unlimited.
	MaxInFlight int `mapstructure:"max_in_flight" json:"max_in_flight"`
	// MaxQueue is how many requests over MaxInFlight may wait for a slot,
	// first come first served. Default 0 (over MaxInFlight → 429 at once).
	MaxQueue int `mapstructure:"max_queue" json:"max_queue"`
	// MaxQueueWait bounds a queued request's wait; then it gets 429.
	// Default 0 (no queueing).
	MaxQueueWait time.Duration `mapstructure:"max_queue_wait" json:"max_queue_wait"`
	// Scope is where requests_per_second and burst hold: "local" (the
	// default, also when unset: each replica alone) or "global" (across every replica sharing
	// state.redis, which it requires). max_in_flight, max_queue and
	// max_queue_wait are always per replica: a slot is released by the
	// replica holding it, and a replica that crashed would leak shared
	// slots for good.
	Scope string `mapstructure:"scope" json:"scope"`
	// TokensPerMinute is a budget of LLM tokens (prompt + completion, as the
	// answers' usage reports them) for OpenAI requests: a token bucket of
	// that size refilled at TokensPerMinute/60 per second. A request
	// reserves an estimate before its call and settles the real usage
	// after (docs/LLM.md). 0 = no token limit; at most MaxTokensPerMinute.
	// Always per replica, whatever Scope says.
	TokensPerMinute int `mapstructure:"tokens_per_minute" json:"tokens_per_minute,omitempty"`
}

// MaxTokensPerMinute bounds limits.tokens_per_minute (2^40).
const MaxTokensPerMinute = 1 << 40

// Model is one model of a tenant with its versions.
type Model struct {
	// Name is required, unique within the tenant, [A-Za-z0-9._-], ≤ 128 chars.
	Name string `mapstructure:"name" json:"name"`
	// Timeout is the whole upstream budget per request, retries included.
	// Default 30s.
	Timeout time.Duration `mapstructure:"timeout" json:"timeout"`
	// ConnectTimeout bounds dialing an endpoint. Default 2s.
	ConnectTimeout time.Duration `mapstructure:"connect_timeout" json:"connect_timeout"`
	// StickyHeader, when set and present on a request, makes the version a
	// deterministic function of (tenant, model, header value).
	StickyHeader string `mapstructure:"sticky_header" json:"sticky_header,omitempty"`
	// Fallback names a version that serves requests the chosen version could
	// not (no available endpoint, attempts exhausted).
	Fallback string `mapstructure:"fallback" json:"fallback,omitempty"`
	// FallbackPinned lets pinned requests fall back too. Default false.
	FallbackPinned bool `mapstructure:"fallback_pinned" json:"fallback_pinned,omitempty"`
	// Shadow mirrors a share of requests to another version and compares.
	Shadow *Shadow `mapstructure:"shadow" json:"shadow,omitempty"`
	// Limits optionally adds per-model admission control.
	Limits *Limits `mapstructure:"limits" json:"limits,omitempty"`
	// Breaker configures the per-endpoint circuit breakers.
	Breaker Breaker `mapstructure:"breaker" json:"breaker"`
	// HealthCheck configures active health checks of the endpoints.
	HealthCheck HealthCheck `mapstructure:"health_check" json:"health_check"`
	// Retry configures retries on another endpoint of the same version.
	Retry Retry `mapstructure:"retry" json:"retry"`
	// LogPayloads allows shadow mismatch records to keep whole payloads.
	// Default false (payloads may be personal data).
	LogPayloads bool `mapstructure:"log_payloads" json:"log_payloads,omitempty"`
	// Versions are the model's versions; at least one with positive weight.
	Versions []Version `mapstructure:"versions" json:"versions"`
	// Rollout, when set, releases one version progressively (rollout.go).
	Rollout *Rollout `mapstructure:"rollout" json:"rollout,omitempty"`
}

// Version is one deployed version of a model.
type Version struct {
	// Name is required, unique within the model, [A-Za-z0-9._-].
	Name string `mapstructure:"name" json:"name"`
	// Weight is the share of unpinned traffic (weight / sum of weights).
	// 0 gets no unpinned traffic but can be pinned or shadowed.
	Weight int `mapstructure:"weight" json:"weight"`
	// Endpoints are base URLs (http:// or https://) of the version's
	// replicas; at least one, at most MaxEndpointsPerVersion (64).
	Endpoints []string `mapstructure:"endpoints" json:"endpoints"`
	// GRPCEndpoints are the host:port addresses of the version's replicas'
	// OIP gRPC servers (plaintext HTTP/2), where server.grpc_listen
	// forwards the version's gRPC calls; at most MaxEndpointsPerVersion,
	// no duplicates. Default none: the version is not reachable over gRPC
	// (a gRPC call routed to it gets UNAVAILABLE), REST is unaffected.
	GRPCEndpoints []string `mapstructure:"grpc_endpoints" json:"grpc_endpoints,omitempty"`
	// ContainerVersion is the version the model container knows this
	// version by. Default "": requests routed to this version are sent to
	// its endpoints on the unversioned path (/v2/models/M/infer,
	// /v2/models/M, /v2/models/M/ready, /v1/models/M:predict, :explain,
	// /v1/models/M), whatever the client's path named: the gateway's
	// version names are its own routing labels, unknown to most containers
	// (KServe answers every /versions/ path 501 or 404). Set, every request
	// routed to this version — chosen by the split, pinned, fallen back to
	// or copied as its shadow — is sent on the versioned path naming it
	// (/v2/models/M/versions/{container_version}/infer,
	// /v1/models/M/versions/{container_version}:predict, ...), e.g. Triton's
	// or TF Serving's "1", MLServer's "v0.1.0". Same rule as names:
	// [A-Za-z0-9._-], at most MaxNameLen characters, not "." or "..".
	ContainerVersion string `mapstructure:"container_version" json:"container_version,omitempty"`
	// UpstreamModel is the model name this version's containers know, for
	// OpenAI requests (/openai/v1/chat/completions and the others): the
	// gateway rewrites the body's "model" field to it before forwarding,
	// e.g. vLLM's served model name "meta-llama/Llama-3.1-8B-Instruct" for
	// the gateway's model "chat". Default "": the model field is sent as
	// the client wrote it, without a "@version" pin (a pinned
	// "chat@v2" reaches the container as "chat"). At most
	// MaxUpstreamModelLen bytes of UTF-8 without control characters.
	// KServe V1 and OIP requests are unaffected.
	UpstreamModel string `mapstructure:"upstream_model" json:"upstream_model,omitempty"`
}

// Shadow mirrors a share of a model's primary requests to another version.
type Shadow struct {
	// Version receives the copies; it must be one of the model's versions.
	Version string `mapstructure:"version" json:"version"`
	// Percent of primary requests copied, 0–100. Default 100.
	Percent *float64 `mapstructure:"percent" json:"percent"`
	// Tolerance is the absolute numeric tolerance. Default 0 (exact).
	Tolerance float64 `mapstructure:"tolerance" json:"tolerance"`
	// RelativeTolerance is the relative numeric tolerance. Default 0.
	RelativeTolerance float64 `mapstructure:"relative_tolerance" json:"relative_tolerance"`
	// IgnoreFields are JSON field names skipped by comparison.
	// Default ["id", "model_version", "model_name"].
	IgnoreFields []string `mapstructure:"ignore_fields" json:"ignore_fields"`
	// MaxInFlight is the model's shadow worker budget. Default 4.
	MaxInFlight int `mapstructure:"max_in_flight" json:"max_in_flight"`
	// MaxQueue is how many copies may wait for a worker. Default 64 when
	// absent. 0 means no queue: a copy is sent only if a worker is idle at
	// that moment, otherwise it is dropped (queue_full). Read it with
	// QueueLen.
	MaxQueue *int `mapstructure:"max_queue" json:"max_queue"`
	// MaxQueueBytes bounds, in bytes, the request and primary-answer bodies
	// held by the model's shadow copies, queued or in a call: a copy that
	// would take the total over it is dropped (queue_bytes) before anything
	// is copied. Default 64 MiB.
	MaxQueueBytes int64 `mapstructure:"max_queue_bytes" json:"max_queue_bytes"`
	// MaxBodyBytes, in bytes, bounds what is shadowed and compared: larger
	// requests are not shadowed (body_too_large), larger primary answers
	// are not copied (answer_too_large), and answers that decompress
	// (gzip, deflate, br, zstd) to more than this are not inflated further
	// and count as unreadable (primary_error or shadow_error, as is a shadow
	// answer over it). Default 1 MiB.
	MaxBodyBytes int64 `mapstructure:"max_body_bytes" json:"max_body_bytes"`
	// Timeout bounds one shadow call. Default: the model's timeout.
	Timeout time.Duration `mapstructure:"timeout" json:"timeout"`
}

// Breaker configures a per-endpoint circuit breaker (sony/gobreaker).
type Breaker struct {
	// ConsecutiveFailures opens the breaker. Default 5.
	ConsecutiveFailures uint32 `mapstructure:"consecutive_failures" json:"consecutive_failures"`
	// FailureRatio opens the breaker once MinRequests were seen in the
	// counting interval. Default 0.5.
	FailureRatio float64 `mapstructure:"failure_ratio" json:"failure_ratio"`
	// MinRequests before FailureRatio applies. Default 20.
	MinRequests uint32 `mapstructure:"min_requests" json:"min_requests"`
	// Interval is the rolling window (ten buckets) in which FailureRatio
	// and MinRequests are counted while the breaker is closed. Default 10s.
	Interval time.Duration `mapstructure:"interval" json:"interval"`
	// OpenFor is how long the breaker stays open before a half-open probe.
	// Default 10s.
	OpenFor time.Duration `mapstructure:"open_for" json:"open_for"`
	// ServerErrors is what a 500 or 503 answer counts as. Model servers
	// answer a caller's bad input with them (KServe and MLServer 500,
	// TorchServe 503), so one tenant's bad requests must not take the
	// endpoint away from the others:
	//   - "corroborated" (default): a failure only when the endpoint's
	//     previous 500 or 503, within interval, went to another tenant;
	//     otherwise neither failure nor success. A broken container answers
	//     every tenant so, and trips the breaker; one tenant's flood of bad
	//     input never does. A container only one tenant calls is then
	//     judged on its connection errors, timeouts, 502 and 504 answers.
	//   - "failure": always a failure (a container whose 500s are never
	//     the caller's fault).
	// Other 5xx are fixed: 501 and 505 (the request asked for something the
	// server does not implement) are successes; 502, 504 and the rest are
	// failures.
	ServerErrors string `mapstructure:"server_errors" json:"server_errors"`
	// MaxEjectionPercent caps the share of a version's endpoints that open
	// breakers hold out at once, 0–100 (Envoy's max_ejection_percent): the
	// endpoints whose breakers opened first stay out, the rest keep serving
	// as if closed. At least one endpoint may always be held out, so 0 is
	// the same as the default for versions of fewer than ten endpoints.
	// Default 10.
	MaxEjectionPercent int `mapstructure:"max_ejection_percent" json:"max_ejection_percent"`
	// PanicThreshold, 0–100: when fewer than this percent of a version's
	// endpoints are available (health checks pass and breaker not open) and
	// the request has no fallback version to go to, the version's breakers
	// are ignored for it (Envoy's healthy panic threshold): its endpoints
	// that pass health checks all serve, rather than the few left taking
	// everything or nobody serving. Health verdicts are never ignored. 0
	// turns panic routing off. Default 50.
	PanicThreshold *int `mapstructure:"panic_threshold" json:"panic_threshold"`
	// Disabled turns breakers off for the model. Default false.
	Disabled bool `mapstructure:"disabled" json:"disabled,omitempty"`
}

// Values of Breaker.ServerErrors.
const (
	ServerErrorsCorroborated = "corroborated"
	ServerErrorsFailure      = "failure"
)

// Panic returns PanicThreshold (defaults applied).
func (b Breaker) Panic() int {
	if b.PanicThreshold == nil {
		return DefaultBreakerPanicThreshold
	}
	return *b.PanicThreshold
}

// SameTrip reports whether b and o open and close a breaker alike (every
// setting an endpoint's breaker is built from): a reload that keeps them
// keeps the breaker and its state.
func (b Breaker) SameTrip(o Breaker) bool {
	b.MaxEjectionPercent, o.MaxEjectionPercent = 0, 0
	b.PanicThreshold, o.PanicThreshold = nil, nil
	return b == o
}

// HealthCheck configures active health checks.
type HealthCheck struct {
	// Path polled with GET; "{model}" in it is replaced by the model's name
	// (the name the gateway forwards to containers, see PathFor), and
	// "{version}" by each version's container_version, which every version
	// must then have: each version's endpoints are probed on their own
	// ("/v2/models/{model}/versions/{version}/ready" for Triton's numbered
	// versions, "/v1/models/{model}/versions/{version}" for TF Serving's).
	// Default
	// "/v2/models/{model}/ready": the model's own readiness (Open Inference
	// Protocol), not the server's. The path also decides how an answer is
	// judged:
	//   - /v2/models/M/ready, /v2/models/M/versions/V/ready (OIP model
	//     readiness): ready only on 2xx, unless the body says
	//     "ready": false; any 4xx (KServe, Triton ≥ 2.42 and MLServer answer
	//     404 for an unloaded model) and 5xx mean not ready.
	//   - /v1/models/M, /v1/models/M/versions/N, /v1/models/M/labels/L
	//     (KServe V1 and TF Serving model status): 2xx and the body's state:
	//     "ready": true/false (KServe V1), or model_version_status with a
	//     version in state AVAILABLE (TF Serving answers 200 whatever the
	//     state); at most 64 KiB of the answer is read, a longer one is not
	//     ready. Anything else means not ready.
	//   - any other path (server-level or custom: /v2/health/ready, /ping):
	//     2xx is healthy; 404, 405 and 501 mean the container does not serve
	//     the path and count as healthy (logged once); other answers are
	//     unhealthy.
	// Models that list one URL share its endpoint state (pool, breaker,
	// verdict) only when this path, placeholder replaced, is the same.
	Path string `mapstructure:"path" json:"path"`
	// Interval between checks. Default 5s.
	Interval time.Duration `mapstructure:"interval" json:"interval"`
	// Timeout of one check. Default 1s.
	Timeout time.Duration `mapstructure:"timeout" json:"timeout"`
	// UnhealthyAfter consecutive failures mark an endpoint down. Default 2.
	UnhealthyAfter int `mapstructure:"unhealthy_after" json:"unhealthy_after"`
	// HealthyAfter consecutive successes mark it up again. Default 2.
	HealthyAfter int `mapstructure:"healthy_after" json:"healthy_after"`
	// Disabled turns active checks off. Default false.
	Disabled bool `mapstructure:"disabled" json:"disabled,omitempty"`
}

// Retry configures retries of requests that failed before any response.
type Retry struct {
	// Attempts is the number of retries after the first try. Default 1.
	Attempts *int `mapstructure:"attempts" json:"attempts"`
	// Budget caps retries as a share of requests, 0–1: each request earns
	// Budget retries, and a model starts with a reserve of a few. Default
	// 0.2 when absent; an explicit 0 means no retries at all (no reserve).
	Budget *float64 `mapstructure:"budget" json:"budget"`
	// OnTimeout also retries timeouts. Default false.
	OnTimeout bool `mapstructure:"on_timeout" json:"on_timeout,omitempty"`
}
