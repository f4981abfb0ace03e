package shadow

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
	pool := &pool{key: poolKey{maxBytes: 1 << 20}, jobs: make(chan *Job, 1), done: make(chan struct{})}
	sr := &Route{
		target: Target{Name: "v2", Index: 1}, percent: 100, maxBody: 1 << 20,
		timeout: time.Second, pool: pool, series: m.Shadow().Series("acme", "fraud", "v2"),
	}
	sr.stats = newStats(sr.series)
	rt := router.ParsePath([]byte("/v2/models/fraud/infer"))
	var req fasthttp.Request
	req.Header.SetMethod("POST")
	req.SetRequestURI("/v2/models/fraud/infer")
	req.Header.Set("Content-Type", "application/json")
	req.SetBodyString(`{"inputs":[{"name":"x","datatype":"FP64","shape":[1,2],"data":[0.1,0.2]}]}`)
	var resp fasthttp.Response
	resp.SetBodyString(`{"outputs":[{"name":"p","datatype":"FP64","shape":[1,2],"data":[0.3,0.7]}]}`)
	start := time.Now()
	allocs := testing.AllocsPerRun(200, func() {
		j := sr.Capture(rt, 0, nil, &req)
		if j == nil {
			t.Fatal("not captured")
		}
		j.Dispatch(&resp, start)
		(<-pool.jobs).release()
	})
	if allocs > 0 {
		t.Errorf("got %v allocations per shadowed request on the request path, want 0", allocs)
	}
}
