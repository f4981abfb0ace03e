package rollout

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/rollout/judge"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// checkBuckets fails unless h holds exactly obs: every bucket's count is
// the number of observations in (previous bound, bound] (the first from 0),
// and no observation lies outside the buckets.
func checkBuckets(t *testing.T, h judge.Histogram, obs []float64) {
	t.Helper()
	if err := h.Validate(); err != nil {
		t.Fatalf("invalid histogram: %v", err)
	}
	if got := h.Count(); got != uint64(len(obs)) {
		t.Errorf("histogram holds %d observations, want %d", got, len(obs))
	}
	for i, c := range h.Counts {
		lo := 0.0
		if i > 0 {
			lo = h.UpperBounds[i-1]
		}
		hi := h.UpperBounds[i]
		var want uint64
		for _, v := range obs {
			if (v > lo || (i == 0 && v == 0)) && v <= hi {
				want++
			}
		}
		if c != want {
			t.Errorf("bucket (%g, %g]: count %d, want %d", lo, hi, c, want)
		}
	}
}

// observe records vs into o and returns them.
func observe(o interface{ Observe(float64) }, vs ...float64) []float64 {
	for _, v := range vs {
		o.Observe(v)
	}
	return vs
}

func repeat(v float64, n int) []float64 {
	vs := make([]float64, n)
	for i := range vs {
		vs[i] = v
	}
	return vs
}

// TestPrimaryWindow: the window between two readings of real series holds
// the requests, errors, fallbacks and latencies recorded between them.
func TestPrimaryWindow(t *testing.T) {
	m := observability.NewMetrics()
	v1 := m.Series("acme", "fraud", "v1", observability.RolePrimary)
	v2 := m.Series("acme", "fraud", "v2", observability.RolePrimary)
	fb := m.Scope("acme", "fraud").Fallback(v1, v2)
	for range 7 {
		v1.Request(200)
		v1.Duration.Observe(0.05)
	}
	v1.Request(503)
	fb.Inc()
	start := m.VersionCounts("acme", "fraud", "v1")

	var obs []float64
	for range 10 {
		v1.Request(200)
	}
	v1.Request(500)
	v1.Request(504)
	v1.Request(404) // a client error is not the version's error
	fb.Inc()
	fb.Inc()
	fb.Inc()
	obs = append(obs, observe(v1.Duration, repeat(0.0123, 10)...)...)
	obs = append(obs, observe(v1.Duration, 0.2, 0.2, 0.2, 1.7, 0.0004)...)
	end := m.VersionCounts("acme", "fraud", "v1")

	w, err := PrimaryWindow(end, start)
	if err != nil {
		t.Fatal(err)
	}
	if w.Requests != 13+3 || w.Errors != 2+3 {
		t.Errorf("requests %d, errors %d; want 16 (13 answered + 3 fallen back), 5 (500, 504 + 3 fallbacks)", w.Requests, w.Errors)
	}
	if w.ShadowCompared != 0 || w.Top1Compared != 0 {
		t.Errorf("primary window has shadow counts: %+v", w)
	}
	checkBuckets(t, w.Latency, obs)
	// Schema 3: the bucket holding 12.3 ms is about ×1.09 wide.
	for i, c := range w.Latency.Counts {
		if c == 10 {
			lo, hi := w.Latency.UpperBounds[i-1], w.Latency.UpperBounds[i]
			if !(lo < 0.0123 && 0.0123 <= hi && hi/lo < 1.1) {
				t.Errorf("12.3 ms in bucket (%g, %g], want one ×1.09 wide around it", lo, hi)
			}
		}
	}

	// A window from zero is the cumulative counts.
	w0, err := PrimaryWindow(end, observability.VersionCounts{})
	if err != nil {
		t.Fatal(err)
	}
	if w0.Requests != end.Requests+end.FallbacksFrom || w0.Errors != end.Errors+end.FallbacksFrom {
		t.Errorf("from zero: requests %d errors %d, want %d and %d", w0.Requests, w0.Errors,
			end.Requests+end.FallbacksFrom, end.Errors+end.FallbacksFrom)
	}
	checkBuckets(t, w0.Latency, append(repeat(0.05, 7), obs...))
}

// TestShadowWindow: the shadow window counts the version's shadow
// outcomes, top-1 agreement and shadow latency between two readings.
func TestShadowWindow(t *testing.T) {
	m := observability.NewMetrics()
	ss := m.Shadow().Series("acme", "fraud", "v2")
	ss.Outcome(observability.ShadowMatch)
	ss.Outcome(observability.ShadowError)
	ss.Top1Agree.Inc()
	ss.Duration.Observe(0.3)
	start := m.VersionCounts("acme", "fraud", "v2")

	counts := map[observability.ShadowOutcome]int{
		observability.ShadowMatch: 40, observability.ShadowMismatch: 7, observability.ShadowError: 3,
		observability.ShadowPrimaryError: 11, observability.ShadowDropped: 13,
	}
	for o, n := range counts {
		for range n {
			ss.Outcome(o)
		}
	}
	for range 30 {
		ss.Top1Agree.Inc()
	}
	for range 5 {
		ss.Top1Differ.Inc()
	}
	obs := observe(ss.Duration, 0.021, 0.022, 0.5, 0.5)
	end := m.VersionCounts("acme", "fraud", "v2")

	w, err := ShadowWindow(end, start)
	if err != nil {
		t.Fatal(err)
	}
	want := judge.Window{Requests: 50, Errors: 3, ShadowCompared: 47, ShadowMatched: 40, Top1Compared: 35, Top1Agreed: 30}
	got := w
	got.Latency = judge.Histogram{}
	if got.Requests != want.Requests || got.Errors != want.Errors || got.ShadowCompared != want.ShadowCompared ||
		got.ShadowMatched != want.ShadowMatched || got.Top1Compared != want.Top1Compared || got.Top1Agreed != want.Top1Agreed {
		t.Errorf("got %+v, want %+v", got, want)
	}
	checkBuckets(t, w.Latency, obs)
}

// TestWindowCounterReset: a reload that deletes and recreates a version's
// series between two readings is an error, whether the new counts are
// lower or (histograms recreated) already higher.
func TestWindowCounterReset(t *testing.T) {
	m := observability.NewMetrics()
	record := func(n int) {
		s := m.Series("acme", "fraud", "v1", observability.RolePrimary)
		for range n {
			s.Request(200)
			s.Duration.Observe(0.01)
		}
		ss := m.Shadow().Series("acme", "fraud", "v1")
		for range n {
			ss.Outcome(observability.ShadowMatch)
			ss.Duration.Observe(0.01)
		}
	}
	forget := func() {
		m.Forget("acme", "fraud", "v1")
		m.Shadow().Forget("acme", "fraud", "v1")
	}
	record(10)
	start := m.VersionCounts("acme", "fraud", "v1")
	forget()
	record(3)
	lower := m.VersionCounts("acme", "fraud", "v1")
	if _, err := PrimaryWindow(lower, start); err == nil || !strings.Contains(err.Error(), "counter reset") {
		t.Errorf("primary, lower after reload: err %v, want a counter reset", err)
	}
	if _, err := ShadowWindow(lower, start); err == nil || !strings.Contains(err.Error(), "counter reset") {
		t.Errorf("shadow, lower after reload: err %v, want a counter reset", err)
	}

	// Recreated series with more traffic than before: the counters went
	// up, but the histograms were created anew.
	created := lower.Latency.GetCreatedTimestamp().AsTime()
	deadline := time.Now().Add(time.Second)
	for !time.Now().After(created) && time.Now().Before(deadline) { // creation times must differ
	}
	forget()
	record(30)
	higher := m.VersionCounts("acme", "fraud", "v1")
	if _, err := PrimaryWindow(higher, lower); err == nil || !strings.Contains(err.Error(), "recreated") {
		t.Errorf("primary, higher after reload: err %v, want recreated", err)
	}
	if _, err := ShadowWindow(higher, lower); err == nil || !strings.Contains(err.Error(), "recreated") {
		t.Errorf("shadow, higher after reload: err %v, want recreated", err)
	}
	// Forgotten, not configured again: the histogram is gone.
	forget()
	if _, err := PrimaryWindow(m.VersionCounts("acme", "fraud", "v1"), higher); err == nil {
		t.Error("primary, forgotten: no error")
	}
}

// TestWindowErrors: decreasing counters and malformed histograms are
// errors naming what went wrong; nil histograms are empty.
func TestWindowErrors(t *testing.T) {
	native := func(schema int32, spans []*dto.BucketSpan, deltas []int64) *dto.Histogram {
		return &dto.Histogram{Schema: proto.Int32(schema), ZeroThreshold: proto.Float64(1e-9), ZeroCount: proto.Uint64(0),
			PositiveSpan: spans, PositiveDelta: deltas}
	}
	span := func(off int32, n uint32) *dto.BucketSpan { return &dto.BucketSpan{Offset: &off, Length: &n} }
	tests := []struct {
		desc       string
		primary    bool
		end, start observability.VersionCounts
		err        string
	}{
		{desc: "requests", primary: true, end: observability.VersionCounts{Requests: 4}, start: observability.VersionCounts{Requests: 5}, err: "requests went from 5 to 4"},
		{desc: "errors", primary: true, end: observability.VersionCounts{Requests: 5, Errors: 1}, start: observability.VersionCounts{Requests: 5, Errors: 2}, err: "errors went"},
		{desc: "fallbacks", primary: true, end: observability.VersionCounts{}, start: observability.VersionCounts{FallbacksFrom: 1}, err: "fallbacks went"},
		{desc: "matched", end: observability.VersionCounts{}, start: observability.VersionCounts{ShadowMatched: 1}, err: "shadow matches went"},
		{desc: "mismatched", end: observability.VersionCounts{}, start: observability.VersionCounts{ShadowMismatched: 1}, err: "shadow mismatches went"},
		{desc: "shadow errors", end: observability.VersionCounts{}, start: observability.VersionCounts{ShadowErrors: 1}, err: "shadow errors went"},
		{desc: "agreed", end: observability.VersionCounts{}, start: observability.VersionCounts{Top1Agreed: 1}, err: "top-1 agreements went"},
		{desc: "differed", end: observability.VersionCounts{}, start: observability.VersionCounts{Top1Differed: 1}, err: "top-1 differences went"},
		{desc: "bucket decreased", primary: true,
			end:   observability.VersionCounts{Latency: native(3, []*dto.BucketSpan{span(5, 1)}, []int64{2})},
			start: observability.VersionCounts{Latency: native(3, []*dto.BucketSpan{span(5, 1)}, []int64{3})}, err: "counter reset"},
		{desc: "bucket vanished", end: observability.VersionCounts{ShadowLatency: native(3, nil, nil)},
			start: observability.VersionCounts{ShadowLatency: native(3, []*dto.BucketSpan{span(-20, 1)}, []int64{1})}, err: "counter reset"},
		{desc: "histogram vanished", primary: true,
			start: observability.VersionCounts{Latency: native(3, nil, nil)}, err: "disappeared"},
		{desc: "classic only", primary: true, end: observability.VersionCounts{Latency: &dto.Histogram{SampleCount: proto.Uint64(1)}}, err: "no native buckets"},
		{desc: "deltas short", primary: true, end: observability.VersionCounts{Latency: native(3, []*dto.BucketSpan{span(0, 2)}, []int64{1})}, err: "more buckets than the 1 deltas"},
		{desc: "deltas long", primary: true, end: observability.VersionCounts{Latency: native(3, []*dto.BucketSpan{span(0, 1)}, []int64{1, 1})}, err: "2 deltas but spans hold 1"},
		{desc: "negative count", primary: true, end: observability.VersionCounts{Latency: native(3, []*dto.BucketSpan{span(0, 2)}, []int64{1, -2})}, err: "count -1"},
		{desc: "schema", primary: true, end: observability.VersionCounts{Latency: native(9, nil, nil)}, err: "schema 9"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var err error
			if tt.primary {
				_, err = PrimaryWindow(tt.end, tt.start)
			} else {
				_, err = ShadowWindow(tt.end, tt.start)
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("err = %v, want one containing %q", err, tt.err)
			}
		})
	}

	w, err := PrimaryWindow(observability.VersionCounts{Requests: 5, Errors: 1}, observability.VersionCounts{})
	if err != nil || w.Requests != 5 || w.Errors != 1 || w.Latency.Count() != 0 || w.Latency.Validate() != nil {
		t.Errorf("nil histograms: got %+v, %v; want 5 requests, 1 error, an empty valid histogram", w, err)
	}
	w, err = ShadowWindow(observability.VersionCounts{}, observability.VersionCounts{})
	if err != nil || w.Requests != 0 || w.Latency.Count() != 0 {
		t.Errorf("zero readings: got %+v, %v; want an empty window", w, err)
	}
}

// TestLatencyWindowEdges: zero, negative, huge and infinite observations,
// and a zero bucket widened between readings.
func TestLatencyWindowEdges(t *testing.T) {
	m := observability.NewMetrics()
	s := m.Series("acme", "fraud", "v1", observability.RolePrimary)
	obs := observe(s.Duration, 0, 0.01, math.MaxFloat64, math.Inf(1))
	s.Duration.Observe(-1) // not a latency: counted as 0
	w, err := PrimaryWindow(m.VersionCounts("acme", "fraud", "v1"), observability.VersionCounts{})
	if err != nil {
		t.Fatal(err)
	}
	checkBuckets(t, w.Latency, append(obs, 0))
	h := w.Latency
	if h.UpperBounds[0] != math.Exp2(-128) || h.Counts[0] != 2 {
		t.Errorf("zero bucket (%g, count %d), want bound 2^-128 (the default threshold) and 2 (0 and -1)", h.UpperBounds[0], h.Counts[0])
	}
	if last := len(h.Counts) - 1; !math.IsInf(h.UpperBounds[last], 1) || h.Counts[last] != 2 {
		t.Errorf("last bucket (%g, count %d), want +Inf holding MaxFloat64 and +Inf", h.UpperBounds[last], h.Counts[last])
	}

	// The library may widen the zero bucket to the upper bound of its
	// lowest bucket; the window merges that bucket at both readings.
	span := func(off int32, n uint32) *dto.BucketSpan { return &dto.BucketSpan{Offset: &off, Length: &n} }
	start := &dto.Histogram{Schema: proto.Int32(3), ZeroThreshold: proto.Float64(math.Exp2(-128)), ZeroCount: proto.Uint64(1),
		PositiveSpan: []*dto.BucketSpan{span(-80, 1), span(84, 1)}, PositiveDelta: []int64{2, -1}} // 2 at -80, 1 at 5
	end := &dto.Histogram{Schema: proto.Int32(3), ZeroThreshold: proto.Float64(upperBound(-80, 3)), ZeroCount: proto.Uint64(4),
		PositiveSpan: []*dto.BucketSpan{span(5, 1)}, PositiveDelta: []int64{4}} // 1 more in the zero bucket, 3 more at 5
	got, err := latencyWindow(end, start)
	if err != nil {
		t.Fatal(err)
	}
	want := judge.Histogram{UpperBounds: []float64{upperBound(-80, 3), upperBound(4, 3), upperBound(5, 3)}, Counts: []uint64{1, 0, 3}}
	if !slices.Equal(got.UpperBounds, want.UpperBounds) || !slices.Equal(got.Counts, want.Counts) {
		t.Errorf("widened zero bucket: got %+v, want %+v", got, want)
	}
}

// TestReduceIndex: lowering the schema by one maps index i to (i+1)>>1,
// and each fine bucket lies inside its coarse bucket, negative indices
// (latencies below 1 s) included.
func TestReduceIndex(t *testing.T) {
	for _, tt := range []struct{ i, want int }{
		{-5, -2}, {-4, -2}, {-3, -1}, {-2, -1}, {-1, 0}, {0, 0}, {1, 1}, {2, 1}, {3, 2}, {4, 2},
	} {
		n := nativeBuckets{schema: 3, buckets: map[int]uint64{tt.i: 1}}
		n.reduce(2)
		if n.buckets[tt.want] != 1 || len(n.buckets) != 1 {
			t.Errorf("index %d at schema 3 → %v at schema 2, want %d", tt.i, n.buckets, tt.want)
		}
	}
	for s := int32(maxSchema); s > minSchema; s-- {
		for i := -300; i <= 300; i++ {
			n := nativeBuckets{schema: s, buckets: map[int]uint64{i: 1}}
			n.reduce(s - 1)
			var j int
			for j = range n.buckets {
			}
			lo, hi := upperBound(i-1, s), upperBound(i, s)
			clo, chi := upperBound(j-1, s-1), upperBound(j, s-1)
			if lo < clo || hi > chi {
				t.Fatalf("schema %d bucket %d (%g, %g] not inside schema %d bucket %d (%g, %g]", s, i, lo, hi, s-1, j, clo, chi)
			}
		}
	}
}

// TestWindowSchemaChange: observations spanning many octaves make the
// library lower the schema between two readings; the window is then in
// the coarser schema and still holds exactly the window's observations.
func TestWindowSchemaChange(t *testing.T) {
	m := observability.NewMetrics()
	s := m.Series("acme", "fraud", "v1", observability.RolePrimary)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 300 {
		s.Duration.Observe(0.01 + 0.02*rng.Float64())
	}
	s.Request(200)
	start := m.VersionCounts("acme", "fraud", "v1")
	var obs []float64
	for range 3000 { // log-uniform over 1 µs … 1000 s: 30 octaves, 240 buckets at schema 3
		obs = append(obs, observe(s.Duration, math.Exp2(-20+30*rng.Float64()))...)
	}
	obs = append(obs, observe(s.Duration, repeat(0.015, 50)...)...) // also in start's buckets
	end := m.VersionCounts("acme", "fraud", "v1")
	if a, b := start.Latency.GetSchema(), end.Latency.GetSchema(); a != 3 || b >= a {
		t.Fatalf("schema went from %d to %d, want 3 then lower", a, b)
	}
	w, err := PrimaryWindow(end, start)
	if err != nil {
		t.Fatal(err)
	}
	checkBuckets(t, w.Latency, obs)
	if got, want := w.Latency.Count(), end.Latency.GetSampleCount()-start.Latency.GetSampleCount(); got != want {
		t.Errorf("window count %d, want the sample count's delta %d", got, want)
	}
	// Every bucket with observations has the native edges of the end's
	// schema.
	f := math.Exp2(math.Exp2(-float64(end.Latency.GetSchema())))
	for i := 1; i < len(w.Latency.UpperBounds); i++ {
		r := w.Latency.UpperBounds[i] / w.Latency.UpperBounds[i-1]
		if w.Latency.Counts[i] > 0 && math.Abs(r-f) > 1e-9 {
			t.Errorf("bucket %d is ×%g wide, want ×%g (schema %d)", i, r, f, end.Latency.GetSchema())
		}
	}
}

// TestP99RatioOnNativeWindows: the native buckets are fine enough for the
// p99 gate to decide at max_p99_ratio 1.5 on 1000 observations a side —
// a canary twice as slow fails, an equal one passes — where the classic
// LatencyBuckets cannot decide.
func TestP99RatioOnNativeWindows(t *testing.T) {
	latencies := func(seed uint64, scale float64, n int) []float64 {
		rng := rand.New(rand.NewPCG(seed, 7))
		vs := make([]float64, n)
		for i := range vs { // log-normal around 20 ms
			vs[i] = scale * 0.02 * math.Exp(0.1*rng.NormFloat64())
		}
		return vs
	}
	window := func(m *observability.Metrics, version string, vs []float64) (judge.Window, observability.VersionCounts) {
		t.Helper()
		s := m.Series("acme", "fraud", version, observability.RolePrimary)
		observe(s.Duration, latencies(99, 1, 50)...) // before the window
		start := m.VersionCounts("acme", "fraud", version)
		observe(s.Duration, vs...)
		end := m.VersionCounts("acme", "fraud", version)
		w, err := PrimaryWindow(end, start)
		if err != nil {
			t.Fatal(err)
		}
		return w, end
	}
	for _, tt := range []struct {
		desc  string
		scale float64
		want  judge.Result
	}{
		{desc: "canary 2x slower", scale: 2, want: judge.Fail},
		{desc: "equal versions", scale: 1, want: judge.Pass},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			m := observability.NewMetrics()
			base, baseEnd := window(m, "v1", latencies(1, 1, 1000))
			canary, canaryEnd := window(m, "v2", latencies(2, tt.scale, 1000))
			v := judge.P99Ratio(canary.Latency, base.Latency, 1.5, 0.95)
			if v.Result != tt.want {
				t.Errorf("native buckets: %s (%s), want %s", v.Result, v.Reason, tt.want)
			}
			// The classic buckets of the same series cannot tell.
			cv := judge.P99Ratio(classic(t, canaryEnd.Latency), classic(t, baseEnd.Latency), 1.5, 0.95)
			if cv.Result != judge.Inconclusive {
				t.Errorf("classic buckets: %s (%s), want inconclusive", cv.Result, cv.Reason)
			}
		})
	}
}

// classic is h's classic (le) buckets from zero, with +Inf.
func classic(t *testing.T, h *dto.Histogram) judge.Histogram {
	t.Helper()
	var bounds []float64
	var cum []uint64
	for _, b := range h.GetBucket() {
		bounds = append(bounds, b.GetUpperBound())
		cum = append(cum, b.GetCumulativeCount())
	}
	bounds = append(bounds, math.Inf(1))
	cum = append(cum, h.GetSampleCount())
	out, err := judge.FromCumulative(bounds, cum, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
