package observability

import (
	"strings"
	"sync"
	"testing"
)

// TestVersionCounts: counts recorded through the real handles read back
// exactly, per version and role.
func TestVersionCounts(t *testing.T) {
	m := NewMetrics()
	v1 := m.Series("acme", "fraud", "v1", RolePrimary)
	v2 := m.Series("acme", "fraud", "v2", RolePrimary)
	v2shadowRole := m.Series("acme", "fraud", "v2", RoleShadow)
	sc := m.Scope("acme", "fraud")
	ss := m.Shadow().Series("acme", "fraud", "v2")
	other := m.Series("acme", "other", "v1", RolePrimary) // same version name, another model

	for code, n := range map[int]int{200: 5, 201: 1, 404: 2, 499: 1, 500: 1, 503: 2, 599: 1, 0: 1, 700: 1} {
		for range n {
			v1.Request(code)
		}
	}
	for _, d := range []float64{0.01, 0.02, 0.03} {
		v1.Duration.Observe(d)
	}
	v1.Upstream.Observe(5) // not the request duration
	for range 3 {
		sc.Fallback(v1, v2).Inc()
	}
	sc.Fallback(v2, v1).Inc()
	v2.Request(200)
	v2shadowRole.Request(500) // shadow role: not in the primary counts
	other.Request(503)
	for o, n := range map[ShadowOutcome]int{ShadowMatch: 4, ShadowMismatch: 2, ShadowError: 3, ShadowPrimaryError: 5, ShadowDropped: 6} {
		for range n {
			ss.Outcome(o)
		}
	}
	for range 7 {
		ss.Top1Agree.Inc()
	}
	ss.Top1Differ.Inc()
	ss.Duration.Observe(0.1)
	ss.Duration.Observe(0.2)
	ss.MaxAbsDiff.Observe(1e-6)

	got := m.VersionCounts("acme", "fraud", "v1")
	if got.Requests != 15 || got.Errors != 6 || got.FallbacksFrom != 3 {
		t.Errorf("v1: requests %d, errors %d, fallbacks from %d; want 15, 6 (500, 503×2, 599, 0, 700 as 0), 3",
			got.Requests, got.Errors, got.FallbacksFrom)
	}
	if got.Latency.GetSampleCount() != 3 || got.Latency.GetSampleSum() < 0.0599 || got.Latency.GetSampleSum() > 0.0601 {
		t.Errorf("v1 latency: count %d sum %g, want 3 and 0.06", got.Latency.GetSampleCount(), got.Latency.GetSampleSum())
	}
	if got.Latency.Schema == nil || len(got.Latency.GetPositiveSpan()) == 0 {
		t.Errorf("v1 latency has no native buckets: %v", got.Latency)
	}
	if got.ShadowMatched+got.ShadowMismatched+got.ShadowErrors+got.Top1Agreed+got.Top1Differed != 0 || got.ShadowLatency != nil {
		t.Errorf("v1 never shadowed, got shadow counts %+v", got)
	}

	got = m.VersionCounts("acme", "fraud", "v2")
	if got.Requests != 1 || got.Errors != 0 || got.FallbacksFrom != 1 {
		t.Errorf("v2: requests %d, errors %d, fallbacks from %d; want 1, 0, 1", got.Requests, got.Errors, got.FallbacksFrom)
	}
	if got.ShadowMatched != 4 || got.ShadowMismatched != 2 || got.ShadowErrors != 3 {
		t.Errorf("v2 shadow outcomes: matched %d mismatched %d errors %d, want 4, 2, 3",
			got.ShadowMatched, got.ShadowMismatched, got.ShadowErrors)
	}
	if got.Top1Agreed != 7 || got.Top1Differed != 1 {
		t.Errorf("v2 top-1: agreed %d differed %d, want 7, 1", got.Top1Agreed, got.Top1Differed)
	}
	if got.ShadowLatency.GetSampleCount() != 2 {
		t.Errorf("v2 shadow latency count %d, want 2", got.ShadowLatency.GetSampleCount())
	}
	if got.Latency != nil {
		t.Errorf("v2 primary served without a duration observed: latency %v, want nil", got.Latency)
	}

	// The histograms are copies: later observations do not change them.
	first := m.VersionCounts("acme", "fraud", "v1")
	v1.Duration.Observe(0.04)
	if n := first.Latency.GetSampleCount(); n != 3 {
		t.Errorf("earlier reading changed by a later observation: count %d, want 3", n)
	}
	if n := m.VersionCounts("acme", "fraud", "v1").Latency.GetSampleCount(); n != 4 {
		t.Errorf("new reading: count %d, want 4", n)
	}
}

// TestVersionCountsCreatesNothing: reading a version that recorded
// nothing, configured or not, reads zero and creates no series.
func TestVersionCountsCreatesNothing(t *testing.T) {
	m := NewMetrics()
	m.Series("acme", "fraud", "v1", RolePrimary)
	v2 := m.Series("acme", "fraud", "v2", RolePrimary)
	m.Series("acme", "fraud", "v1", RoleShadow)
	sc := m.Scope("acme", "fraud")
	sc.Fallback(m.Series("acme", "fraud", "v1", RolePrimary), v2) // a handle, never incremented
	m.Shadow().Series("acme", "fraud", "v1")
	for _, v := range []string{"v1", "v2", "unknown"} {
		if got := m.VersionCounts("acme", "fraud", v); got != (VersionCounts{}) {
			t.Errorf("%s without traffic: got %+v, want zero", v, got)
		}
	}
	if got := m.VersionCounts("nobody", "nothing", "v1"); got != (VersionCounts{}) {
		t.Errorf("unknown tenant: got %+v, want zero", got)
	}
	if got := exported(t, m, `value:"acme"`); len(got) != 0 {
		t.Fatalf("reading created series: %v", got)
	}
	// One version serving does not make the other one's series either.
	v2.Request(200)
	v2.Duration.Observe(0.01)
	m.VersionCounts("acme", "fraud", "v1")
	if got := exported(t, m, `value:"v1"`); len(got) != 0 {
		t.Errorf("reading v1 after v2 served created v1 series: %v", got)
	}
}

// TestVersionCountsAfterForget: a forgotten version reads zero, and once
// configured again reads only what its new handles recorded.
func TestVersionCountsAfterForget(t *testing.T) {
	m := NewMetrics()
	v1 := m.Series("acme", "fraud", "v1", RolePrimary)
	v2 := m.Series("acme", "fraud", "v2", RolePrimary)
	sc := m.Scope("acme", "fraud")
	ss := m.Shadow().Series("acme", "fraud", "v1")
	for range 5 {
		v1.Request(500)
		v1.Duration.Observe(0.01)
		sc.Fallback(v1, v2).Inc()
		ss.Outcome(ShadowMatch)
	}
	m.Forget("acme", "fraud", "v1")
	m.Shadow().Forget("acme", "fraud", "v1")
	v1.Request(500) // a request still on the old snapshot
	if got := m.VersionCounts("acme", "fraud", "v1"); got != (VersionCounts{}) {
		t.Errorf("after Forget: got %+v, want zero", got)
	}
	again := m.Series("acme", "fraud", "v1", RolePrimary)
	again.Request(200)
	sc.Fallback(again, v2).Inc()
	got := m.VersionCounts("acme", "fraud", "v1")
	if got.Requests != 1 || got.Errors != 0 || got.FallbacksFrom != 1 || got.Latency != nil || got.ShadowMatched != 0 {
		t.Errorf("configured again: got %+v, want 1 request, 1 fallback, nothing else", got)
	}
}

// TestVersionCountsConcurrent: readings taken while requests record and
// other versions are forgotten and re-added never go backwards, and the
// last one is exact (run with -race).
func TestVersionCountsConcurrent(t *testing.T) {
	m := NewMetrics()
	v1 := m.Series("acme", "fraud", "v1", RolePrimary)
	fb := m.Series("acme", "fraud", "fb", RolePrimary)
	sc := m.Scope("acme", "fraud")
	ss := m.Shadow().Series("acme", "fraud", "v1")
	const workers, per = 4, 500
	var wg, recording sync.WaitGroup
	for w := range workers {
		recording.Go(func() {
			for i := range per {
				v1.Request(200 + 300*(i%2)) // half 200, half 500
				v1.Duration.Observe(float64(w+1) * 1e-3)
				sc.Fallback(v1, fb).Inc()
				ss.Outcome(ShadowMismatch)
				ss.Duration.Observe(1e-3)
			}
		})
	}
	done := make(chan struct{})
	wg.Go(func() { // reloads of a neighbour while v1 serves
		for {
			select {
			case <-done:
				return
			default:
			}
			s := m.Series("acme", "fraud", "churn", RolePrimary)
			s.Request(200)
			sc.Fallback(s, fb).Inc()
			m.Forget("acme", "fraud", "churn")
		}
	})
	recorded := make(chan struct{})
	go func() { recording.Wait(); close(recorded) }()
	var prev VersionCounts
	reads := 0
	for open := true; open || reads < 10; reads++ { // at least 10 readings, and until recording ends
		select {
		case <-recorded:
			open = false
		default:
		}
		got := m.VersionCounts("acme", "fraud", "v1")
		if got.Requests < prev.Requests || got.Errors < prev.Errors || got.FallbacksFrom < prev.FallbacksFrom ||
			got.ShadowMismatched < prev.ShadowMismatched || got.Latency.GetSampleCount() < prev.Latency.GetSampleCount() {
			t.Errorf("reading went backwards: %+v after %+v", got, prev)
			break
		}
		prev = got
	}
	close(done)
	wg.Wait()
	got := m.VersionCounts("acme", "fraud", "v1")
	const n = workers * per
	if got.Requests != n || got.Errors != n/2 || got.FallbacksFrom != n || got.ShadowMismatched != n ||
		got.Latency.GetSampleCount() != n || got.ShadowLatency.GetSampleCount() != n {
		t.Errorf("final: got %+v, want %d requests, %d errors, %d fallbacks, %d mismatches and observations", got, n, n/2, n, n)
	}
	if got := exported(t, m, `value:"churn"`); len(got) != 0 {
		t.Errorf("forgotten neighbour left series: %s", strings.Join(got, "\n"))
	}
}
