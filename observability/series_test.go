package observability

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// exported returns the sample lines of m's registry that contain sub.
func exported(t *testing.T, m *Metrics, sub string) []string {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		for _, metric := range mf.GetMetric() {
			line := mf.GetName() + metric.String()
			if strings.Contains(line, sub) {
				out = append(out, line)
			}
		}
	}
	return out
}

// TestSeriesOnFirstUse: handles export nothing until they record; the
// first record of a version creates its whole set; handles are reused.
func TestSeriesOnFirstUse(t *testing.T) {
	m := NewMetrics()
	s := m.Series("acme", "fraud", "v1", RolePrimary)
	sc := m.Scope("acme", "fraud")
	v2 := m.Series("acme", "fraud", "v2", RolePrimary)
	fb := sc.Fallback(v2, s)
	m.Shadow().Series("acme", "fraud", "v2")
	if got := exported(t, m, "acme"); len(got) != 0 {
		t.Fatalf("before any use: got %d series, want 0: %v", len(got), got)
	}
	q := sc.Queue() // limits attached: the queue gauge exists at 0
	if got := exported(t, m, "acme"); len(got) != 1 || !strings.HasPrefix(got[0], "modelgate_queued_requests") {
		t.Fatalf("after Queue: got %v, want the queued gauge only", got)
	}
	if m.Series("acme", "fraud", "v1", RolePrimary) != s || m.Scope("acme", "fraud") != sc {
		t.Error("Series or Scope returned a new handle for the same labels")
	}
	s.InFlight.Inc()
	for _, name := range []string{"modelgate_in_flight_requests", "modelgate_request_duration_seconds",
		"modelgate_upstream_duration_seconds", "modelgate_retries_total"} {
		if got := testutil.CollectAndCount(m.Registry, name); got != 1 {
			t.Errorf("after the first use: %d %s series, want 1", got, name)
		}
	}
	if got := testutil.CollectAndCount(m.Registry, "modelgate_requests_total"); got != 0 {
		t.Errorf("requests_total before a code was counted: %d series, want 0", got)
	}
	s.Request(200)
	s.Request(503)
	s.Request(200)
	fb.Inc()
	q.Queued.Inc()
	q.Wait.Observe(0.01)
	sc.Rejected(ReasonRateLimited)
	sc.Rejected("some_new_reason")
	want := map[string]int{
		"modelgate_requests_total": 2, "modelgate_fallbacks_total": 1, "modelgate_queued_requests": 1,
		"modelgate_queue_wait_seconds": 1, "modelgate_rejected_requests_total": 2, "modelgate_shadow_requests_total": 0,
	}
	for name, n := range want {
		if got := testutil.CollectAndCount(m.Registry, name); got != n {
			t.Errorf("%s: %d series, want %d", name, got, n)
		}
	}
	if got := exported(t, m, `value:"v2"`); len(got) != 1 { // the fallback's from label only
		t.Errorf("unused v2: got %v, want only the fallback counter", got)
	}
}

// TestForgetIsFinal: Forget and ForgetScope delete exactly what the handles
// created, and a handle used after it (a request still on the previous
// snapshot) records into nothing exported.
func TestForgetIsFinal(t *testing.T) {
	m := NewMetrics()
	v1 := m.Series("acme", "fraud", "v1", RolePrimary)
	v2 := m.Series("acme", "fraud", "v2", RolePrimary)
	sh := m.Series("acme", "fraud", "v2", RoleShadow)
	sc := m.Scope("acme", "fraud")
	tsc := m.Scope("acme", "")
	ss := m.Shadow().Series("acme", "fraud", "v2")
	other := m.Series("globex", "fraud", "v1", RolePrimary)
	record := func() {
		for _, s := range []*Series{v1, v2, sh, other} {
			s.InFlight.Inc()
			s.Duration.Observe(0.01)
			s.Upstream.Observe(0.01)
			s.Request(200)
			s.Retries().Inc()
		}
		sc.Fallback(v2, v1).Inc()
		sc.AdmissionRejections().RateLimited.Inc()
		sc.Rejected(ReasonNoEndpoint)
		tsc.Rejected(ReasonNotFound)
		q := tsc.Queue()
		q.Queued.Inc()
		q.Wait.Observe(0.1)
		ss.Outcome(ShadowMatch)
		ss.Duration.Observe(0.01)
		ss.MaxAbsDiff.Observe(0)
		ss.Top1Agree.Inc()
		m.Rejected("acme", "fraud", ReasonNotFound)
		m.Rejected("acme", "", ReasonNotFound)
	}
	record()
	if len(exported(t, m, `value:"acme"`)) == 0 {
		t.Fatal("nothing recorded")
	}
	m.Forget("acme", "fraud", "v1")
	if got := exported(t, m, `value:"v1"`); len(got) != len(exported(t, m, `value:"globex"`)) {
		t.Errorf("after Forget of v1: series with v1 left besides globex's: %v", got)
	}
	m.Forget("acme", "fraud", "v2")
	m.Shadow().Forget("acme", "fraud", "v2")
	m.ForgetScope("acme", "fraud")
	m.ForgetScope("acme", "")
	record() // stale handles, and lookups of what is gone
	if got := exported(t, m, `value:"acme"`); len(got) != 0 {
		t.Errorf("after forgetting acme: got %d series, want 0:\n%s", len(got), strings.Join(got, "\n"))
	}
	if got := testutil.CollectAndCount(m.Registry, "modelgate_in_flight_requests"); got != 1 {
		t.Errorf("globex's in-flight series: got %d, want 1", got)
	}
	// A version configured again gets a fresh handle that records.
	again := m.Series("acme", "fraud", "v1", RolePrimary)
	if again == v1 {
		t.Fatal("Series returned the forgotten handle")
	}
	again.Request(200)
	if got := len(exported(t, m, `value:"acme"`)); got != 1 {
		t.Errorf("re-added version: got %d series, want 1", got)
	}
}

// TestForgetQueue: a queue whose limits were removed loses its series;
// handles taken before record into nothing; handles taken after record.
func TestForgetQueue(t *testing.T) {
	m := NewMetrics()
	sc := m.Scope("acme", "")
	old := sc.Queue()
	old.Queued.Inc()
	sc.ForgetQueue()
	old.Queued.Dec()
	old.Wait.Observe(1)
	if got := testutil.CollectAndCount(m.Registry, "modelgate_queued_requests", "modelgate_queue_wait_seconds"); got != 0 {
		t.Errorf("after ForgetQueue: %d queue series, want 0", got)
	}
	sc.Queue().Queued.Inc()
	if got := testutil.ToFloat64(m.queued.WithLabelValues("acme", "")); got != 1 {
		t.Errorf("new queue handle: gauge %v, want 1", got)
	}
}

// TestHandlesAllocs: once created, recording through any handle allocates
// nothing.
func TestHandlesAllocs(t *testing.T) {
	m := NewMetrics()
	s := m.Series("acme", "fraud", "v1", RolePrimary)
	v2 := m.Series("acme", "fraud", "v2", RolePrimary)
	sc := m.Scope("acme", "fraud")
	fb := sc.Fallback(v2, s)
	rej := sc.AdmissionRejections()
	q := sc.Queue()
	ss := m.Shadow().Series("acme", "fraud", "v2")
	rec := func() {
		s.InFlight.Inc()
		s.InFlight.Dec()
		s.Duration.Observe(0.01)
		s.Upstream.Observe(0.01)
		s.Request(200)
		s.Request(504)
		s.Retries().Inc()
		fb.Inc()
		rej.RateLimited.Inc()
		q.Queued.Inc()
		q.Queued.Dec()
		q.Wait.Observe(0.1)
		ss.Outcome(ShadowMismatch)
		ss.Duration.Observe(0.01)
		ss.Top1Differ.Inc()
		m.Rejected("", "", ReasonUnauthorized)
	}
	if n := testing.AllocsPerRun(100, rec); n != 0 {
		t.Errorf("got %v allocations per round, want 0", n)
	}
}
