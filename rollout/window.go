package rollout

import (
	"fmt"

	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/rollout/judge"
)

// PrimaryWindow is the judge window of a version's primary traffic between
// two readings of Metrics.VersionCounts (start may be the zero
// VersionCounts: a window from zero). A request the version failed and the
// model's fallback served counts as one of the version's requests and as
// its error:
//
//	Requests = Δrequests + Δfallbacks_from
//	Errors   = Δerrors + Δfallbacks_from
//	Latency  = the native request-duration histogram's window (see
//	           latencyWindow): served requests only, fallbacks not timed
//
// A count lower at end than at start, or a histogram recreated between the
// readings, means a reload deleted and recreated the version's series: an
// error, and the caller restarts the window from a new reading.
func PrimaryWindow(end, start observability.VersionCounts) (judge.Window, error) {
	var w judge.Window
	d := deltas{}
	req := d.of("requests", end.Requests, start.Requests)
	errs := d.of("errors", end.Errors, start.Errors)
	fb := d.of("fallbacks", end.FallbacksFrom, start.FallbacksFrom)
	if d.err != nil {
		return w, d.err
	}
	lat, err := latencyWindow(end.Latency, start.Latency)
	if err != nil {
		return w, err
	}
	w.Requests, w.Errors, w.Latency = req+fb, errs+fb, lat
	return w, nil
}

// ShadowWindow is the judge window of a version's shadow copies between two
// readings (start may be the zero VersionCounts):
//
//	Requests       = Δ(matched + mismatched + shadow_errors)
//	Errors         = Δshadow_errors
//	ShadowCompared = Δ(matched + mismatched), ShadowMatched = Δmatched
//	Top1Compared   = Δ(agreed + differed),    Top1Agreed    = Δagreed
//	Latency        = the native shadow-duration histogram's window
//
// Copies whose primary failed, and copies dropped, are not counted. Errors
// are as for PrimaryWindow.
func ShadowWindow(end, start observability.VersionCounts) (judge.Window, error) {
	var w judge.Window
	d := deltas{}
	matched := d.of("shadow matches", end.ShadowMatched, start.ShadowMatched)
	mismatched := d.of("shadow mismatches", end.ShadowMismatched, start.ShadowMismatched)
	shadowErrs := d.of("shadow errors", end.ShadowErrors, start.ShadowErrors)
	agreed := d.of("top-1 agreements", end.Top1Agreed, start.Top1Agreed)
	differed := d.of("top-1 differences", end.Top1Differed, start.Top1Differed)
	if d.err != nil {
		return w, d.err
	}
	lat, err := latencyWindow(end.ShadowLatency, start.ShadowLatency)
	if err != nil {
		return w, err
	}
	w = judge.Window{
		Requests:       matched + mismatched + shadowErrs,
		Errors:         shadowErrs,
		Latency:        lat,
		ShadowCompared: matched + mismatched,
		ShadowMatched:  matched,
		Top1Compared:   agreed + differed,
		Top1Agreed:     agreed,
	}
	return w, nil
}

// deltas differences cumulative counters, keeping the first decrease.
type deltas struct{ err error }

func (d *deltas) of(what string, end, start uint64) uint64 {
	if end < start {
		if d.err == nil {
			d.err = fmt.Errorf("rollout: %s went from %d to %d (counter reset)", what, start, end)
		}
		return 0
	}
	return end - start
}
