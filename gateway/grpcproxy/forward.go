package grpcproxy

import (
	"context"
	"time"

	"github.com/modelgate/modelgate/observability"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// call is a routed call on its way upstream.
type call struct {
	model  *modelRoute
	pinned bool        // the client named the version
	rid    string      // x-request-id
	md     metadata.MD // the metadata containers receive (upstreamMetadata); owned by the call
	body   []byte      // the request message as the client sent it
	start  time.Time
}

// result is the last upstream attempt of a call.
type result struct {
	out             frame
	header, trailer metadata.MD
	err             error // nil: out is the answer
	attempts        int   // attempts the breakers admitted; 0: no endpoint was available
}

// forward sends c to version, retrying on its other endpoints and falling
// back to the model's fallback version when version cannot serve it (no
// available endpoint, or every attempt ended UNAVAILABLE); pinned calls
// fall back only with fallback_pinned. The whole exchange is bounded by the
// model's timeout from c.start (and the client's deadline, if sooner). It
// relays the answer (or the error) with x-modelgate-version naming the
// version that served, and returns that version and the call's code.
func (p *Proxy) forward(ctx context.Context, stream grpc.ServerStream, c call, version *versionRoute) (*versionRoute, codes.Code, error) {
	model := c.model
	method, _ := grpc.MethodFromServerStream(stream)
	cctx, cancel := context.WithDeadline(ctx, c.start.Add(model.timeout))
	defer cancel()
	model.budget.Deposit()
	fb := model.fallback
	canFallBack := fb != nil && fb != version && (!c.pinned || model.fallbackPinned)
	r := p.tryVersion(ctx, cctx, method, c, version, !canFallBack)
	if canFallBack && fallsBack(status.Code(r.err)) && !expired(cctx) {
		version.fallbacks.Inc()
		version = fb
		r = p.tryVersion(ctx, cctx, method, c, fb, true)
	}
	_ = stream.SetHeader(metadata.Pairs(MetadataVersion, version.name, mdRequestID, c.rid))
	relay(stream, r.header, r.trailer)
	if r.err != nil {
		if r.attempts == 0 {
			if len(version.endpoints) == 0 {
				p.metrics.Rejected(model.tenant, model.name, observability.ReasonNoEndpoint)
				return version, codes.Unavailable, errNoGRPCEndpoint
			}
			if r.err == errNoAvailable {
				p.metrics.Rejected(model.tenant, model.name, observability.ReasonNoEndpoint)
			}
		}
		code, err := p.upstreamError(ctx, cctx, r.err)
		return version, code, err
	}
	if err := stream.SendMsg(&r.out); err != nil {
		return version, status.Code(err), err
	}
	return version, codes.OK, nil
}

// tryVersion calls endpoints of v with c until one answers, the failure
// is not retryable (retryable), retry.attempts retries are spent, the
// model's retry budget is empty, no untried endpoint is available or cctx
// is done. Endpoints are chosen by pickFrom within the version's ejection
// bounds; mayPanic lets breakers be ignored below its panic threshold.
// Each attempt goes through its endpoint's breaker, which judges it by
// verdict. It returns the last attempt; with no attempt, errNoAvailable
// (or errEndpointGone when the only endpoints left were closed by a
// reload).
func (p *Proxy) tryVersion(ctx, cctx context.Context, method string, c call, v *versionRoute, mayPanic bool) result {
	model := c.model
	c.md[MetadataVersion] = []string{v.name}
	octx := metadata.NewOutgoingContext(cctx, c.md)
	req := &frame{withVersion(c.body, v.containerVersion)}
	r := result{err: errNoAvailable}
	var tried uint64
	retriesLeft := model.attempts
	upStart := time.Now()
	for now := upStart; ; now = time.Now() {
		i, bypass := pickFrom(v.endpoints, tried, now.UnixNano(), v.ejection, mayPanic)
		if i < 0 {
			break
		}
		tried |= 1 << i
		e := v.endpoints[i]
		if r.attempts > 0 && !model.budget.Withdraw() {
			break
		}
		if !e.acquire() {
			// Closed by a reload since the snapshot was taken.
			if r.attempts > 0 {
				model.budget.Refund()
			} else {
				r.err = errEndpointGone
			}
			continue
		}
		var next result
		attempt := func() error {
			next.err = e.cc.Invoke(octx, method, req, &next.out, grpc.Header(&next.header), grpc.Trailer(&next.trailer))
			return verdict(status.Code(next.err), ctx.Err() != nil || expired(ctx))
		}
		admitted := true
		if bypass {
			_ = attempt() // an open breaker the ejection bounds ignore
		} else {
			admitted = e.guard(attempt)
		}
		e.release()
		if !admitted {
			// The breaker turned it away (a half-open call is already
			// out): no upstream load, so no attempt spent.
			if r.attempts > 0 {
				model.budget.Refund()
			}
			continue
		}
		if r.attempts > 0 {
			v.retries.Inc()
		}
		next.attempts = r.attempts + 1
		r = next
		if next.err != nil && status.Code(next.err) == codes.Unavailable {
			p.log.Warn("gRPC upstream call unavailable", "tenant", model.tenant, "model", model.name,
				"version", v.name, "grpc_endpoint", e.addr, "attempt", r.attempts)
		}
		if !retryable(status.Code(r.err)) || retriesLeft == 0 || expired(cctx) {
			break
		}
		retriesLeft--
	}
	if r.attempts > 0 {
		v.series.Upstream.Observe(time.Since(upStart).Seconds())
	}
	return r
}

// upstreamError maps a failed upstream call: the client gone → CANCELED
// (or its own deadline → DEADLINE_EXCEEDED); the model's timeout →
// DEADLINE_EXCEEDED; the proxy's own refusals (no available endpoint) as
// they are; the container's own status is relayed as it sent it, except
// UNAVAILABLE, whose message (grpc-go's transport text, which names
// addresses) is replaced by a fixed one.
func (p *Proxy) upstreamError(ctx, cctx context.Context, err error) (codes.Code, error) {
	switch {
	case ctx.Err() != nil:
		st := status.FromContextError(ctx.Err())
		return st.Code(), st.Err()
	case expired(ctx):
		return codes.DeadlineExceeded, status.Error(codes.DeadlineExceeded, "deadline exceeded")
	case expired(cctx):
		return codes.DeadlineExceeded, errTimeout
	case err == errNoAvailable, err == errEndpointGone:
		return codes.Unavailable, err
	}
	st := status.Convert(err)
	if st.Code() == codes.Unavailable {
		return codes.Unavailable, errUpstream
	}
	return st.Code(), st.Err()
}

// expired reports whether ctx is done or its deadline has passed: the
// container's own timer (it got the deadline as grpc-timeout) may reset
// the call a moment before ctx's timer has marked ctx done.
func expired(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ctx.Err() != nil || ok && !time.Now().Before(dl)
}
