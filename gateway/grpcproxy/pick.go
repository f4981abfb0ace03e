package grpcproxy

import (
	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/gateway/upstream"
)

// maxCandidates bounds a version's grpc_endpoints (validated), so tried
// endpoints fit a 64-bit set and the candidate lists stay on the stack.
const maxCandidates = configs.MaxEndpointsPerVersion

// pickFrom chooses one of a version's endpoints eps for a call that has
// tried those marked in tried (bit i for eps[i]), at now (Unix ns): see
// choose. It allocates nothing.
func pickFrom(eps []*endpoint, tried uint64, now int64, ej upstream.Ejection, mayPanic bool) (i int, bypass bool) {
	var until, loads [maxCandidates]int64
	var down uint64
	n := min(len(eps), maxCandidates)
	for i := range n {
		if eps[i].down.Load() {
			down |= 1 << i
		} else if u := eps[i].openUntil.Load(); now < u {
			until[i] = u
		}
		loads[i] = eps[i].load()
	}
	return choose(until[:n], loads[:n], down, tried, ej, mayPanic)
}

// choose is the pure choice among a version's endpoints, as the REST
// gateway's upstream.Registry.PickWithin makes it: by power of two choices
// on loads (calls in flight), among the endpoints not marked in tried nor
// in down (their health checks fail: bit i for endpoint i, until[i] then
// 0) whose breaker is not open (until[i] is the time its open breaker
// allows a half-open call, 0 when not open). A down endpoint is never
// chosen, as REST never overrides a health verdict; it counts neither as
// open nor as available. Open breakers are ignored when more
// than ej.MaxOut endpoints have one (all but the ej.MaxOut that opened
// first), or, when mayPanic (the call has no fallback version to go to),
// when fewer than ej.MinAvailable endpoints are available (Envoy's panic
// threshold). bypass reports that the chosen endpoint's breaker is open
// and ignored: call it without the breaker. It returns -1 when no endpoint
// can be chosen.
func choose(until, loads []int64, down, tried uint64, ej upstream.Ejection, mayPanic bool) (int, bool) {
	open, available := 0, 0
	for i, u := range until {
		switch {
		case down&(1<<i) != 0:
		case u != 0:
			open++
		default:
			available++
		}
	}
	panicking := mayPanic && available < ej.MinAvailable
	capped := ej.MaxOut > 0 && open > ej.MaxOut
	var idx [maxCandidates]int
	var cand [maxCandidates]int64
	n := 0
	for i, u := range until {
		if (tried|down)&(1<<i) != 0 {
			continue
		}
		if u != 0 && !panicking && (!capped || heldOut(until, i, ej.MaxOut)) {
			continue
		}
		idx[n], cand[n] = i, loads[i]
		n++
	}
	j := balancer.Pick(cand[:n])
	if j < 0 {
		return -1, false
	}
	return idx[j], until[idx[j]] != 0
}

// heldOut reports whether the open endpoint i is among the maxOut whose
// breakers opened first (earliest until; ties by index).
func heldOut(until []int64, i, maxOut int) bool {
	earlier := 0
	for k, u := range until {
		if u != 0 && (u < until[i] || u == until[i] && k < i) {
			earlier++
		}
	}
	return earlier < maxOut
}
