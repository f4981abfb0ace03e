package observability

import (
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Series are created on first use. A Series (one tenant/model/version in
// one role) or a Scope (scope.go) is a handle that exists while its
// tenant, model or version is configured; the Prometheus children behind it
// are made by the first request that records something (one allocation,
// under Metrics.mu), and every later call is an atomic load and the update.
// So a version without traffic exports nothing, a reload that keeps a
// version reuses its handle, and a handle forgotten by a reload deletes
// exactly the children it made. A request still running on the previous
// snapshot when its version is forgotten records into discarded metrics,
// never re-creating a series of something no longer configured.

// Metrics that are never registered: what a forgotten handle records into.
var (
	discardCounter   = prometheus.NewCounter(prometheus.CounterOpts{Name: "discarded"})
	discardGauge     = prometheus.NewGauge(prometheus.GaugeOpts{Name: "discarded"})
	discardHistogram = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "discarded"})
)

// Series is the request series of one tenant/model/version in one role
// (RolePrimary or RoleShadow): in flight, duration, upstream duration,
// requests by code, and (primary) retries. Get it from Metrics.Series; it
// stays valid until Metrics.Forget. The fields record into children made
// on first use.
type Series struct {
	m      *Metrics
	labels [4]string // tenant, model, version, role
	// retired is set by Forget, under m.mu.
	retired bool
	h       atomic.Pointer[seriesHandles]
	codes   atomic.Pointer[[]codeCounter] // copy-on-write, one per code seen
	llm     atomic.Pointer[llmHandles]    // made by the first OpenAI usage (llm.go)
	stream  atomic.Pointer[streamHandles] // made by the first OpenAI stream (llm.go)

	InFlight SeriesGauge
	Duration SeriesObserver
	Upstream SeriesObserver
}

type seriesHandles struct {
	inFlight           prometheus.Gauge
	duration, upstream prometheus.Observer
	retries            prometheus.Counter
}

var discardSeries = &seriesHandles{inFlight: discardGauge, duration: discardHistogram, upstream: discardHistogram, retries: discardCounter}

type codeCounter struct {
	code int
	c    prometheus.Counter
}

func newSeries(m *Metrics, tenant, model, version, role string) *Series {
	s := &Series{m: m, labels: [4]string{tenant, model, version, role}}
	s.InFlight = SeriesGauge{s}
	s.Duration = SeriesObserver{s, false}
	s.Upstream = SeriesObserver{s, true}
	return s
}

func (s *Series) handles() *seriesHandles {
	if h := s.h.Load(); h != nil {
		return h
	}
	return s.create()
}

// create makes the children of s (in flight, both histograms, retries):
// the first request of a version creates all of them at once, so a
// version that served has a complete set.
func (s *Series) create() *seriesHandles {
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if h := s.h.Load(); h != nil {
		return h
	}
	if s.retired {
		return discardSeries
	}
	t, mo, v, r := s.labels[0], s.labels[1], s.labels[2], s.labels[3]
	h := &seriesHandles{
		inFlight: m.inFlight.WithLabelValues(t, mo, v, r),
		duration: m.duration.WithLabelValues(t, mo, v, r),
		upstream: m.upstreamDuration.WithLabelValues(t, mo, v, r),
		retries:  discardCounter,
	}
	if r == RolePrimary {
		h.retries = m.Resilience.retries.WithLabelValues(t, mo, v)
	}
	s.h.Store(h)
	return h
}

// Used reports whether s has recorded anything (its series exist).
func (s *Series) Used() bool {
	h := s.h.Load()
	return h != nil && h != discardSeries
}

// Request counts one answered request with its status code (codes outside
// 0–599 count as 0).
func (s *Series) Request(code int) {
	if code < 0 || code > 599 {
		code = 0
	}
	if tbl := s.codes.Load(); tbl != nil {
		for i := range *tbl {
			if (*tbl)[i].code == code {
				(*tbl)[i].c.Inc()
				return
			}
		}
	}
	s.createCode(code).Inc()
}

func (s *Series) createCode(code int) prometheus.Counter {
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	var old []codeCounter
	if tbl := s.codes.Load(); tbl != nil {
		old = *tbl
		for _, cc := range old {
			if cc.code == code {
				return cc.c
			}
		}
	}
	if s.retired {
		return discardCounter
	}
	c := m.requests.WithLabelValues(s.labels[0], s.labels[1], s.labels[2], s.labels[3], strconv.Itoa(code))
	tbl := append(old[:len(old):len(old)], codeCounter{code, c})
	s.codes.Store(&tbl)
	return c
}

// Retries returns the handle of the version's retry counter (primary role).
func (s *Series) Retries() SeriesCounter { return SeriesCounter{s} }

// retire deletes every child s made and makes s record into discarded
// metrics from now on. Called with m.mu held.
func (s *Series) retire() {
	m := s.m
	s.retired = true
	t, mo, v, r := s.labels[0], s.labels[1], s.labels[2], s.labels[3]
	if s.Used() {
		m.inFlight.DeleteLabelValues(t, mo, v, r)
		m.duration.DeleteLabelValues(t, mo, v, r)
		m.upstreamDuration.DeleteLabelValues(t, mo, v, r)
		if r == RolePrimary {
			m.Resilience.retries.DeleteLabelValues(t, mo, v)
		}
	}
	s.h.Store(discardSeries)
	if tbl := s.codes.Load(); tbl != nil {
		for _, cc := range *tbl {
			m.requests.DeleteLabelValues(t, mo, v, r, strconv.Itoa(cc.code))
		}
	}
	s.codes.Store(&[]codeCounter{})
	s.retireLLM()
}

// SeriesGauge is a Series' in-flight gauge.
type SeriesGauge struct{ s *Series }

// Inc adds one.
func (g SeriesGauge) Inc() { g.s.handles().inFlight.Inc() }

// Dec subtracts one.
func (g SeriesGauge) Dec() { g.s.handles().inFlight.Dec() }

// SeriesObserver is one of a Series' histograms.
type SeriesObserver struct {
	s        *Series
	upstream bool
}

// Observe adds one observation in seconds.
func (o SeriesObserver) Observe(v float64) {
	h := o.s.handles()
	if o.upstream {
		h.upstream.Observe(v)
	} else {
		h.duration.Observe(v)
	}
}

// SeriesCounter is a Series' retry counter.
type SeriesCounter struct{ s *Series }

// Inc adds one.
func (c SeriesCounter) Inc() { c.s.handles().retries.Inc() }
