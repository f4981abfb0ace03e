package gateway

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelgate/modelgate/gateway/shadow"
	"github.com/modelgate/modelgate/internal/modelserver"
	"github.com/modelgate/modelgate/router"
)

// v1Weights are the primary's weights in the shadow tests.
var v1Weights = []float64{0.8, -0.4, 0.3, 0.1}

// startModelOpts starts an example model container with fault options.
func startModelOpts(t testing.TB, opts modelserver.Options) *modelserver.Running {
	t.Helper()
	r, err := modelserver.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func fraudModel(version string, weights []float64) modelserver.Model {
	return modelserver.Model{Name: "fraud", Version: version, Weights: weights}
}

// eventuallyf polls cond every 10 ms until it holds or the deadline passes.
func eventuallyf(t *testing.T, within time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: "+format, append([]any{within}, args...)...)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// shadowStatsOf fetches GET /admin/shadow and returns the entry of
// tenant/model.
func (h *harness) shadowStatsOf(tenant, model string) shadow.StatsView {
	h.t.Helper()
	r := h.doAdmin("GET", "/admin/shadow", "", "Authorization", "Bearer "+adminToken)
	if r.code != 200 {
		h.t.Fatalf("/admin/shadow: got %d: %s", r.code, r.body)
	}
	var v shadow.ListView
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		h.t.Fatalf("/admin/shadow: %v: %s", err, r.body)
	}
	for _, s := range v.Shadows {
		if s.Tenant == tenant && s.Model == model {
			return s
		}
	}
	h.t.Fatalf("/admin/shadow has no %s/%s: %s", tenant, model, r.body)
	return shadow.StatsView{}
}

// shadowMetric returns a modelgate_shadow_* sample from /metrics (histograms:
// the sample count). extra is one more label as "name=value", or "".
func shadowMetric(m map[string]float64, name, tenant, model, version, extra string) float64 {
	labels := []string{"model=" + model, "tenant=" + tenant, "version=" + version}
	if extra != "" {
		labels = append(labels, extra)
	}
	slices.Sort(labels)
	return m[name+"|"+strings.Join(labels, "|")]
}

// distinctBody returns an OIP request unique to i, with a pad of varying
// length so bodies differ in size too.
func distinctBody(i int) string {
	return fmt.Sprintf(`{"id":"req-%d","parameters":{"pad":%q},"inputs":[{"name":"input","shape":[1,4],"datatype":"FP64","data":[%d.25,0.5,-0.3,2.0]}]}`,
		i, strings.Repeat(string(rune('a'+i%26)), (i*37)%3000), i%7)
}

func TestShadowFaithfulCopies(t *testing.T) {
	primary := startModelOpts(t, modelserver.Options{Model: fraudModel("v1", v1Weights)})
	shadowSrv := startModelOpts(t, modelserver.Options{Model: fraudModel("v2", v1Weights)})
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud",
		"shadow: {version: v2, percent: 100, max_in_flight: 8, max_queue: 1000}",
		"v1:1:"+primary.URL, "v2:0:"+shadowSrv.URL))
	key, _ := testKey("acme")

	// Rejected before forwarding: never shadowed.
	if r := h.do("POST", "/v2/models/fraud/infer", inferBody); r.code != 401 {
		t.Fatalf("no key: got %d, want 401", r.code)
	}
	if r := h.do("POST", "/v2/models/fraud/versions/v9/infer", inferBody, "X-API-Key", key); r.code != 404 {
		t.Fatalf("unknown pinned version: got %d, want 404", r.code)
	}

	const n, workers = 300, 8
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				r := doURL(t, h.client, "POST", h.url+"/v2/models/fraud/infer?n="+strconv.Itoa(i), distinctBody(i),
					"X-API-Key", key, "X-Request-ID", "rid-"+strconv.Itoa(i), "Content-Type", "application/json")
				if r.code != 200 || r.header.Get("X-Modelgate-Version") != "v1" {
					errs <- fmt.Sprintf("request %d: got %d from %s, want 200 from v1", i, r.code, r.header.Get("X-Modelgate-Version"))
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	eventuallyf(t, 20*time.Second, func() bool { return len(shadowSrv.Server.Requests()) >= n },
		"shadow got %d copies, want %d", len(shadowSrv.Server.Requests()), n)

	seen := map[string]bool{}
	for _, got := range shadowSrv.Server.Requests() {
		rid := got.Header.Get("X-Request-Id")
		i, err := strconv.Atoi(strings.TrimPrefix(rid, "rid-"))
		if err != nil || seen[rid] {
			t.Errorf("shadow copy with request id %q: unknown or repeated", rid)
			continue
		}
		seen[rid] = true
		if want := distinctBody(i); string(got.Body) != want {
			t.Errorf("copy %s: got body %q, want the client's %q", rid, got.Body, want)
		}
		if got.Method != "POST" || got.Path != "/v2/models/fraud/infer" || got.RawQuery != "n="+strconv.Itoa(i) {
			t.Errorf("copy %s: got %s %s?%s, want POST /v2/models/fraud/infer?n=%d", rid, got.Method, got.Path, got.RawQuery, i)
		}
		for name, want := range map[string]string{
			"X-Modelgate-Shadow":  "true",
			"X-Modelgate-Tenant":  "acme",
			"X-Modelgate-Version": "v2",
			"Content-Type":        "application/json",
			"X-Api-Key":           "",
			"Authorization":       "",
		} {
			if g := got.Header.Get(name); g != want {
				t.Errorf("copy %s: header %s: got %q, want %q", rid, name, g, want)
			}
		}
	}
	if len(seen) != n {
		t.Errorf("got %d distinct copies, want %d", len(seen), n)
	}
	for _, r := range primary.Server.Requests() {
		if r.Header.Get("X-Modelgate-Shadow") != "" {
			t.Errorf("primary got a request marked as shadow: %v", r.Header)
		}
	}
	// Same weights: every comparison matches.
	var st shadow.StatsView
	eventuallyf(t, 10*time.Second, func() bool { st = h.shadowStatsOf("acme", "fraud"); return st.Requests == n },
		"admin view counts %d requests, want %d", st.Requests, n)
	if st.Outcomes["match"] != n || st.AgreementRate == nil || *st.AgreementRate != 1 || st.Top1Compared != n {
		t.Errorf("got outcomes %v, agreement %v, top-1 compared %d; want %d matches, rate 1, %d top-1", st.Outcomes, st.AgreementRate, st.Top1Compared, n, n)
	}
}

func TestShadowComparisons(t *testing.T) {
	const n = 12
	flipped := []float64{-0.8, 0.4, -0.3, -0.1}
	nudged := []float64{0.80001, -0.4, 0.3, 0.1} // Δp ≈ 1e-5 · x · p(1-p): inside 0.001
	drifted := []float64{0.82, -0.38, 0.3, 0.12} // the demo's v2: Δp ≈ 0.01
	tests := []struct {
		desc        string
		shadow      modelserver.Options
		primaryFail int
		extra       string
		want        map[string]uint64
		wantTop1    [2]uint64 // agree, differ
		wantPath    string    // in every mismatch record
		wantDiffGT  float64   // the largest max_abs_diff of the records is above this
		logPayloads bool
		v1          bool // KServe V1 predict instead of OIP infer
	}{
		{desc: "identical", shadow: modelserver.Options{Model: fraudModel("v2", v1Weights)},
			want: map[string]uint64{"match": n}, wantTop1: [2]uint64{n, 0}},
		{desc: "drift inside tolerance", shadow: modelserver.Options{Model: fraudModel("v2", nudged)},
			want: map[string]uint64{"match": n}, wantTop1: [2]uint64{n, 0}},
		{desc: "drift outside tolerance", shadow: modelserver.Options{Model: fraudModel("v2", drifted)},
			want: map[string]uint64{"mismatch": n}, wantTop1: [2]uint64{n, 0},
			wantPath: `outputs["probability"].data[0]`, wantDiffGT: 0.001},
		{desc: "drift accepted by relative tolerance", shadow: modelserver.Options{Model: fraudModel("v2", drifted)},
			extra: "relative_tolerance: 0.5", want: map[string]uint64{"match": n}, wantTop1: [2]uint64{n, 0}},
		{desc: "top-1 flip", shadow: modelserver.Options{Model: fraudModel("v2", flipped)},
			want: map[string]uint64{"mismatch": n}, wantTop1: [2]uint64{0, n},
			wantPath: `outputs["scores"].data.argmax[0]`, wantDiffGT: 0.1},
		{desc: "v1 predict top-1 flip", shadow: modelserver.Options{Model: fraudModel("v2", flipped)}, v1: true,
			want: map[string]uint64{"mismatch": n}, wantTop1: [2]uint64{0, n},
			wantPath: `predictions[0].argmax[0]`, wantDiffGT: 0.1},
		{desc: "v1 predict drift inside tolerance", shadow: modelserver.Options{Model: fraudModel("v2", nudged)}, v1: true,
			want: map[string]uint64{"match": n}, wantTop1: [2]uint64{n, 0}},
		{desc: "shape change", shadow: modelserver.Options{Model: fraudModel("v2", v1Weights), FlatShapes: true},
			// Same scores, so the argmax still agrees.
			want: map[string]uint64{"mismatch": n}, wantTop1: [2]uint64{n, 0}, wantPath: `outputs["probability"].shape`, logPayloads: true},
		{desc: "shadow fails", shadow: modelserver.Options{Model: fraudModel("v2", v1Weights), FailStatus: 500},
			want: map[string]uint64{"shadow_error": n}},
		{desc: "shadow times out", shadow: modelserver.Options{Model: fraudModel("v2", v1Weights), Delay: time.Second},
			extra: "timeout: 50ms", want: map[string]uint64{"shadow_error": n}},
		{desc: "primary fails", shadow: modelserver.Options{Model: fraudModel("v2", v1Weights)}, primaryFail: 503,
			want: map[string]uint64{"primary_error": n}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			primary := startModelOpts(t, modelserver.Options{Model: fraudModel("v1", v1Weights), FailStatus: tc.primaryFail})
			shadowSrv := startModelOpts(t, tc.shadow)
			shadowCfg := "shadow: {version: v2, percent: 100, tolerance: 0.001"
			if tc.extra != "" {
				shadowCfg += ", " + tc.extra
			}
			shadowCfg += "}"
			if tc.logPayloads {
				shadowCfg += "\nlog_payloads: true"
			}
			h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud", shadowCfg, "v1:1:"+primary.URL, "v2:0:"+shadowSrv.URL))
			key, _ := testKey("acme")
			wantCode := 200
			if tc.primaryFail != 0 {
				wantCode = tc.primaryFail
			}
			for i := range n {
				path, body := "/v2/models/fraud/infer", distinctBody(i)
				if tc.v1 {
					path, body = "/v1/models/fraud:predict", fmt.Sprintf(`{"instances":[[%d.5,0.5,-0.3,2.0]]}`, i%7)
				}
				r := h.do("POST", path, body, "X-API-Key", key)
				if r.code != wantCode || r.header.Get("X-Modelgate-Version") != "v1" {
					t.Fatalf("primary: got %d from %q, want %d from v1 whatever the shadow does", r.code, r.header.Get("X-Modelgate-Version"), wantCode)
				}
			}
			var st shadow.StatsView
			eventuallyf(t, 10*time.Second, func() bool { st = h.shadowStatsOf("acme", "fraud"); return st.Requests >= n },
				"admin view counts %d requests, want %d", st.Requests, n)
			m := h.scrape()
			for _, o := range []string{"match", "mismatch", "shadow_error", "primary_error", "dropped"} {
				if st.Outcomes[o] != tc.want[o] {
					t.Errorf("admin outcome %s: got %d, want %d", o, st.Outcomes[o], tc.want[o])
				}
				if got := shadowMetric(m, "modelgate_shadow_requests_total", "acme", "fraud", "v2", "outcome="+o); got != float64(tc.want[o]) {
					t.Errorf("metric outcome %s: got %v, want %d", o, got, tc.want[o])
				}
			}
			agree := shadowMetric(m, "modelgate_shadow_top1_total", "acme", "fraud", "v2", "agree=true")
			differ := shadowMetric(m, "modelgate_shadow_top1_total", "acme", "fraud", "v2", "agree=false")
			if agree != float64(tc.wantTop1[0]) || differ != float64(tc.wantTop1[1]) {
				t.Errorf("top-1: got agree %v differ %v, want %v", agree, differ, tc.wantTop1)
			}
			compared := tc.want["match"] + tc.want["mismatch"]
			if got := shadowMetric(m, "modelgate_shadow_max_abs_diff", "acme", "fraud", "v2", ""); got != float64(compared) {
				t.Errorf("max abs diff histogram: got %v observations, want %d", got, compared)
			}
			if tc.primaryFail != 0 {
				if got := len(shadowSrv.Server.Requests()); got != 0 {
					t.Errorf("shadow got %d calls after primary errors, want 0", got)
				}
			}
			if tc.wantPath == "" {
				if len(st.LastMismatches) != 0 {
					t.Errorf("got %d mismatch records, want 0", len(st.LastMismatches))
				}
				return
			}
			// Four workers finish in any order: check every record, not the
			// "newest" one (which request that is depends on scheduling).
			if len(st.LastMismatches) != n {
				t.Fatalf("got %d mismatch records, want all %d", len(st.LastMismatches), n)
			}
			if !slices.IsSortedFunc(st.LastMismatches, func(a, b shadow.Mismatch) int { return b.Time.Compare(a.Time) }) {
				t.Errorf("mismatch records not newest first")
			}
			ids := map[string]bool{}
			maxDiff := math.Inf(-1)
			for _, mm := range st.LastMismatches {
				var paths []string
				for _, d := range mm.Diffs {
					paths = append(paths, d.Path)
					if d.Primary == "" || d.Shadow == "" || d.Primary == d.Shadow {
						t.Errorf("diff %s: got values %q / %q, want both, different", d.Path, d.Primary, d.Shadow)
					}
				}
				if !slices.Contains(paths, tc.wantPath) {
					t.Errorf("mismatch %s paths %q, want %s among them", mm.RequestID, paths, tc.wantPath)
				}
				if math.IsNaN(mm.MaxAbsDiff) {
					t.Errorf("mismatch %s max_abs_diff NaN", mm.RequestID)
				}
				maxDiff = max(maxDiff, mm.MaxAbsDiff)
				if mm.RequestID == "" || ids[mm.RequestID] {
					t.Errorf("mismatch record with request id %q: empty or repeated", mm.RequestID)
				}
				ids[mm.RequestID] = true
				if hasPayload := mm.Request != "" || mm.Primary != "" || mm.Shadow != ""; hasPayload != tc.logPayloads {
					t.Errorf("mismatch record has payloads %v, want %v (log_payloads)", hasPayload, tc.logPayloads)
				}
				if tc.logPayloads && !strings.Contains(mm.Request, `"inputs"`) {
					t.Errorf("log_payloads record request %q, want the client's body", mm.Request)
				}
			}
			if tc.wantDiffGT > 0 && maxDiff <= tc.wantDiffGT {
				t.Errorf("largest max_abs_diff among mismatches %v, want > %v", maxDiff, tc.wantDiffGT)
			}
		})
	}
}

func TestShadowLatencyUnaffected(t *testing.T) {
	primary := startModelOpts(t, modelserver.Options{Model: fraudModel("v1", v1Weights)})
	plain := startModelOpts(t, modelserver.Options{Model: modelserver.Model{Name: "plain", Version: "v1", Weights: v1Weights}})
	slow := startModelOpts(t, modelserver.Options{Model: fraudModel("v2", v1Weights), Delay: 500 * time.Millisecond})
	_, hash := testKey("acme")
	h := startGateway(t, fmt.Sprintf(`tenants:
  - name: acme
    api_keys: [{sha256: %q}]
    models:
      - name: fraud
        shadow: {version: v2, percent: 100, timeout: 2s, max_in_flight: 4, max_queue: 4}
        versions:
          - {name: v1, weight: 1, endpoints: [%q]}
          - {name: v2, weight: 0, endpoints: [%q]}
      - name: plain
        versions:
          - {name: v1, weight: 1, endpoints: [%q]}
`, hash, primary.URL, slow.URL, plain.URL))
	key, _ := testKey("acme")
	// Interleave calls to the shadowed and the plain model so both see the
	// same machine noise.
	const n = 150
	var with, without []time.Duration
	for i := range n {
		for _, m := range []string{"fraud", "plain"} {
			t0 := time.Now()
			r := h.do("POST", "/v2/models/"+m+"/infer", inferBody, "X-API-Key", key)
			d := time.Since(t0)
			if r.code != 200 {
				t.Fatalf("request %d to %s: got %d, want 200", i, m, r.code)
			}
			if m == "fraud" {
				with = append(with, d)
			} else {
				without = append(without, d)
			}
		}
	}
	p95 := func(ds []time.Duration) time.Duration {
		slices.Sort(ds)
		return ds[int(math.Ceil(0.95*float64(len(ds))))-1]
	}
	pw, po := p95(with), p95(without)
	// Loopback latencies are sub-millisecond; floor both at 2 ms so timer
	// noise on a busy machine cannot fake a ratio. A caller that waited for
	// the shadow would see p95 ≥ 500 ms: a ratio in the hundreds.
	const floor = 2 * time.Millisecond
	ratio := float64(max(pw, floor)) / float64(max(po, floor))
	t.Logf("p95 with 500 ms shadow %v, without %v, ratio %.2f", pw, po, ratio)
	if ratio > 5 {
		t.Errorf("p95 with shadow %v vs without %v: ratio %.2f, want ≤ 5", pw, po, ratio)
	}
	var st shadow.StatsView
	eventuallyf(t, 10*time.Second, func() bool { st = h.shadowStatsOf("acme", "fraud"); return st.Requests == n },
		"shadow outcomes %v, want %d counted", st.Outcomes, n)
	if st.Outcomes["match"] == 0 || st.Outcomes["match"]+st.Outcomes["dropped"] != n {
		t.Errorf("got outcomes %v, want some matches and the rest dropped", st.Outcomes)
	}
	if st.Latency.Samples == 0 || st.Latency.ShadowP50ms < 400 || st.Latency.ShadowToPrimaryP50 == nil || *st.Latency.ShadowToPrimaryP50 < 10 {
		t.Errorf("got latency view %+v, want shadow p50 ≈ 500 ms and far above the primary's", st.Latency)
	}
}

func TestShadowFloodDrops(t *testing.T) {
	primary := startModelOpts(t, modelserver.Options{Model: fraudModel("v1", v1Weights)})
	shadowSrv := startModelOpts(t, modelserver.Options{Model: fraudModel("v2", v1Weights), Delay: 100 * time.Millisecond})
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud",
		"shadow: {version: v2, max_in_flight: 1, max_queue: 2, max_body_bytes: 300}", "v1:1:"+primary.URL, "v2:0:"+shadowSrv.URL))
	key, _ := testKey("acme")
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if r := doURL(t, h.client, "POST", h.url+"/v2/models/fraud/infer", inferBody, "X-API-Key", key); r.code != 200 {
				t.Errorf("request %d: got %d, want 200", i, r.code)
			}
		})
	}
	wg.Wait()
	big := distinctBody(300) // over max_body_bytes
	if r := h.do("POST", "/v2/models/fraud/infer", big, "X-API-Key", key); r.code != 200 {
		t.Fatalf("big body: got %d, want 200 (too big to shadow, not to serve)", r.code)
	}
	var st shadow.StatsView
	eventuallyf(t, 15*time.Second, func() bool { st = h.shadowStatsOf("acme", "fraud"); return st.Requests == n+1 },
		"outcomes %v, want %d counted", st.Outcomes, n+1)
	m := h.scrape()
	dropped := st.Outcomes["dropped"]
	if dropped < n/2 || st.Outcomes["match"]+dropped != n+1 {
		t.Errorf("got outcomes %v; want most of %d concurrent copies dropped with 1 worker and a queue of 2, the rest matched", st.Outcomes, n)
	}
	if st.Dropped["body_too_large"] != 1 || st.Dropped["queue_full"] != dropped-1 {
		t.Errorf("got drop reasons %v, want 1 body_too_large and %d queue_full", st.Dropped, dropped-1)
	}
	if got := shadowMetric(m, "modelgate_shadow_requests_total", "acme", "fraud", "v2", "outcome=dropped"); got != float64(dropped) {
		t.Errorf("metric dropped: got %v, want %d", got, dropped)
	}
	if got := uint64(len(shadowSrv.Server.Requests())); got != st.Outcomes["match"] {
		t.Errorf("shadow container got %d calls, want %d (one per match)", got, st.Outcomes["match"])
	}
}

func TestShadowStickySampling(t *testing.T) {
	primary := startModelOpts(t, modelserver.Options{Model: fraudModel("v1", v1Weights)})
	shadowSrv := startModelOpts(t, modelserver.Options{Model: fraudModel("v2", v1Weights)})
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud",
		"sticky_header: X-User-ID\nshadow: {version: v2, percent: 50, max_queue: 1000}", "v1:1:"+primary.URL, "v2:0:"+shadowSrv.URL))
	key, _ := testKey("acme")
	const users = 60
	// The users the hash puts in the 50%: the same in every round.
	prefix := h.gw.snap.Load().tenants[0].models["fraud"].split.Prefix()
	want := map[string]bool{}
	for u := range users {
		if id := "user-" + strconv.Itoa(u); router.Sample(50, router.KeyHash(prefix, []byte(id)), true) {
			want[id] = true
		}
	}
	if len(want) == 0 || len(want) == users {
		t.Fatalf("%d of %d users in the 50%% sample, want some but not all", len(want), users)
	}
	for round := range 2 {
		shadowSrv.Server.ResetRequests()
		for u := range users {
			h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key, "X-User-ID", "user-"+strconv.Itoa(u))
		}
		got := map[string]bool{}
		eventuallyf(t, 10*time.Second, func() bool {
			clear(got)
			for _, r := range shadowSrv.Server.Requests() {
				got[r.Header.Get("X-User-Id")] = true
			}
			return mapsEqual(got, want)
		}, "round %d: shadowed users %v, want %v", round, got, want)
	}
	var st shadow.StatsView
	eventuallyf(t, 10*time.Second, func() bool { st = h.shadowStatsOf("acme", "fraud"); return st.Outcomes["match"] == uint64(2*len(want)) },
		"got outcomes %v, want %d matches (only sampled requests are shadowed)", st.Outcomes, 2*len(want))
	if st.Requests != st.Outcomes["match"] {
		t.Errorf("got outcomes %v, want only matches", st.Outcomes)
	}
}

func mapsEqual(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func TestAdminShadowRequiresToken(t *testing.T) {
	primary := startModel(t, "fraud", "v1")
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud", "shadow: {version: v2}", "v1:1:"+primary.URL, "v2:0:"+primary.URL))
	if r := h.doAdmin("GET", "/admin/shadow", ""); r.code != http.StatusUnauthorized {
		t.Errorf("no token: got %d, want 401", r.code)
	}
	if r := h.doAdmin("GET", "/admin/shadow", "", "Authorization", "Bearer wrong"); r.code != http.StatusUnauthorized {
		t.Errorf("wrong token: got %d, want 401", r.code)
	}
	st := h.shadowStatsOf("acme", "fraud")
	if st.Version != "v2" || st.Percent != 100 || st.Queue.Capacity != 64 || st.Queue.Workers != 4 || st.AgreementRate != nil {
		t.Errorf("got %+v, want v2 at 100%% with the default queue 64 and 4 workers, no rate yet", st)
	}
}
