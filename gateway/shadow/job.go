package shadow

import (
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Job is one shadowed request: copies of the upstream request and of the
// primary's answer, owned by the job (never aliasing fasthttp buffers of
// the client's request, which are recycled when the handler returns).
// Jobs are pooled: Capture takes one, the worker (or Dispatch, when the
// copy is dropped) returns it.
type Job struct {
	route       *Route
	held        int64 // bytes reserved in route.pool's max_queue_bytes
	req         fasthttp.Request
	resp        fasthttp.Response
	primaryBody []byte
	primaryEnc  []byte // the primary's Content-Encoding
	primaryDur  time.Duration
	trace       Trace // the primary's span, for a linked shadow span
}

// SetTrace records the primary request's trace, so the shadow call gets a
// span linked to it. Call it before Dispatch.
func (j *Job) SetTrace(t Trace) { j.trace = t }

// jobKeepBytes is the largest primary-answer buffer a job keeps when it
// returns to the pool; a larger one is left to the GC, so a burst of big
// answers does not stay pinned in idle jobs. (The request and the shadow's
// answer live in fasthttp's own body pools.)
const jobKeepBytes = 64 << 10

var jobs = sync.Pool{New: func() any { return new(Job) }}

// release returns j's bytes to its pool's budget and j to the job pool.
func (j *Job) release() {
	j.reset()
	jobs.Put(j)
}

func (j *Job) reset() {
	if j.held > 0 {
		j.route.pool.unreserve(j.held)
		j.held = 0
	}
	j.route = nil
	j.trace = Trace{}
	j.req.Reset()
	j.resp.Reset()
	j.primaryBody = j.primaryBody[:0]
	if cap(j.primaryBody) > jobKeepBytes {
		j.primaryBody = nil
	}
	j.primaryEnc = j.primaryEnc[:0]
	if cap(j.primaryEnc) > jobKeepBytes {
		j.primaryEnc = nil
	}
}
