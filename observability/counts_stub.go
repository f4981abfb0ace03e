package observability

import dto "github.com/prometheus/client_model/go"

// TEMPORARY stub until the stats branch lands.
type VersionCounts struct {
	Requests, Errors                              uint64
	FallbacksFrom                                 uint64
	Latency                                       *dto.Histogram
	ShadowMatched, ShadowMismatched, ShadowErrors uint64
	Top1Agreed, Top1Differed                      uint64
	ShadowLatency                                 *dto.Histogram
}

func (m *Metrics) VersionCounts(tenant, model, version string) VersionCounts { return VersionCounts{} }
