package gateway

import (
	"errors"
	"sync"
	"time"

	"github.com/modelgate/modelgate/gateway/upstream"
	"github.com/modelgate/modelgate/internal/compare"
	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/router"
	"github.com/valyala/fasthttp"
)

// HeaderShadow marks the copies sent to a shadow version.
const HeaderShadow = "X-Modelgate-Shadow"

// shadowRoute is one model's shadow in one routing snapshot: immutable, built
// by shadows.apply. The pool, stats and metric handles outlive the snapshot
// while the shadow stays configured.
type shadowRoute struct {
	tenant, model string
	version       *versionRoute // receives the copies
	versionIdx    int           // index of version in the model's split
	percent       float64
	maxBody       int
	timeout       time.Duration
	prefix        uint64 // the model's sticky hash prefix
	opts          compare.Options
	logPayloads   bool

	pool   *shadowPool
	stats  *shadowStats
	series *observability.ShadowSeries
	role   *observability.Series // the request metrics with role="shadow"
}

// shadowJob is one shadowed request: copies of the upstream request and of
// the primary's answer, owned by the job (never aliasing fasthttp buffers of
// the client's request, which are recycled when the handler returns).
type shadowJob struct {
	route       *shadowRoute
	held        int64 // bytes reserved in route.pool's max_queue_bytes
	req         fasthttp.Request
	resp        fasthttp.Response
	primaryBody []byte
	primaryEnc  []byte // the primary's Content-Encoding
	primaryDur  time.Duration
	trace       shadowTrace // the primary's span, for a linked shadow span
}

// shadowJobKeepBytes is the largest primary-answer buffer a job keeps when
// it returns to the pool; a larger one is left to the GC, so a burst of big
// answers does not stay pinned in idle jobs. (The request and the shadow's
// answer live in fasthttp's own body pools.)
const shadowJobKeepBytes = 64 << 10

var shadowJobs = sync.Pool{New: func() any { return new(shadowJob) }}

// releaseShadowJob returns j's bytes to its pool's budget and j to the job
// pool.
func releaseShadowJob(j *shadowJob) {
	j.reset()
	shadowJobs.Put(j)
}

func (j *shadowJob) reset() {
	if j.held > 0 {
		j.route.pool.unreserve(j.held)
		j.held = 0
	}
	j.route = nil
	j.trace = shadowTrace{}
	j.req.Reset()
	j.resp.Reset()
	j.primaryBody = j.primaryBody[:0]
	if cap(j.primaryBody) > shadowJobKeepBytes {
		j.primaryBody = nil
	}
	j.primaryEnc = j.primaryEnc[:0]
	if cap(j.primaryEnc) > shadowJobKeepBytes {
		j.primaryEnc = nil
	}
}

// shadowCapture decides whether this request is shadowed and, if so, copies
// the prepared upstream request (path, headers, body) into a job. It is
// called after prepareUpstreamRequest and before forward, and returns nil
// when the request is not shadowed: the model has no shadow, the request is
// not a POST prediction call, it is pinned, it already goes to the shadow
// version, or it falls outside the sampled percent. With a sticky header
// present, sampling is a function of the header value, so the same users are
// shadowed every time. Bodies over shadow.max_body_bytes, copies that would
// find the queue full and bodies that do not fit in what is left of
// shadow.max_queue_bytes are dropped and counted here, before any copy is
// made. The body's bytes are reserved in the budget from here on.
func (g *Gateway) shadowCapture(rt router.Route, model *modelRoute, vi int, req *fasthttp.Request) *shadowJob {
	sr := model.shadow
	if sr == nil || vi == sr.versionIdx || rt.Pinned() || rt.Kind.Method() != fasthttp.MethodPost {
		return nil
	}
	var key []byte
	if model.stickyHeader != "" {
		key = req.Header.Peek(model.stickyHeader)
	}
	var h uint64
	if len(key) > 0 {
		h = router.KeyHash(sr.prefix, key)
	}
	if !router.Sample(sr.percent, h, len(key) > 0) {
		return nil
	}
	if len(req.Body()) > sr.maxBody {
		sr.drop(dropBodyTooLarge)
		return nil
	}
	if sr.pool.full() { // saves the copy; submit has the last word
		sr.drop(dropQueueFull)
		return nil
	}
	n := int64(len(req.Body()))
	if !sr.pool.reserve(n) {
		sr.drop(dropQueueBytes)
		return nil
	}
	j := shadowJobs.Get().(*shadowJob)
	j.route, j.held = sr, n
	req.CopyTo(&j.req)
	return j
}

// shadowDispatch hands a captured job to its model's shadow pool with a copy
// of the primary's answer. It never blocks: a full queue drops the copy. A
// primary that did not answer 2xx is counted as primary_error and the shadow
// is not called (nothing to compare). An answer over shadow.max_body_bytes,
// or one that does not fit in what is left of shadow.max_queue_bytes, is not
// copied: the copy is dropped. j may be nil (request not shadowed).
func (g *Gateway) shadowDispatch(j *shadowJob, resp *fasthttp.Response, start time.Time) {
	if j == nil {
		return
	}
	sr := j.route
	if code := resp.StatusCode(); code < 200 || code > 299 {
		sr.outcome(observability.ShadowPrimaryError)
		releaseShadowJob(j)
		return
	}
	body := resp.Body()
	if len(body) > sr.maxBody {
		sr.drop(dropAnswerTooLarge)
		releaseShadowJob(j)
		return
	}
	if !sr.pool.reserve(int64(len(body))) {
		sr.drop(dropQueueBytes)
		releaseShadowJob(j)
		return
	}
	j.held += int64(len(body))
	j.primaryBody = append(j.primaryBody[:0], body...)
	j.primaryEnc = append(j.primaryEnc[:0], resp.Header.ContentEncoding()...)
	j.primaryDur = time.Since(start)
	if ok, reason := sr.pool.submit(j); !ok {
		sr.drop(reason)
		releaseShadowJob(j)
	}
}

// runShadow sends one copy to the shadow version and compares the answers.
// It runs on a pool worker with a deadline of its own (shadow.timeout from
// now), detached from the client's request, which has long been answered.
// w holds the worker's own Comparer and decoder.
func (g *Gateway) runShadow(j *shadowJob, w *shadowWorker) {
	defer releaseShadowJob(j)
	sr := j.route
	// Healthy, breaker-closed endpoints only; shadow results do not feed
	// the breakers (a failing shadow must not change how primaries route).
	i := g.upstreams.Pick(sr.version.endpoints, 0, time.Now().UnixNano())
	if i < 0 {
		sr.outcome(observability.ShadowError)
		return
	}
	ep := sr.version.endpoints[i]
	j.req.URI().SetHostBytes(ep.Host())
	j.req.Header.Set(HeaderShadow, "true")
	j.req.Header.Set(HeaderVersion, sr.version.name)
	ep.Acquire()
	sr.role.InFlight.Inc()
	t0 := time.Now()
	deadline := t0.Add(sr.timeout)
	err := j.trace.do(ep, &j.req, &j.resp, deadline, sr.tenant, sr.model, sr.version.name)
	dur := time.Since(t0)
	ep.Release()
	sr.role.InFlight.Dec()
	sr.series.Duration.Observe(dur.Seconds())
	sr.role.Upstream.Observe(dur.Seconds())
	sr.role.Duration.Observe(dur.Seconds())
	if err != nil {
		sr.role.Request(upstreamStatus(upstream.Classify(err, 0), !time.Now().Before(deadline)).code)
	} else {
		sr.role.Request(j.resp.StatusCode())
	}
	if err != nil {
		g.log.Debug("shadow call failed", "tenant", sr.tenant, "model", sr.model, "version", sr.version.name, "endpoint", ep.URL(), "err", err)
		sr.outcome(observability.ShadowError)
		return
	}
	sr.stats.latency(j.primaryDur, dur)
	if code := j.resp.StatusCode(); code < 200 || code > 299 {
		sr.outcome(observability.ShadowError)
		return
	}
	d := &w.dec
	primary, err := d.decode(j.primaryEnc, j.primaryBody, sr.maxBody, &d.primary)
	if err != nil {
		sr.outcome(observability.ShadowPrimaryError)
		return
	}
	shadow, err := d.decode(j.resp.Header.ContentEncoding(), j.resp.Body(), sr.maxBody, &d.shadow)
	if err != nil {
		sr.outcome(observability.ShadowError)
		return
	}
	res, err := w.cmp.Compare(primary, shadow, sr.opts)
	switch {
	case errors.Is(err, compare.ErrPrimaryInvalid):
		sr.outcome(observability.ShadowPrimaryError)
		return
	case err != nil:
		sr.outcome(observability.ShadowError)
		return
	}
	sr.series.MaxAbsDiff.Observe(res.MaxAbsDiff)
	if res.Top1Rows > 0 {
		if res.Top1Agree() {
			sr.series.Top1Agree.Inc()
		} else {
			sr.series.Top1Differ.Inc()
		}
		sr.stats.top1(res.Top1Agree())
	}
	if res.Match {
		sr.outcome(observability.ShadowMatch)
		return
	}
	rec := mismatchRecord{
		Time:       t0,
		RequestID:  string(j.req.Header.Peek(HeaderRequestID)),
		MaxAbsDiff: res.MaxAbsDiff,
		DiffCount:  res.DiffCount,
		Diffs:      res.Diffs,
	}
	if res.Top1Rows > 0 {
		agree := res.Top1Agree()
		rec.Top1Agree = &agree
	}
	if sr.logPayloads {
		rec.Request, rec.Primary, rec.Shadow = string(j.req.Body()), string(primary), string(shadow)
	}
	// Recorded before it is counted: whoever sees the count sees the record.
	sr.stats.mismatch(rec)
	sr.outcome(observability.ShadowMismatch)
}

// outcome counts one shadowed request in the metrics and the admin stats.
func (sr *shadowRoute) outcome(o observability.ShadowOutcome) {
	sr.series.Outcome(o)
	sr.stats.outcomes[o].Add(1)
}

// drop counts a copy that was not sent, with its reason.
func (sr *shadowRoute) drop(reason dropReason) {
	sr.outcome(observability.ShadowDropped)
	sr.stats.drops[reason].Add(1)
}
