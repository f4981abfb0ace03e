package gateway

import (
	"bytes"
	"time"

	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/router"
	"github.com/modelgate/modelgate/router/openai"
	"github.com/valyala/fasthttp"
)

// OpenAI-compatible requests (POST /openai/v1/chat/completions,
// /openai/v1/completions, /openai/v1/embeddings and the same without
// /openai) go through the REST machinery — authentication, admission,
// split, sticky keys, retries, breakers, fallback, metrics, the access
// log — with three differences, all here and in openai_stream.go:
//
//   - the model is the body's "model" field within the caller's tenant
//     ("name@version" pins), so the body is read after authentication and
//     before admission (bounded by server.max_body_bytes like any other);
//   - the body's "model" is rewritten for the chosen version: its
//     upstream_model if set, else the model's name (a pin is never sent);
//   - "stream": true answers are relayed event by event (openai_stream.go).
//
// Errors the gateway answers itself take OpenAI's shape (writeError).
// Shadow copies are not made for OpenAI requests (OIP comparison does not
// apply to them).

// llmCall is what an OpenAI request carries through forward beyond a REST
// one: where the model's JSON string is in the request body, to rewrite it
// for the version tried (and again for a fallback), and, for a streamed
// request, its stream. A non-streamed request's llmCall lives on the
// handler's stack.
type llmCall struct {
	modelStart, modelEnd int
	stream               *streamCall // nil unless "stream": true
	tokens               tokenCall   // usage and the token budget (openai_tokens.go)
}

// retarget rewrites the request body's model for version v: v's
// upstream_model, else the model's name. A rewrite of the same length is
// done in place; another length rebuilds the body (one copy of it, through
// a pooled buffer, into the request's own body buffer).
func (lc *llmCall) retarget(req *fasthttp.Request, v *versionRoute) {
	body := req.Body()
	if bytes.Equal(body[lc.modelStart:lc.modelEnd], v.upstreamModel) {
		return
	}
	r := openai.Request{ModelStart: lc.modelStart, ModelEnd: lc.modelEnd}
	if lc.modelEnd-lc.modelStart == len(v.upstreamModel) {
		openai.SetModel(nil, body, r, v.upstreamModel)
	} else {
		bp := bodyBufs.Get().(*[]byte)
		nb := openai.SetModel(*bp, body, r, v.upstreamModel)
		req.SetBody(nb)
		if cap(nb) <= maxPooledBody {
			*bp = nb[:0]
			bodyBufs.Put(bp)
		}
	}
	lc.modelEnd = lc.modelStart + len(v.upstreamModel)
}

// streamed reports whether the request's stream reached the client: from
// then on nothing may touch the request's fasthttp context (the handler
// has returned) and no retry or fallback is possible.
func (lc *llmCall) streamed() bool { return lc != nil && lc.stream != nil && lc.stream.live }

// handleOpenAI serves a proxied OpenAI request (rt.Kind.OpenAI()).
func (g *Gateway) handleOpenAI(ctx *fasthttp.RequestCtx, rt router.Route, start time.Time) error {
	tenant, answered, err := g.fromHeaders(ctx, rt.Kind)
	if answered || err != nil {
		return err
	}
	h := &ctx.Request.Header
	// The model is in the body: it is read now, for an authenticated
	// caller, before admission (which is per model).
	if err := g.refusedEarly(ctx, tenant.name, ""); err != nil {
		observeRoute(ctx, tenant.name, "", "", nil)
		return err
	}
	if err := g.readBody(ctx); err != nil {
		observeRoute(ctx, tenant.name, "", "", nil)
		return err
	}
	req, err := openai.Scan(ctx.Request.Body())
	if err != nil {
		observeRoute(ctx, tenant.name, "", "", nil)
		g.metrics.Rejected(tenant.name, "", observability.ReasonBadRequest)
		return scanError(err)
	}
	name, pin := openai.SplitPin(req.Model)
	model := tenant.models[string(name)]
	if model == nil {
		// As for REST: no leak of other tenants' model names.
		observeRoute(ctx, tenant.name, "", "", nil)
		g.metrics.Rejected(tenant.name, "", observability.ReasonNotFound)
		return errModelNotFound
	}
	adm, ok := admit(ctx, model, start)
	if !ok {
		observeRoute(ctx, tenant.name, model.name, "", nil)
		return nil // admit wrote the 429
	}
	tc, ok := reserveTokens(ctx, model, adm, &req, rt.Kind, start)
	if !ok {
		adm.Release()
		observeRoute(ctx, tenant.name, model.name, "", nil)
		return nil // reserveTokens wrote the 429
	}
	pinned := pin != nil
	var vi int
	switch {
	case pinned:
		if vi, ok = model.split.Lookup(pin); !ok {
			tc.hold.Settle(0, start)
			adm.Release()
			observeRoute(ctx, tenant.name, model.name, "", nil)
			g.metrics.Rejected(tenant.name, model.name, observability.ReasonNotFound)
			return errVersionNotFound
		}
	case model.stickyHeader != "" && len(h.Peek(model.stickyHeader)) > 0:
		vi = model.split.PickSticky(h.Peek(model.stickyHeader))
	case len(req.User) > 0:
		vi = model.split.PickSticky(req.User)
	default:
		vi = model.split.Pick()
	}
	version := model.versions[vi]

	var idBuf [maxRequestIDLen]byte
	rid := requestID(h.Peek(HeaderRequestID), idBuf[:])
	observeRoute(ctx, tenant.name, model.name, version.name, rid)
	prepareUpstreamRequest(&ctx.Request, version.paths.Of(rt.Kind), tenant.value, version.value, rid)
	if req.Stream && rt.Kind != router.KindEmbedding {
		tc.askUsage(&ctx.Request, &req)
	}
	lc := llmCall{modelStart: req.ModelStart, modelEnd: req.ModelEnd, tokens: tc}
	lc.retarget(&ctx.Request, version)
	if req.Stream {
		return g.serveStream(ctx, model, version, pinned, start, lc, adm, rid)
	}

	version.series.InFlight.Inc()
	served, code := g.forward(ctx, model, version, pinned, start, &lc)
	version.series.InFlight.Dec()
	setResponseHeaders(&ctx.Response.Header, rid, served)
	lc.tokens.answered(served, code, ctx.Response.Body())
	served.series.Request(code)
	served.series.Duration.Observe(time.Since(start).Seconds())
	adm.Release()
	return nil
}

// Answers to bodies Scan refused (400), with its fixed messages.
var (
	errOpenAIMalformed = &statusError{fasthttpStatusBadRequest, openai.ErrMalformed.Error()}
	errOpenAINoModel   = &statusError{fasthttpStatusBadRequest, openai.ErrNoModel.Error()}
	errOpenAIFieldType = &statusError{fasthttpStatusBadRequest, openai.ErrFieldType.Error()}
	errOpenAIDuplicate = &statusError{fasthttpStatusBadRequest, openai.ErrDuplicate.Error()}
)

const fasthttpStatusBadRequest = fasthttp.StatusBadRequest

func scanError(err error) *statusError {
	switch err {
	case openai.ErrNoModel:
		return errOpenAINoModel
	case openai.ErrFieldType:
		return errOpenAIFieldType
	case openai.ErrDuplicate:
		return errOpenAIDuplicate
	default:
		return errOpenAIMalformed
	}
}

// openAICode is the "code" of e in OpenAI's error shape.
func openAICode(e *statusError) string {
	switch e {
	case errModelNotFound, errVersionNotFound:
		return "model_not_found"
	case errUnauthorized:
		return "invalid_api_key"
	case errRateLimited, errConcurrency, errTokenLimited:
		return "rate_limit_exceeded"
	case errBodyTooLarge:
		return "request_too_large"
	case errUpstreamTimeout:
		return "upstream_timeout"
	case errNoEndpoint, errUpstreamBusy:
		return "upstream_unavailable"
	case errUpstreamFailed, errAnswerTooLarge:
		return "upstream_error"
	case errMethodNotAllowed:
		return "method_not_allowed"
	case errPathNotFound:
		return "not_found"
	}
	return "invalid_request"
}

// openAIRequest reports whether the request being answered is an OpenAI
// one: its path (the client's, or the container's once rewritten, which
// parses back to the same kind) is one of OpenAI's.
func openAIRequest(ctx *fasthttp.RequestCtx) bool {
	return router.ParsePath(ctx.Path()).Kind.OpenAI()
}
