package upstream

import "github.com/modelgate/modelgate/configs"

// Ejection bounds how far open breakers may thin a version, after Envoy's
// outlier detection: a cap on the endpoints held out at once
// (max_ejection_percent) and a panic threshold below which breakers are
// ignored. Health verdicts are never overridden: an endpoint whose checks
// fail stays out. The zero value holds out every open endpoint and never
// panics (shadow copies pick with it).
type Ejection struct {
	// MaxOut is how many endpoints open breakers may hold out at once;
	// those whose breakers opened first stay out. 0: no cap.
	MaxOut int
	// MinAvailable: when fewer endpoints than this are available (up and
	// breaker not open), a pick that may panic ignores breakers. 0: never.
	MinAvailable int
}

// EjectionFor is the Ejection of a version of n endpoints under cfg: at
// most max_ejection_percent of n held out, at least one; panic below
// panic_threshold percent of n available (rounded up). Breakers disabled:
// the zero value (nothing is ever open).
func EjectionFor(n int, cfg configs.Breaker) Ejection {
	if cfg.Disabled || n == 0 {
		return Ejection{}
	}
	return Ejection{
		MaxOut:       max(1, n*cfg.MaxEjectionPercent/100),
		MinAvailable: (n*cfg.Panic() + 99) / 100,
	}
}

// PickWithin is Pick under ej: it chooses, by power of two choices on
// in-flight requests, an endpoint of eps not marked in tried whose health
// checks pass, and whose breaker is closed or must be ignored. A breaker is
// ignored when more than ej.MaxOut endpoints of eps have open breakers
// (all but the ej.MaxOut that opened first), or, when mayPanic (the
// request has no fallback version to go to), when fewer than
// ej.MinAvailable endpoints of eps are available. bypass reports that the
// chosen endpoint's breaker is open and ignored: call the attempt without
// Guard. It returns -1 when no endpoint can be chosen, and allocates
// nothing.
func (r *Registry) PickWithin(eps []*Endpoint, tried uint64, now int64, ej Ejection, mayPanic bool) (i int, bypass bool) {
	var until [MaxCandidates]int64 // openUntil of open endpoints, 0 for the others
	open, available := 0, 0
	for i, ep := range eps {
		if i == MaxCandidates {
			break
		}
		switch u := ep.openUntil.Load(); {
		case ep.down.Load():
		case now < u:
			until[i] = u
			open++
		default:
			available++
		}
	}
	panicking := mayPanic && available < ej.MinAvailable
	capped := ej.MaxOut > 0 && open > ej.MaxOut
	if open == 0 || !panicking && !capped {
		return r.Pick(eps, tried, now), false
	}
	var idx [MaxCandidates]int
	var loads [MaxCandidates]int64
	n := 0
	for i, ep := range eps {
		if i == MaxCandidates {
			break
		}
		if tried&(1<<i) != 0 || ep.down.Load() {
			continue
		}
		if until[i] != 0 && !panicking && heldOut(until[:min(len(eps), MaxCandidates)], i, ej.MaxOut) {
			continue
		}
		idx[n] = i
		loads[n] = ep.inFlight.Load()
		n++
	}
	j := r.picker.Pick(loads[:n])
	if j < 0 {
		return -1, false
	}
	return idx[j], until[idx[j]] != 0
}

// heldOut reports whether the open endpoint i is among the maxOut whose
// breakers opened first (earliest until; ties by index). until holds 0 for
// endpoints whose breakers are not open.
func heldOut(until []int64, i, maxOut int) bool {
	earlier := 0
	for k, u := range until {
		if u != 0 && (u < until[i] || u == until[i] && k < i) {
			earlier++
		}
	}
	return earlier < maxOut
}
