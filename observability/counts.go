package observability

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// VersionCounts are one tenant/model/version's cumulative counts since its
// series were created (zero when it has none yet), read from the gateway's
// own collectors in process. A reload that forgets the version deletes its
// series; counts read after it is configured again start from zero (and the
// histograms carry a new CreatedTimestamp).
type VersionCounts struct {
	// Requests answered with the version serving in the primary role
	// (modelgate_requests_total), and of them Errors: codes 500–599 and
	// code 0 (outside 0–599).
	Requests, Errors uint64
	// FallbacksFrom are requests the version could not serve and the
	// model's fallback version served (modelgate_fallbacks_total with this
	// version as from). They are not in Requests: the fallback counted them.
	FallbacksFrom uint64
	// Latency is the primary modelgate_request_duration_seconds histogram
	// (classic and native buckets), a copy; nil while it has no series.
	Latency *dto.Histogram
	// ShadowMatched, ShadowMismatched and ShadowErrors are the match,
	// mismatch and shadow_error outcomes of modelgate_shadow_requests_total
	// with this version as the shadow (primary_error and dropped copies
	// tell nothing of the shadow and are left out).
	ShadowMatched, ShadowMismatched, ShadowErrors uint64
	// Top1Agreed and Top1Differed are modelgate_shadow_top1_total with
	// agree true and false.
	Top1Agreed, Top1Differed uint64
	// ShadowLatency is modelgate_shadow_duration_seconds, a copy; nil while
	// the version has no shadow series.
	ShadowLatency *dto.Histogram
}

// VersionCounts reads the counts of one tenant/model/version from the
// handles' children. It never creates a series: a version that recorded
// nothing reads as zero and still exports nothing. It is safe to call
// concurrently with recording and with Forget (a version forgotten
// meanwhile may read as its last counts or as zero). It allocates; the
// request path is unaffected (the handle tables are only loaded, under the
// locks that guard their maps, and the children are read the way a scrape
// reads them).
func (m *Metrics) VersionCounts(tenant, model, version string) VersionCounts {
	var vc VersionCounts
	codes, duration, fallbacks := m.primaryChildren(tenant, model, version)
	for _, cc := range codes {
		n := counterValue(cc.c)
		vc.Requests += n
		if cc.code == 0 || cc.code >= 500 {
			vc.Errors += n
		}
	}
	for _, c := range fallbacks {
		vc.FallbacksFrom += counterValue(c)
	}
	vc.Latency = histogramValue(duration)

	if h := m.shadow.children(tenant, model, version); h != nil {
		vc.ShadowMatched = counterValue(h.outcomes[ShadowMatch])
		vc.ShadowMismatched = counterValue(h.outcomes[ShadowMismatch])
		vc.ShadowErrors = counterValue(h.outcomes[ShadowError])
		vc.Top1Agreed = counterValue(h.top1[1])
		vc.Top1Differed = counterValue(h.top1[0])
		vc.ShadowLatency = histogramValue(h.duration)
	}
	return vc
}

// primaryChildren returns the existing children of a version's primary
// series: its request counters by code, its duration histogram (nil if
// none) and the fallback counters from it. The tables are copy-on-write,
// so the slices returned are never written again.
func (m *Metrics) primaryChildren(tenant, model, version string) (codes []codeCounter, duration prometheus.Observer, fallbacks []prometheus.Counter) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s := m.series[seriesKey{tenant, model, version, RolePrimary}]
	if s == nil {
		return nil, nil, nil
	}
	if tbl := s.codes.Load(); tbl != nil {
		codes = *tbl
	}
	if h := s.h.Load(); h != nil && h != discardSeries {
		duration = h.duration
	}
	if sc := m.scopes[scopeKey{tenant, model}]; sc != nil {
		if tbl := sc.fallbacks.Load(); tbl != nil {
			for _, e := range *tbl {
				if e.from == s {
					fallbacks = append(fallbacks, e.c)
				}
			}
		}
	}
	return codes, duration, fallbacks
}

// children returns the existing children of a shadow version, or nil.
func (s *ShadowMetrics) children(tenant, model, version string) *shadowHandles {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.series[shadowKey{tenant, model, version}]
	if ss == nil {
		return nil
	}
	if h := ss.h.Load(); h != nil && h != discardShadow {
		return h
	}
	return nil
}

// counterValue reads a counter child (counters here only count whole
// events, exact in a float64 up to 2^53).
func counterValue(c prometheus.Counter) uint64 {
	var d dto.Metric
	if err := c.Write(&d); err != nil {
		return 0
	}
	return uint64(d.GetCounter().GetValue())
}

// histogramValue reads a histogram child; Write builds a fresh
// dto.Histogram, so the result is the caller's own. nil for a nil o.
func histogramValue(o prometheus.Observer) *dto.Histogram {
	mt, ok := o.(prometheus.Metric)
	if !ok {
		return nil
	}
	var d dto.Metric
	if err := mt.Write(&d); err != nil {
		return nil
	}
	return d.GetHistogram()
}
