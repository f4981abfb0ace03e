package configs

import (
	"math"
	"reflect"
	"strings"
	"time"
)

// Defaults of nested settings; see the field docs. Together with the
// server defaults in config.go these are every default there is:
// SetDefaults fills unset fields from the Default* values below and
// nothing else.
const (
	DefaultShadowPercent         = 100.0
	DefaultShadowMaxInFlight     = 4
	DefaultShadowMaxQueue        = 64
	DefaultShadowMaxBodyBytes    = 1 << 20  // 1 MiB
	DefaultShadowMaxQueueBytes   = 64 << 20 // 64 MiB
	DefaultHealthPath            = "/v2/models/" + ModelPlaceholder + "/ready"
	DefaultRetryAttempts         = 1
	DefaultRetryBudget           = 0.2
	DefaultBreakerFailures       = 5
	DefaultBreakerFailureRatio   = 0.5
	DefaultBreakerMinRequests    = 20
	DefaultBreakerOpenFor        = 10 * time.Second
	DefaultBreakerInterval       = 10 * time.Second
	DefaultBreakerServerErrors   = ServerErrorsCorroborated
	DefaultBreakerMaxEjection    = 10 // percent
	DefaultBreakerPanicThreshold = 50 // percent
	DefaultHealthInterval        = 5 * time.Second
	DefaultHealthTimeout         = 1 * time.Second
	DefaultHealthUnhealthyAfter  = 2
	DefaultHealthHealthyAfter    = 2
	DefaultTLSMinVersion         = "1.2"
	DefaultLogLevel              = "info"
	DefaultKeepRevisions         = 200
	DefaultTracingServiceName    = "modelgate"
)

// ModelPlaceholder in health_check.path stands for the model's name
// (DefaultHealthPath has it).
const ModelPlaceholder = "{model}"

// VersionPlaceholder in health_check.path stands for a version's
// container_version, so each version of a multi-version container (Triton,
// TF Serving) is probed for its own readiness, e.g.
// "/v2/models/{model}/versions/{version}/ready".
const VersionPlaceholder = "{version}"

// DefaultIgnoreFields are skipped by shadow comparison unless configured.
var DefaultIgnoreFields = []string{"id", "model_version", "model_name"}

// DefaultConfig returns the defaults of everything outside tenants: what a
// file that sets nothing gets. Each call returns fresh values.
func DefaultConfig() Config {
	return Config{
		Server: Server{
			Listen:          DefaultListen,
			AdminListen:     DefaultAdminListen,
			MaxBodyBytes:    DefaultMaxBodyBytes,
			MaxAnswerBytes:  DefaultMaxAnswerBytes,
			MaxHeaderBytes:  DefaultMaxHeaderBytes,
			MaxConnections:  DefaultMaxConnections,
			ReadTimeout:     DefaultReadTimeout,
			WriteTimeout:    DefaultWriteTimeout,
			IdleTimeout:     DefaultIdleTimeout,
			ShutdownTimeout: DefaultShutdownTimeout,
		},
		Admin:   Admin{KeepRevisions: DefaultKeepRevisions},
		Logging: Logging{Level: DefaultLogLevel},
		Tracing: Tracing{ServiceName: DefaultTracingServiceName},
	}
}

// DefaultTLS returns the defaults of a listener's TLS settings.
func DefaultTLS() TLS { return TLS{MinVersion: DefaultTLSMinVersion} }

// DefaultModel returns the defaults of a model's settings (its shadow's
// are DefaultShadow). Each call returns fresh values.
func DefaultModel() Model {
	return Model{
		Timeout:        DefaultModelTimeout,
		ConnectTimeout: DefaultConnectTimeout,
		Breaker: Breaker{
			ConsecutiveFailures: DefaultBreakerFailures,
			FailureRatio:        DefaultBreakerFailureRatio,
			MinRequests:         DefaultBreakerMinRequests,
			OpenFor:             DefaultBreakerOpenFor,
			Interval:            DefaultBreakerInterval,
			ServerErrors:        DefaultBreakerServerErrors,
			MaxEjectionPercent:  DefaultBreakerMaxEjection,
			PanicThreshold:      ptr(DefaultBreakerPanicThreshold),
		},
		HealthCheck: HealthCheck{
			Path:           DefaultHealthPath,
			Interval:       DefaultHealthInterval,
			Timeout:        DefaultHealthTimeout,
			UnhealthyAfter: DefaultHealthUnhealthyAfter,
			HealthyAfter:   DefaultHealthHealthyAfter,
		},
		Retry: Retry{Attempts: ptr(DefaultRetryAttempts), Budget: ptr(DefaultRetryBudget)},
	}
}

// DefaultShadow returns the defaults of a model's shadow; its timeout is
// the model's. Each call returns fresh values.
func DefaultShadow() Shadow {
	return Shadow{
		Percent:       ptr(DefaultShadowPercent),
		IgnoreFields:  append([]string(nil), DefaultIgnoreFields...),
		MaxInFlight:   DefaultShadowMaxInFlight,
		MaxQueue:      ptr(DefaultShadowMaxQueue),
		MaxQueueBytes: DefaultShadowMaxQueueBytes,
		MaxBodyBytes:  DefaultShadowMaxBodyBytes,
	}
}

// SetDefaults fills every unset field with its documented default. Load and
// Parse call it; tests that build a Config by hand call it before Validate.
func (c *Config) SetDefaults() {
	def := DefaultConfig()
	fillZero(&c.Server, def.Server)
	fillZero(&c.Logging, def.Logging)
	fillZero(&c.Admin, def.Admin)
	fillZero(&c.Tracing, def.Tracing)
	for _, t := range []*TLS{c.Server.TLS, c.Server.AdminTLS} {
		if t != nil {
			fillZero(t, DefaultTLS())
		}
	}
	if r := c.State.Redis; r != nil {
		fillZero(r, DefaultRedis())
	}
	for i := range c.Tenants {
		t := &c.Tenants[i]
		t.Limits.setDefaults()
		for j := range t.Models {
			t.Models[j].setDefaults()
		}
	}
}

// setDefaults derives the burst from the rate when unset.
func (l *Limits) setDefaults() {
	if l.Burst == 0 && l.RequestsPerSecond > 0 && !math.IsInf(l.RequestsPerSecond, 0) {
		l.Burst = max(1, int(math.Ceil(l.RequestsPerSecond)))
	}
}

func (m *Model) setDefaults() {
	fillZero(m, DefaultModel())
	if m.Limits != nil {
		m.Limits.setDefaults()
	}
	if sh := m.Shadow; sh != nil {
		def := DefaultShadow()
		def.Timeout = m.Timeout
		fillZero(sh, def)
	}
	if m.Rollout != nil {
		m.Rollout.setDefaults()
	}
}

// fillZero sets every zero field of *dst to def's, recursing into struct
// fields (time.Duration is not one). A set pointer is kept even when it
// points at a zero value (an explicit 0 such as retry.budget: 0); a nil
// slice gets def's. def's pointers and slices are taken as they are: pass
// fresh values (the Default* functions return them).
func fillZero[T any](dst *T, def T) { fill(reflect.ValueOf(dst).Elem(), reflect.ValueOf(def)) }

func fill(dst, def reflect.Value) {
	for i := range dst.NumField() {
		f, d := dst.Field(i), def.Field(i)
		switch {
		case !f.CanSet():
		case f.Kind() == reflect.Struct:
			fill(f, d)
		case f.IsZero():
			f.Set(d)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// Ratio returns the configured sampling ratio, 1.0 by default.
func (t Tracing) Ratio() float64 {
	if t.SamplingRatio == nil {
		return 1
	}
	return *t.SamplingRatio
}

// AccessLogRatio returns the access-log sampling ratio, 1.0 by default.
func (l *Logging) AccessLogRatio() float64 {
	if l.AccessLogSampleRatio == nil {
		return 1
	}
	return *l.AccessLogSampleRatio
}

// SharePercent returns the shadow share in percent (defaults applied).
func (s *Shadow) SharePercent() float64 {
	if s == nil || s.Percent == nil {
		return 0
	}
	return *s.Percent
}

// QueueLen returns how many copies may wait for a worker (defaults
// applied; 0 is no queue).
func (s *Shadow) QueueLen() int {
	if s == nil || s.MaxQueue == nil {
		return DefaultShadowMaxQueue
	}
	return *s.MaxQueue
}

// RetryAttempts returns the retry count (defaults applied).
func (r Retry) RetryAttempts() int {
	if r.Attempts == nil {
		return DefaultRetryAttempts
	}
	return *r.Attempts
}

// RetryBudget returns the retry budget ratio (defaults applied); 0 means
// no retries.
func (r Retry) RetryBudget() float64 {
	if r.Budget == nil {
		return DefaultRetryBudget
	}
	return *r.Budget
}

// PathFor is Path with every ModelPlaceholder replaced by model, the
// model's name, and every VersionPlaceholder by containerVersion, the
// version's container_version (both validated: [A-Za-z0-9._-], so the
// result needs no escaping; validation refuses VersionPlaceholder in a
// model with a version that has no container_version).
func (h HealthCheck) PathFor(model, containerVersion string) string {
	return strings.NewReplacer(ModelPlaceholder, model, VersionPlaceholder, containerVersion).Replace(h.Path)
}

// PerVersion reports whether Path names the version (VersionPlaceholder):
// each version's endpoints are then probed, and judged, on their own.
func (h HealthCheck) PerVersion() bool { return strings.Contains(h.Path, VersionPlaceholder) }
