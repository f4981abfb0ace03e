package observability

import "github.com/prometheus/client_golang/prometheus"

// RedisUp returns modelgate_state_redis_up, registered on first call: 1
// while the shared Redis (state.redis) answers, 0 while global limits fall
// back to state.redis.on_unavailable. A gateway without state.redis never
// calls it, so the series is absent rather than 0.
func (m *Metrics) RedisUp() prometheus.Gauge {
	m.redisOnce.Do(func() {
		m.redisUp = prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "modelgate", Subsystem: "state", Name: "redis_up",
			Help: "1 if the shared Redis (state.redis) answers, 0 if global limits fall back to state.redis.on_unavailable.",
		})
		m.Registry.MustRegister(m.redisUp)
	})
	return m.redisUp
}
