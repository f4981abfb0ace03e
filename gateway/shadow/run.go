package shadow

import (
	"errors"
	"time"

	"github.com/modelgate/modelgate/gateway/upstream"
	"github.com/modelgate/modelgate/internal/compare"
	"github.com/modelgate/modelgate/observability"
)

// run sends one copy to the shadow version and compares the answers. It
// runs on a pool worker with a deadline of its own (shadow.timeout from
// now), detached from the client's request, which has long been answered.
// w holds the worker's own Comparer and decoder.
func (m *Manager) run(j *Job, w *worker) {
	defer j.release()
	r := j.route
	// Healthy, breaker-closed endpoints only; shadow results do not feed
	// the breakers (a failing shadow must not change how primaries route).
	i := m.upstreams.Pick(r.target.Endpoints, 0, time.Now().UnixNano())
	if i < 0 {
		r.outcome(observability.ShadowError)
		return
	}
	ep := r.target.Endpoints[i]
	j.req.URI().SetHostBytes(ep.Host())
	j.req.Header.Set(upstream.HeaderShadow, "true")
	j.req.Header.Set(upstream.HeaderVersion, r.target.Name)
	ep.Acquire()
	r.role.InFlight.Inc()
	t0 := time.Now()
	deadline := t0.Add(r.timeout)
	err := j.trace.Call(ep, &j.req, &j.resp, deadline, r.tenant, r.model, r.target.Name)
	dur := time.Since(t0)
	ep.Release()
	r.role.InFlight.Dec()
	r.series.Duration.Observe(dur.Seconds())
	r.role.Upstream.Observe(dur.Seconds())
	r.role.Duration.Observe(dur.Seconds())
	if err != nil {
		r.role.Request(upstream.Classify(err, 0).Status(!time.Now().Before(deadline)))
	} else {
		r.role.Request(j.resp.StatusCode())
	}
	if err != nil {
		// err is a fixed cause (Endpoint.Do): nothing the container sent.
		m.log.Debug("shadow call failed", "tenant", r.tenant, "model", r.model, "version", r.target.Name, "endpoint", ep.URL(), "err", err)
		r.outcome(observability.ShadowError)
		return
	}
	r.stats.latency(j.primaryDur, dur)
	if code := j.resp.StatusCode(); code < 200 || code > 299 {
		r.outcome(observability.ShadowError)
		return
	}
	d := &w.dec
	primary, err := d.decode(j.primaryEnc, j.primaryBody, r.maxBody, &d.primary)
	if err != nil {
		r.outcome(observability.ShadowPrimaryError)
		return
	}
	shadow, err := d.decode(j.resp.Header.ContentEncoding(), j.resp.Body(), r.maxBody, &d.shadow)
	if err != nil {
		r.outcome(observability.ShadowError)
		return
	}
	res, err := w.cmp.Compare(primary, shadow, r.opts)
	switch {
	case errors.Is(err, compare.ErrPrimaryInvalid):
		r.outcome(observability.ShadowPrimaryError)
		return
	case err != nil:
		r.outcome(observability.ShadowError)
		return
	}
	r.record(j, res, t0, primary, shadow)
}

// record counts a comparison's result in the metrics and the admin stats,
// keeping the fields that differ (and, with log_payloads, the payloads).
func (r *Route) record(j *Job, res compare.Result, t0 time.Time, primary, shadow []byte) {
	r.series.MaxAbsDiff.Observe(res.MaxAbsDiff)
	if res.Top1Rows > 0 {
		if res.Top1Agree() {
			r.series.Top1Agree.Inc()
		} else {
			r.series.Top1Differ.Inc()
		}
		r.stats.top1(res.Top1Agree())
	}
	if res.Match {
		r.outcome(observability.ShadowMatch)
		return
	}
	rec := Mismatch{
		Time:       t0,
		RequestID:  string(j.req.Header.Peek(upstream.HeaderRequestID)),
		MaxAbsDiff: res.MaxAbsDiff,
		DiffCount:  res.DiffCount,
		Diffs:      res.Diffs,
	}
	if res.Top1Rows > 0 {
		agree := res.Top1Agree()
		rec.Top1Agree = &agree
	}
	if r.logPayloads {
		rec.Request, rec.Primary, rec.Shadow = string(j.req.Body()), string(primary), string(shadow)
	}
	// Recorded before it is counted: whoever sees the count sees the record.
	r.stats.mismatch(rec)
	r.outcome(observability.ShadowMismatch)
}
