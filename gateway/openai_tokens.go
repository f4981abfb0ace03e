package gateway

import (
	"time"

	"github.com/modelgate/modelgate/router"
	"github.com/modelgate/modelgate/router/openai"
	"github.com/modelgate/modelgate/tenants"
	"github.com/valyala/fasthttp"
)

// Token accounting of OpenAI requests: the answer's usage feeds the
// version's LLM series (modelgate_llm_*, observability/llm.go) and settles
// the request's reservation of its tenant's and model's tokens_per_minute
// budgets.
//
//   - Before the call, reserveTokens reserves an estimate (openai.Request
//     Estimate: prompt bytes / 4, plus max_tokens or
//     openai.DefaultMaxTokens for chat and completions) from the budgets,
//     atomically: concurrent requests never together reserve more than a
//     budget holds. A request the budget cannot cover now gets 429
//     rate_limit_exceeded with Retry-After.
//   - After a buffered answer, its usage (openai.ScanUsage, one walk of
//     the body, no decoding) is counted and settled; a 2xx answer without
//     usage keeps its estimate, any other answer gives it back.
//   - A stream asks its container for the usage chunk
//     (stream_options.include_usage, added to the body when the client did
//     not ask, and then that usage-only chunk is not relayed to the
//     client); the relay reads it, and the stream's end counts and settles
//     it. A stream that ends without usage (broken, or a server that
//     ignores the option) settles the prompt's estimate plus the events
//     relayed, one token each.

// tokenCall is an OpenAI request's token accounting state.
type tokenCall struct {
	hold tenants.TokenHold
	// promptEstimate is the prompt part of the reservation's estimate.
	promptEstimate, estimate int
	// addedUsage: the gateway asked for the stream's usage chunk, so it
	// strips it from what the client receives.
	addedUsage bool
}

// reserveTokens reserves the estimate of req from the budgets adm may
// reserve from; when they cannot cover it, it writes the 429 and returns
// false (adm is still held: the caller releases it).
func reserveTokens(ctx *fasthttp.RequestCtx, model *modelRoute, adm admitted, req *openai.Request, kind router.Kind, now time.Time) (tokenCall, bool) {
	completes := kind != router.KindEmbedding
	tc := tokenCall{promptEstimate: req.Estimate(false), estimate: req.Estimate(completes)}
	if req.PromptBytes == 0 {
		tc.promptEstimate = 0
	}
	h, ok, wait := adm.ReserveTokens(tc.estimate, now)
	if !ok {
		model.admission.rejects.TokenLimited.Inc()
		refuse(ctx, errTokenLimited, tenants.Decision{RetryAfter: wait}.RetryAfterSeconds())
		return tokenCall{}, false
	}
	tc.hold = h
	return tc, true
}

// askUsage makes a streamed request's body ask for the usage chunk, if it
// does not: rebuilt through a pooled buffer into the request's own body
// buffer, req updated to the new body.
func (tc *tokenCall) askUsage(r *fasthttp.Request, req *openai.Request) {
	if req.IncludeUsage {
		return
	}
	bp := bodyBufs.Get().(*[]byte)
	nb := openai.AddIncludeUsage(*bp, r.Body(), req)
	r.SetBody(nb)
	if cap(nb) <= maxPooledBody {
		*bp = nb[:0]
		bodyBufs.Put(bp)
	}
	tc.addedUsage = true
}

// answered counts and settles a buffered answer (status code, body) that
// version served.
func (tc *tokenCall) answered(served *versionRoute, code int, body []byte) {
	now := time.Now()
	if code < 200 || code > 299 {
		tc.hold.Settle(0, now)
		return
	}
	u, found, _ := openai.ScanUsage(body)
	if !found {
		tc.hold.Settle(tc.estimate, now)
		return
	}
	served.series.Tokens(u.PromptTokens, u.CompletionTokens)
	tc.hold.Settle(u.PromptTokens+u.CompletionTokens, now)
}

// streamEnded counts and settles the stream sc relayed, which ended at
// end: its time to first event (from start) and, for a stream that ended
// cleanly, its time per output token; its usage if it came.
func (tc *tokenCall) streamEnded(sc *streamCall, start time.Time) {
	s := sc.version.series
	if !sc.firstAt.IsZero() {
		s.TimeToFirstToken(sc.firstAt.Sub(start).Seconds())
	}
	completion, used := sc.events, tc.promptEstimate+sc.events
	if sc.gotUsage {
		s.Tokens(sc.usage.PromptTokens, sc.usage.CompletionTokens)
		completion, used = sc.usage.CompletionTokens, sc.usage.PromptTokens+sc.usage.CompletionTokens
	}
	if !sc.broken && completion > 1 && sc.endAt.After(sc.firstAt) && !sc.firstAt.IsZero() {
		s.TimePerOutputToken(sc.endAt.Sub(sc.firstAt).Seconds() / float64(completion-1))
	}
	tc.hold.Settle(used, sc.endAt)
}
