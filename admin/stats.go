package admin

import (
	"iter"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/rollout"
)

// Stats is what GET /admin/stats reads of the running gateway
// (gateway.Gateway). Both methods are called concurrently with traffic.
type Stats interface {
	// VersionCounts is one tenant/model/version's cumulative counts
	// (observability.Metrics.VersionCounts).
	VersionCounts(tenant, model, version string) observability.VersionCounts
	// EndpointSamples lists every endpoint of the serving config once per
	// tenant/model/version that routes to it.
	EndpointSamples() iter.Seq[observability.EndpointSample]
}

// WithStats serves GET /admin/stats (viewer) from s: per tenant, model and
// version of the serving config, cumulative counts, the same over a
// recent window, and the endpoints' health and breaker state. A scoped
// principal sees its tenants only.
func WithStats(s Stats) Option {
	return func(a *api) { a.stats = s; a.window = &statsWindow{} }
}

// The window GET /admin/stats reports over: readings of every version's
// counts are kept in memory, at most one per statsReadingEvery, taken
// when the endpoint is read (nothing runs in the background, and nothing
// is kept while nobody asks). The window's start is the oldest reading at
// most statsWindowSpan old; until a second reading exists (the first
// request after a restart, or after statsWindowSpan without requests)
// there is no window and the answer's window fields are null.
const (
	statsWindowSpan   = 30 * time.Second
	statsReadingEvery = time.Second
)

// statsView is the GET /admin/stats body.
type statsView struct {
	Time time.Time `json:"time"`
	// WindowSeconds is the window's length; 0 when there is none yet.
	WindowSeconds float64            `json:"window_seconds"`
	Versions      []versionStatsView `json:"versions"`
}

type versionStatsView struct {
	Tenant  string `json:"tenant"`
	Model   string `json:"model"`
	Version string `json:"version"`
	// Total counts since the version's series were created (a reload that
	// drops the version resets them); Window the same over the window,
	// null without one (or when the series were recreated within it).
	Total     countsView     `json:"total"`
	Window    *countsView    `json:"window"`
	Endpoints []endpointView `json:"endpoints"`
}

// countsView counts as the rollout judge does (rollout.PrimaryWindow): a
// request the version failed and the fallback served is one of its
// requests and one of its errors.
type countsView struct {
	Requests uint64 `json:"requests"`
	// Errors are 5xx answers (timeouts and unreachable endpoints included)
	// and fallbacks from the version.
	Errors        uint64 `json:"errors"`
	FallbacksFrom uint64 `json:"fallbacks_from"`
	// RequestRate is requests per second over the window (window only).
	RequestRate *float64 `json:"request_rate,omitempty"`
	// ErrorShare is Errors / Requests; null without requests.
	ErrorShare *float64 `json:"error_share"`
	// P99Seconds is the 99th percentile latency of the requests the
	// version served, from the native latency histogram (about 5%
	// resolution), interpolated as histogram_quantile does; null without
	// observations.
	P99Seconds *float64 `json:"p99_seconds"`
}

type endpointView struct {
	URL string `json:"url"`
	// Up is the active health check's verdict (true with checks off).
	Up bool `json:"up"`
	// Breaker is "closed", "half_open" or "open" ("closed" with breakers
	// off).
	Breaker  string `json:"breaker"`
	InFlight int64  `json:"in_flight"`
}

// statsKey names one version.
type statsKey struct{ tenant, model, version string }

// statsReading is every version's counts at one moment.
type statsReading struct {
	at     time.Time
	counts map[statsKey]observability.VersionCounts
}

// statsWindow keeps the readings of the last statsWindowSpan, oldest
// first. Safe for concurrent use.
type statsWindow struct {
	mu       sync.Mutex
	readings []statsReading
}

// add records r (unless the newest reading is under statsReadingEvery
// old), drops readings older than statsWindowSpan, and returns the
// oldest reading left other than r itself, if any.
func (w *statsWindow) add(r statsReading) (start statsReading, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	keep := w.readings[:0]
	for _, old := range w.readings {
		if r.at.Sub(old.at) <= statsWindowSpan {
			keep = append(keep, old)
		}
	}
	w.readings = keep
	if n := len(w.readings); n == 0 || r.at.Sub(w.readings[n-1].at) >= statsReadingEvery {
		w.readings = append(w.readings, r)
	}
	if len(w.readings) > 0 && w.readings[0].at.Before(r.at) {
		return w.readings[0], true
	}
	return statsReading{}, false
}

func (a *api) statsGet(w http.ResponseWriter, req *http.Request) {
	p := principalOf(req)
	now := time.Now()
	cfg := a.src.Config()
	// Every version is read, whoever asks, so that the readings serve
	// every principal's window.
	cur := statsReading{at: now, counts: map[statsKey]observability.VersionCounts{}}
	for _, t := range cfg.Tenants {
		for _, m := range t.Models {
			for _, v := range m.Versions {
				k := statsKey{t.Name, m.Name, v.Name}
				cur.counts[k] = a.stats.VersionCounts(k.tenant, k.model, k.version)
			}
		}
	}
	start, haveWindow := a.window.add(cur)
	eps := map[statsKey][]endpointView{}
	for s := range a.stats.EndpointSamples() {
		k := statsKey{s.Tenant, s.Model, s.Version}
		eps[k] = append(eps[k], endpointView{URL: s.Endpoint, Up: s.Up, Breaker: breakerName(s.BreakerState), InFlight: s.InFlight})
	}
	out := statsView{Time: now.UTC(), Versions: []versionStatsView{}}
	if haveWindow {
		out.WindowSeconds = now.Sub(start.at).Seconds()
	}
	for _, t := range cfg.Tenants {
		if !p.Sees(t.Name) {
			continue
		}
		for _, m := range t.Models {
			for _, v := range m.Versions {
				k := statsKey{t.Name, m.Name, v.Name}
				vs := versionStatsView{Tenant: k.tenant, Model: k.model, Version: k.version, Endpoints: eps[k]}
				if vs.Endpoints == nil {
					vs.Endpoints = []endpointView{}
				}
				vs.Total, _ = countsBetween(cur.counts[k], observability.VersionCounts{}, 0)
				if haveWindow {
					if c, ok := countsBetween(cur.counts[k], start.counts[k], out.WindowSeconds); ok {
						vs.Window = &c
					}
				}
				out.Versions = append(out.Versions, vs)
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// countsBetween is the counts from start to end, with the request rate
// over seconds when seconds > 0; ok is false when the series were
// recreated in between (a count went down).
func countsBetween(end, start observability.VersionCounts, seconds float64) (countsView, bool) {
	win, err := rollout.PrimaryWindow(end, start)
	if err != nil {
		return countsView{}, false
	}
	c := countsView{Requests: win.Requests, Errors: win.Errors, FallbacksFrom: end.FallbacksFrom - start.FallbacksFrom}
	if seconds > 0 {
		c.RequestRate = ptr(float64(win.Requests) / seconds)
	}
	if win.Requests > 0 {
		c.ErrorShare = ptr(float64(win.Errors) / float64(win.Requests))
	}
	if q := win.Latency.Quantile(0.99); !math.IsNaN(q) && !math.IsInf(q, 0) {
		c.P99Seconds = ptr(q)
	}
	return c, true
}

func breakerName(state int) string {
	switch state {
	case observability.BreakerOpen:
		return "open"
	case observability.BreakerHalfOpen:
		return "half_open"
	}
	return "closed"
}

func ptr[T any](v T) *T { return &v }
