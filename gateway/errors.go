package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/gofiber/fiber/v2"
	"github.com/modelgate/modelgate/gateway/upstream"
	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/router/openai"
	"github.com/valyala/fasthttp"
)

// Client-visible errors. Every error response is JSON {"error": "..."}
// (OpenAI's {"error": {"message", "type", "code"}} on the OpenAI paths) with
// one of these statuses; upstreamStatus is the one place upstream failures
// are mapped to a status.
var (
	errUnauthorized     = &statusError{fiber.StatusUnauthorized, "missing or unknown API key"}
	errModelNotFound    = &statusError{fiber.StatusNotFound, "model not found"}
	errVersionNotFound  = &statusError{fiber.StatusNotFound, "model version not found"}
	errPathNotFound     = &statusError{fiber.StatusNotFound, "no such API path"}
	errBadName          = &statusError{fiber.StatusBadRequest, "invalid model or version name"}
	errBodyTooLarge     = &statusError{fiber.StatusRequestEntityTooLarge, "request body too large"}
	errHeaderTooLarge   = &statusError{fiber.StatusRequestHeaderFieldsTooLarge, "request headers too large"}
	errUpstreamFailed   = &statusError{fiber.StatusBadGateway, "upstream model container failed"}
	errAnswerTooLarge   = &statusError{fiber.StatusBadGateway, "upstream answer too large"}
	errUpstreamTimeout  = &statusError{fiber.StatusGatewayTimeout, "upstream model container timed out"}
	errNoEndpoint       = &statusError{fiber.StatusServiceUnavailable, "no healthy endpoint for this model version"}
	errUpstreamBusy     = &statusError{fiber.StatusServiceUnavailable, "upstream model container busy"}
	errRequestTimeout   = &statusError{fiber.StatusRequestTimeout, "request timed out"}
	errMethodNotAllowed = &statusError{fiber.StatusMethodNotAllowed, "method not allowed"}
	errMalformed        = &statusError{fiber.StatusBadRequest, "malformed request"}

	// Admission control (admission.go). Both are sent with a Retry-After
	// header: for rate limits the seconds until a token is available,
	// rounded up; for concurrency 1.
	errRateLimited = &statusError{fiber.StatusTooManyRequests, "rate limit exceeded"}
	errConcurrency = &statusError{fiber.StatusTooManyRequests, "too many concurrent requests"}
	// errTokenLimited refuses an OpenAI request whose token estimate the
	// tenant's or model's tokens_per_minute cannot cover now; Retry-After
	// is the seconds until it can, rounded up.
	errTokenLimited = &statusError{fiber.StatusTooManyRequests, "token rate limit exceeded"}
)

// statusError is an error with the HTTP status it answers with.
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

// body returns the JSON error body for e.
func (e *statusError) body() []byte {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{e.msg})
	return b
}

// upstreamStatus maps the outcome of a request's last upstream attempt
// (see upstream.Classify) to what the client sees: the model's timeout
// budget spent or an attempt timed out → 504, no available endpoint or pool
// exhausted → 503, an answer over server.max_answer_bytes → 502 "upstream
// answer too large", anything else → 502. The status is
// upstream.Outcome.Status; this picks the message.
func upstreamStatus(o upstream.Outcome, pastDeadline bool) *statusError {
	switch code := o.Status(pastDeadline); {
	case code == fiber.StatusGatewayTimeout:
		return errUpstreamTimeout
	case code == fiber.StatusServiceUnavailable && o == upstream.Busy:
		return errUpstreamBusy
	case code == fiber.StatusServiceUnavailable:
		return errNoEndpoint
	case o == upstream.TooLarge:
		return errAnswerTooLarge
	default:
		return errUpstreamFailed
	}
}

// openAIBody returns e in OpenAI's error shape, for the OpenAI paths:
// {"error": {"message", "type", "param": null, "code"}}.
func (e *statusError) openAIBody() []byte {
	return openai.ErrorBody(e.msg, openai.TypeOf(e.code), openAICode(e))
}

// writeError writes e as the response, replacing anything written before:
// in OpenAI's error shape for an OpenAI path (openai.go).
func writeError(ctx *fasthttp.RequestCtx, e *statusError) {
	body := e.body
	if openAIRequest(ctx) {
		body = e.openAIBody
	}
	ctx.Response.Reset()
	ctx.SetStatusCode(e.code)
	ctx.SetContentType("application/json")
	ctx.SetBody(body())
}

// fiberError is fiber's ErrorHandler: errors raised by fiber or fasthttp
// before our handler runs (body or headers too large, read timeouts, parse
// errors) get the same JSON shape.
func (g *Gateway) fiberError(c *fiber.Ctx, err error) error {
	var se *statusError
	var fe *fiber.Error
	if errors.As(err, &se) {
		// Raised by our handler: the connection stays usable, unless the
		// gateway is draining (see serveRequest).
		writeError(c.Context(), se)
		if g.draining.Load() {
			c.Context().SetConnectionClose()
		}
		return nil
	}
	switch {
	case errors.As(err, &fe):
		switch fe.Code {
		case fiber.StatusRequestEntityTooLarge:
			se = errBodyTooLarge
			g.metrics.Rejected("", "", "body_too_large")
		case fiber.StatusRequestHeaderFieldsTooLarge:
			se = errHeaderTooLarge
			g.metrics.Rejected("", "", "header_too_large")
		case fiber.StatusRequestTimeout:
			se = errRequestTimeout
			g.metrics.Rejected("", "", observability.ReasonTimeout)
		case fiber.StatusBadRequest:
			// fasthttp's parse errors quote the request buffer (keys,
			// payload): only a fixed message leaves the gateway.
			se = errMalformed
			g.metrics.Rejected("", "", observability.ReasonBadRequest)
		default:
			se = &statusError{fe.Code, fasthttp.StatusMessage(fe.Code)}
		}
	default:
		se = &statusError{fiber.StatusInternalServerError, "internal error"}
		g.log.Error("unhandled error", "err_type", fmt.Sprintf("%T", err))
	}
	// Raised by fasthttp while reading the request: the rest of the
	// request may be unread, so the connection cannot be reused.
	writeError(c.Context(), se)
	c.Context().SetConnectionClose()
	g.logRefused(se.code, se.msg)
	return nil
}

// refusedLogger is fasthttp's Logger on the traffic listener. fasthttp
// logs connection-level failures (a request it could not read or answer)
// with its error text, which can quote the request buffer: only a fixed
// line at debug level is written, never the arguments.
type refusedLogger struct{ log *slog.Logger }

func (l refusedLogger) Printf(string, ...any) {
	l.log.Debug("traffic connection error (details withheld: they may quote request bytes)")
}
