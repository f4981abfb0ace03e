package configs

import (
	"math"
	"time"
)

// Defaults of nested settings; see the field docs.
const (
	DefaultShadowPercent      = 100.0
	DefaultShadowMaxInFlight  = 4
	DefaultShadowMaxQueue     = 64
	DefaultShadowMaxBodyBytes = 1 << 20
	DefaultHealthPath         = "/v2/health/ready"
	DefaultRetryAttempts      = 1
	DefaultRetryBudget        = 0.2
	DefaultBreakerOpenFor     = 10 * time.Second
	DefaultBreakerInterval    = 10 * time.Second
	DefaultHealthInterval     = 5 * time.Second
	DefaultHealthTimeout      = 1 * time.Second
)

// DefaultShadowMaxQueueBytes is the default shadow.max_queue_bytes: 64 MiB.
const DefaultShadowMaxQueueBytes = 64 << 20

// DefaultIgnoreFields are skipped by shadow comparison unless configured.
var DefaultIgnoreFields = []string{"id", "model_version", "model_name"}

// SetDefaults fills every unset field with its documented default. Load and
// Parse call it; tests that build a Config by hand call it before Validate.
func (c *Config) SetDefaults() {
	s := &c.Server
	setIfZero(&s.Listen, DefaultListen)
	setIfZero(&s.AdminListen, DefaultAdminListen)
	setIfZero(&s.MaxBodyBytes, DefaultMaxBodyBytes)
	setIfZero(&s.MaxAnswerBytes, DefaultMaxAnswerBytes)
	setIfZero(&s.MaxHeaderBytes, DefaultMaxHeaderBytes)
	setIfZero(&s.MaxConnections, DefaultMaxConnections)
	setIfZero(&s.ReadTimeout, DefaultReadTimeout)
	setIfZero(&s.WriteTimeout, DefaultWriteTimeout)
	setIfZero(&s.IdleTimeout, DefaultIdleTimeout)
	setIfZero(&s.ShutdownTimeout, DefaultShutdownTimeout)
	for _, t := range []*TLS{s.TLS, s.AdminTLS} {
		if t != nil {
			setIfZero(&t.MinVersion, "1.2")
		}
	}
	setIfZero(&c.Logging.Level, "info")
	setIfZero(&c.Tracing.ServiceName, "modelgate")
	for i := range c.Tenants {
		t := &c.Tenants[i]
		t.Limits.setDefaults()
		for j := range t.Models {
			t.Models[j].setDefaults()
		}
	}
}

func (l *Limits) setDefaults() {
	if l.Burst == 0 && l.RequestsPerSecond > 0 && !math.IsInf(l.RequestsPerSecond, 0) {
		l.Burst = max(1, int(math.Ceil(l.RequestsPerSecond)))
	}
}

func (m *Model) setDefaults() {
	setIfZero(&m.Timeout, DefaultModelTimeout)
	setIfZero(&m.ConnectTimeout, DefaultConnectTimeout)
	if m.Limits != nil {
		m.Limits.setDefaults()
	}
	if sh := m.Shadow; sh != nil {
		if sh.Percent == nil {
			p := DefaultShadowPercent
			sh.Percent = &p
		}
		if sh.IgnoreFields == nil {
			sh.IgnoreFields = append([]string(nil), DefaultIgnoreFields...)
		}
		setIfZero(&sh.MaxInFlight, DefaultShadowMaxInFlight)
		if sh.MaxQueue == nil {
			q := DefaultShadowMaxQueue
			sh.MaxQueue = &q
		}
		setIfZero(&sh.MaxQueueBytes, DefaultShadowMaxQueueBytes)
		setIfZero(&sh.MaxBodyBytes, DefaultShadowMaxBodyBytes)
		setIfZero(&sh.Timeout, m.Timeout)
	}
	b := &m.Breaker
	setIfZero(&b.ConsecutiveFailures, 5)
	setIfZero(&b.FailureRatio, 0.5)
	setIfZero(&b.MinRequests, 20)
	setIfZero(&b.OpenFor, DefaultBreakerOpenFor)
	setIfZero(&b.Interval, DefaultBreakerInterval)
	h := &m.HealthCheck
	setIfZero(&h.Path, DefaultHealthPath)
	setIfZero(&h.Interval, DefaultHealthInterval)
	setIfZero(&h.Timeout, DefaultHealthTimeout)
	setIfZero(&h.UnhealthyAfter, 2)
	setIfZero(&h.HealthyAfter, 2)
	if m.Retry.Attempts == nil {
		a := DefaultRetryAttempts
		m.Retry.Attempts = &a
	}
	if m.Retry.Budget == nil {
		b := DefaultRetryBudget
		m.Retry.Budget = &b
	}
}

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

func setIfZero[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}
