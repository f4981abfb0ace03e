package gateway

import (
	"bytes"

	"github.com/gofiber/fiber/v2"
	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/router"
	"github.com/modelgate/modelgate/tenants"
	"github.com/valyala/fasthttp"
)

// Refusals decided from the headers alone. fasthttp reads the first
// min(Content-Length, 8 KiB) bytes of a body before the handler runs, and
// answers "Expect: 100-continue" with 100 unless told otherwise: a request
// without a key that announces a body and sends none would hold its
// connection until server.read_timeout, and a client waiting for 100 would
// be invited to send a body only to be refused. headerReceived (fasthttp's
// Server.HeaderReceived, called once the headers are read and before any
// body byte) refuses such requests first: it makes fasthttp read no body
// (Content-Length 0, no Expect), marks the connection to close after the
// answer (the unread body must never be parsed as a next request), and
// records the status in an internal header. handle then answers as usual,
// with a JSON error, an access-log line and metrics, and never reads or
// forwards a body of a marked request.

// keyRefused is the internal header carrying the status headerReceived
// decided. A client's own copy is deleted first: only the gateway sets it.
var keyRefused = fasthttp.AppendNormalizedHeaderKey(nil, "X-Modelgate-Refused")

var (
	refused401 = []byte("401")
	refused404 = []byte("404")
	refused413 = []byte("413")
)

// headerReceived decides from the headers whether a request that
// announces a body is refused before its body: a Content-Length over
// server.max_body_bytes (413), no known API key (401), or, for a request
// with Expect: 100-continue, a proxied path naming a model the caller's
// tenant does not have (404). Everything else is left to handle. It
// allocates nothing.
func (g *Gateway) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	h.DelBytes(keyRefused)
	cl := h.ContentLength()
	if cl == 0 || cl == -2 { // no body (-2: neither Content-Length nor chunked)
		return fasthttp.RequestConfig{}
	}
	var code []byte
	snap := g.snap.Load()
	ti, known := snap.keys.Lookup(tenants.ExtractKey(h.Peek(fiber.HeaderAuthorization), h.Peek(HeaderAPIKey)))
	switch {
	case int64(cl) > g.maxBody:
		code = refused413
	case !known:
		code = refused401
	case len(h.Peek(fiber.HeaderExpect)) > 0 && !servesModel(snap, h, ti):
		code = refused404
	default:
		return fasthttp.RequestConfig{}
	}
	h.SetContentLength(0) // also drops Transfer-Encoding: chunked
	h.Del(fiber.HeaderExpect)
	h.SetConnectionClose()
	h.SetCanonical(keyRefused, code)
	return fasthttp.RequestConfig{}
}

// servesModel reports whether the raw request path is not a proxied path
// naming a model tenant ti of snap lacks. The path is not normalized yet (handle
// decides on the normalized one): a path that does not parse as it is
// counts as served, and handle refuses it after the body as usual.
func servesModel(snap *snapshot, h *fasthttp.RequestHeader, ti int) bool {
	path := h.RequestURI()
	if i := bytes.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	rt := router.ParsePath(path)
	if !rt.Kind.Proxied() || rt.Kind.OpenAI() { // an OpenAI request names its model in the body
		return true
	}
	return ti >= len(snap.tenants) || snap.tenants[ti].models[string(rt.Model)] != nil
}

// refusedEarly returns the refusal headerReceived decided for the request
// (nil when it read the body as usual), counted as rejected for tenant.
// handle calls it where the body would be read: a marked request has none.
func (g *Gateway) refusedEarly(ctx *fasthttp.RequestCtx, tenant, model string) error {
	switch code := ctx.Request.Header.PeekBytes(keyRefused); {
	case code == nil:
		return nil
	case bytes.Equal(code, refused413):
		g.metrics.Rejected(tenant, model, observability.ReasonBodyTooLarge)
		return errBodyTooLarge
	case bytes.Equal(code, refused401):
		g.metrics.Rejected("", "", observability.ReasonUnauthorized)
		return errUnauthorized
	default:
		g.metrics.Rejected(tenant, model, observability.ReasonNotFound)
		return errModelNotFound
	}
}
