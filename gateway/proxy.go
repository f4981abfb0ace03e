package gateway

import (
	"time"

	"github.com/modelgate/modelgate/gateway/upstream"
	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/router"
	"github.com/valyala/fasthttp"
)

// forward sends the prepared request to version, retrying on its other
// endpoints and falling back to the model's fallback version when version
// cannot serve it (no available endpoint, or every attempt failed before an
// answer other than 503; an answer too large is final). Pinned requests
// fall back only with fallback_pinned. The whole exchange is bounded by the
// model's timeout from start. It leaves the answer (or a JSON error) in
// ctx.Response and returns the version that served and the status code.
//
// lc is nil for REST requests. For an OpenAI request it rewrites the
// body's model for the fallback version; for a streamed one whose stream
// reached the client (llmCall.streamed) forward returns at once, touching
// nothing of ctx: the stream's relay owns the answer.
func (g *Gateway) forward(ctx *fasthttp.RequestCtx, model *modelRoute, version *versionRoute, pinned bool, start time.Time, lc *llmCall) (*versionRoute, int) {
	deadline := start.Add(model.timeout)
	model.res.budget.Deposit()
	fb := model.res.fallback
	canFallBack := fb != nil && fb != version && (!pinned || model.res.fallbackPinned)
	// Panic routing (breaker.panic_threshold) only where no fallback
	// version could take the request instead.
	o := g.tryVersion(ctx, model, version, deadline, !canFallBack, lc)
	if lc.streamed() {
		return version, fasthttp.StatusOK
	}
	if o != upstream.Answered && o != upstream.TooLarge && canFallBack && time.Now().Before(deadline) {
		version.res.fallbacks.Inc()
		ctx.Request.Header.Set(HeaderVersion, fb.name)
		// The request carries version's container path, which parses back to
		// its kind (router.AppendContainerPath): send fb's path for that kind.
		ctx.Request.URI().SetPathBytes(fb.paths.Of(router.ParsePath(ctx.Request.URI().Path()).Kind))
		if lc != nil {
			lc.retarget(&ctx.Request, fb)
		}
		version = fb
		o = g.tryVersion(ctx, model, fb, deadline, true, lc)
		if lc.streamed() {
			return version, fasthttp.StatusOK
		}
	}
	switch o {
	case upstream.Answered, upstream.Unavailable:
		dropResponseHopHeaders(&ctx.Response.Header) // headers.go
		return version, ctx.Response.StatusCode()
	case upstream.NoEndpoint:
		g.metrics.Rejected(model.tenant, model.name, observability.ReasonNoEndpoint)
	case upstream.TooLarge:
		g.metrics.Rejected(model.tenant, model.name, observability.ReasonAnswerTooLarge)
	}
	se := upstreamStatus(o, !time.Now().Before(deadline))
	writeError(ctx, se)
	return version, se.code
}

// tryVersion sends the prepared request to endpoints of v until one
// answers, the failure is not retryable, retry.attempts retries are spent,
// the budget is empty, no untried endpoint is available or the deadline
// passed. Endpoints are picked within the version's ejection bounds;
// mayPanic lets breakers be ignored below its panic threshold. Each retry goes to another endpoint and resends ctx.Request
// unchanged (fasthttp keeps the body after a failed attempt). The last
// attempt's answer, if any, is left in ctx.Response. A streamed OpenAI
// request's attempts are lc.stream's (openai_stream.go): once its stream
// reached the client the attempt lasts until the stream ends, and is the
// last.
func (g *Gateway) tryVersion(ctx *fasthttp.RequestCtx, model *modelRoute, v *versionRoute, deadline time.Time, mayPanic bool, lc *llmCall) upstream.Outcome {
	var tried uint64
	res := &model.res
	retriesLeft := res.attempts
	result := upstream.NoEndpoint
	attempts := 0
	upStart := time.Now()
	for now := upStart; ; now = time.Now() {
		i, bypass := g.st.upstreams.PickWithin(v.endpoints, tried, now.UnixNano(), v.ejection, mayPanic)
		if i < 0 {
			break
		}
		tried |= 1 << i
		ep := v.endpoints[i]
		if attempts > 0 && !res.budget.Withdraw() {
			break
		}
		attemptDeadline := deadline
		if res.onTimeout && retriesLeft > 0 {
			// Leave time for the retries a timeout may need.
			attemptDeadline = now.Add(deadline.Sub(now) / time.Duration(retriesLeft+1))
		}
		var o upstream.Outcome
		attempt := func() error {
			ctx.Request.URI().SetHostBytes(ep.Host())
			ep.Acquire()
			var err error
			var status int
			if lc != nil && lc.stream != nil {
				status, err = lc.stream.attempt(ctx, ep, v, deadline)
			} else {
				err = g.doUpstream(ctx, ep, v, attemptDeadline)
				status = ctx.Response.StatusCode()
			}
			ep.Release()
			if err == nil {
				err = upstream.AnswerCause(status) // a 101 or no valid status: never relayed
			}
			o = upstream.Classify(err, status)
			if err != nil {
				// err is a fixed cause (Endpoint.Do): nothing the container sent.
				g.log.Warn("upstream call failed", "tenant", model.tenant, "model", model.name,
					"version", v.name, "endpoint", ep.URL(), "attempt", attempts+1, "err", err)
			}
			return ep.Judge(o.Verdict(status), model.caller, time.Now().UnixNano())
		}
		admitted := true
		if bypass {
			_ = attempt() // an open breaker the ejection bounds ignore
		} else {
			admitted = ep.Guard(attempt)
		}
		if !admitted {
			// The breaker turned it away (a half-open probe is already
			// out): no upstream load, so no attempt spent.
			if attempts > 0 {
				res.budget.Refund()
			}
			continue
		}
		if attempts > 0 {
			v.res.retries.Inc()
		}
		attempts++
		result = o
		if !o.Retryable(res.onTimeout) || retriesLeft == 0 || !time.Now().Before(deadline) || lc.streamed() {
			break
		}
		retriesLeft--
	}
	if attempts > 0 {
		v.series.Upstream.Observe(time.Since(upStart).Seconds())
	}
	return result
}
