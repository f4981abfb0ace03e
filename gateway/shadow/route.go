package shadow

import (
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/gateway/upstream"
	"github.com/modelgate/modelgate/internal/compare"
	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/router"
	"github.com/valyala/fasthttp"
)

// Target is the version that receives a model's copies, as the routing
// snapshot has it: its name, endpoints and container paths (read-only).
type Target struct {
	Name      string
	Index     int // the version's index in the model's split
	Endpoints []*upstream.Endpoint
	// Paths are the paths the version's containers receive, per request
	// kind (its container_version, or the unversioned paths).
	Paths router.ContainerPaths
}

// Route is one model's shadow in one routing snapshot: immutable, built by
// Manager.Route. Its pool, stats and metric handles outlive the snapshot
// while the shadow stays configured.
type Route struct {
	tenant, model string
	target        Target
	percent       float64
	maxBody       int
	timeout       time.Duration
	prefix        uint64 // the model's sticky hash prefix
	opts          compare.Options
	logPayloads   bool

	pool   *pool
	stats  *stats
	series *observability.ShadowSeries
	role   *observability.Series // the request metrics with role="shadow"
}

func newRoute(tenant string, mc *configs.Model, target Target, prefix uint64, p *pool, st *stats, role *observability.Series) *Route {
	sh := mc.Shadow
	return &Route{
		tenant:  tenant,
		model:   mc.Name,
		target:  target,
		percent: sh.SharePercent(),
		maxBody: int(min(sh.MaxBodyBytes, int64(^uint(0)>>1))),
		timeout: sh.Timeout,
		prefix:  prefix,
		opts: compare.Options{
			Tolerance:         sh.Tolerance,
			RelativeTolerance: sh.RelativeTolerance,
			IgnoreFields:      sh.IgnoreFields,
		},
		logPayloads: mc.LogPayloads,
		pool:        p,
		stats:       st,
		series:      st.series,
		role:        role,
	}
}

// Version is the name of the version that receives the copies.
func (r *Route) Version() string { return r.target.Name }

// Served reports whether the shadow version has received a copy since its
// series were created (until then its endpoints export only
// modelgate_endpoint_up).
func (r *Route) Served() bool { return r.role.Used() }

// Capture decides whether this request is shadowed and, if so, copies the
// prepared upstream request (headers, body, query) into a job, with the
// shadow version's container path for rt's kind in place of the primary's
// (the two differ when their container_version does). Call it after
// the request is prepared for the container and before it is forwarded; vi
// is the version the split chose, key the sticky header's value (nil
// without one). It returns nil when the request is not shadowed: it is not
// a POST prediction call, it is pinned, it already goes to the shadow
// version, or it falls outside the sampled percent. With a sticky key,
// sampling is a function of the key, so the same users are shadowed every
// time. Bodies over shadow.max_body_bytes, copies that would find the
// queue full and bodies that do not fit in what is left of
// shadow.max_queue_bytes are dropped and counted here, before any copy is
// made. The body's bytes are reserved in the budget from here on.
// Capture allocates nothing once the job pool is warm.
func (r *Route) Capture(rt router.Route, vi int, key []byte, req *fasthttp.Request) *Job {
	if vi == r.target.Index || rt.Pinned() || rt.Kind.Method() != fasthttp.MethodPost {
		return nil
	}
	var h uint64
	if len(key) > 0 {
		h = router.KeyHash(r.prefix, key)
	}
	if !router.Sample(r.percent, h, len(key) > 0) {
		return nil
	}
	if len(req.Body()) > r.maxBody {
		r.drop(dropBodyTooLarge)
		return nil
	}
	if r.pool.full() { // saves the copy; submit has the last word
		r.drop(dropQueueFull)
		return nil
	}
	n := int64(len(req.Body()))
	if !r.pool.reserve(n) {
		r.drop(dropQueueBytes)
		return nil
	}
	j := jobs.Get().(*Job)
	j.route, j.held = r, n
	req.CopyTo(&j.req)
	j.req.URI().SetPathBytes(r.target.Paths.Of(rt.Kind))
	return j
}

// Dispatch hands a captured job to its model's shadow pool with a copy of
// the primary's answer; start is when the primary request began. It never
// blocks: a full queue drops the copy. A primary that did not answer 2xx
// is counted as primary_error and the shadow is not called (nothing to
// compare). An answer over shadow.max_body_bytes, or one that does not fit
// in what is left of shadow.max_queue_bytes, is not copied: the copy is
// dropped. j may be nil (request not shadowed). j must not be used after.
func (j *Job) Dispatch(resp *fasthttp.Response, start time.Time) {
	if j == nil {
		return
	}
	r := j.route
	if code := resp.StatusCode(); code < 200 || code > 299 {
		r.outcome(observability.ShadowPrimaryError)
		j.release()
		return
	}
	body := resp.Body()
	if len(body) > r.maxBody {
		r.drop(dropAnswerTooLarge)
		j.release()
		return
	}
	if !r.pool.reserve(int64(len(body))) {
		r.drop(dropQueueBytes)
		j.release()
		return
	}
	j.held += int64(len(body))
	j.primaryBody = append(j.primaryBody[:0], body...)
	j.primaryEnc = append(j.primaryEnc[:0], resp.Header.ContentEncoding()...)
	j.primaryDur = time.Since(start)
	if ok, reason := r.pool.submit(j); !ok {
		r.drop(reason)
		j.release()
	}
}

// outcome counts one shadowed request in the metrics and the admin stats.
func (r *Route) outcome(o observability.ShadowOutcome) {
	r.series.Outcome(o)
	r.stats.outcomes[o].Add(1)
}

// drop counts a copy that was not sent, with its reason.
func (r *Route) drop(reason dropReason) {
	r.outcome(observability.ShadowDropped)
	r.stats.drops[reason].Add(1)
}
