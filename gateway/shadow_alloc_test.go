package gateway

import (
	"testing"
	"time"

	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/router"
	"github.com/valyala/fasthttp"
)

// TestShadowHotPathAllocs checks that what the request path does for a
// shadowed request — capture (sampling, copying the request into a pooled
// job) and dispatch (copying the primary's answer, queueing) — allocates
// nothing once the job pool is warm. The pool here has no workers: the test
// takes each job off the queue and releases it itself.
func TestShadowHotPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items on purpose")
	}
	m := observability.NewMetrics()
	pool := &shadowPool{key: poolKey{maxBytes: 1 << 20}, jobs: make(chan *shadowJob, 1), done: make(chan struct{})}
	sr := &shadowRoute{
		version: &versionRoute{name: "v2"}, versionIdx: 1, percent: 100, maxBody: 1 << 20,
		timeout: time.Second, pool: pool, series: m.Shadow().Series("acme", "fraud", "v2"),
	}
	sr.stats = newShadowStats(sr.series)
	model := &modelRoute{shadow: sr}
	rt := router.ParsePath([]byte("/v2/models/fraud/infer"))
	var req fasthttp.Request
	req.Header.SetMethod("POST")
	req.SetRequestURI("/v2/models/fraud/infer")
	req.Header.Set("Content-Type", "application/json")
	req.SetBodyString(inferBody)
	var resp fasthttp.Response
	resp.SetBodyString(`{"outputs":[{"name":"p","datatype":"FP64","shape":[1,2],"data":[0.3,0.7]}]}`)
	g := &Gateway{}
	start := time.Now()
	allocs := testing.AllocsPerRun(200, func() {
		j := g.shadowCapture(rt, model, 0, &req)
		if j == nil {
			t.Fatal("not captured")
		}
		g.shadowDispatch(j, &resp, start)
		releaseShadowJob(<-pool.jobs)
	})
	if allocs > 0 {
		t.Errorf("got %v allocations per shadowed request on the request path, want 0", allocs)
	}
}
