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
		target: Target{Name: "v2", Index: 1, Paths: router.NewContainerPaths("fraud", "2")}, percent: 100, maxBody: 1 << 20,
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

// TestCaptureUsesShadowContainerPath checks that the copy is addressed to
// the shadow version's container path for the request's kind, whatever
// path the primary's request carries, and that the primary's request is
// left as it was.
func TestCaptureUsesShadowContainerPath(t *testing.T) {
	m := observability.NewMetrics()
	tests := []struct {
		desc    string
		client  string // the client's (unpinned) path
		primary string // the path prepared for the primary's container
		cv      string // the shadow version's container_version
		want    string
	}{
		{"unversioned primary, versioned shadow", "/v2/models/fraud/infer", "/v2/models/fraud/infer", "2", "/v2/models/fraud/versions/2/infer"},
		{"versioned primary, unversioned shadow", "/v2/models/fraud/infer", "/v2/models/fraud/versions/1/infer", "", "/v2/models/fraud/infer"},
		{"v1 predict, versioned shadow", "/v1/models/fraud:predict", "/v1/models/fraud:predict", "v0.1.0", "/v1/models/fraud/versions/v0.1.0:predict"},
		{"v1 explain, unversioned shadow", "/v1/models/fraud:explain", "/v1/models/fraud/versions/3:explain", "", "/v1/models/fraud:explain"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			pool := &pool{key: poolKey{maxBytes: 1 << 20}, jobs: make(chan *Job, 1), done: make(chan struct{})}
			sr := &Route{
				target: Target{Name: "v2", Index: 1, Paths: router.NewContainerPaths("fraud", tt.cv)}, percent: 100, maxBody: 1 << 20,
				timeout: time.Second, pool: pool, series: m.Shadow().Series("acme", "fraud", "v2"),
			}
			sr.stats = newStats(sr.series)
			var req fasthttp.Request
			req.Header.SetMethod("POST")
			req.SetRequestURI(tt.primary + "?trace=1")
			req.SetBodyString(`{"inputs":[]}`)
			j := sr.Capture(router.ParsePath([]byte(tt.client)), 0, nil, &req)
			if j == nil {
				t.Fatal("not captured")
			}
			defer j.release()
			if got := string(j.req.URI().Path()); got != tt.want {
				t.Errorf("copy's path: got %q, want %q", got, tt.want)
			}
			if got := string(j.req.URI().QueryString()); got != "trace=1" {
				t.Errorf("copy's query: got %q, want %q", got, "trace=1")
			}
			if got := string(req.URI().Path()); got != tt.primary {
				t.Errorf("primary's path: got %q, want it unchanged %q", got, tt.primary)
			}
		})
	}
}
