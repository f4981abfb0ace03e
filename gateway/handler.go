package gateway

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/modelgate/modelgate/gateway/shadow"
	"github.com/modelgate/modelgate/gateway/upstream"
	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/router"
	"github.com/modelgate/modelgate/tenants"
	"github.com/valyala/fasthttp"
)

// Headers the gateway sets toward model containers and clients.
const (
	HeaderTenant      = upstream.HeaderTenant
	HeaderVersion     = upstream.HeaderVersion
	HeaderRequestID   = upstream.HeaderRequestID
	HeaderShadow      = upstream.HeaderShadow
	HeaderHealthCheck = upstream.HeaderHealthCheck
	HeaderAPIKey      = "X-API-Key" // the client's key (or Authorization: Bearer)

	// maxRequestIDLen bounds a client-sent X-Request-ID; longer or
	// non-printable ones are replaced.
	maxRequestIDLen = 128
)

// The same names in fasthttp's canonical form, normalized once here and set
// with SetCanonical: no per-request copy and normalization of the name.
var (
	keyTenant    = fasthttp.AppendNormalizedHeaderKey(nil, HeaderTenant)
	keyVersion   = fasthttp.AppendNormalizedHeaderKey(nil, HeaderVersion)
	keyRequestID = fasthttp.AppendNormalizedHeaderKey(nil, HeaderRequestID)
)

var (
	prefixModelgate = []byte("x-modelgate-")
	http11          = []byte("HTTP/1.1")
	liveBody        = []byte(`{"live":true}`)
	readyBody       = []byte(`{"ready":true}`)
	notReadyBody    = []byte(`{"ready":false}`)
)

// hopHeaders are not forwarded in either direction (RFC 9110 §7.6.1).
// Connection and Transfer-Encoding are handled by fasthttp itself.
var hopHeaders = []string{"Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer", "Upgrade"}

// handle serves every request on the traffic listener.
func (g *Gateway) handle(c *fiber.Ctx) error {
	ctx := c.Context()
	start := time.Now()
	rt := router.ParsePath(ctx.Path())
	if !rt.Kind.Proxied() {
		return g.handleLocal(ctx, rt)
	}
	if rt.Kind.OpenAI() {
		return g.handleOpenAI(ctx, rt, start) // openai.go
	}
	tenant, answered, err := g.fromHeaders(ctx, rt.Kind)
	if answered || err != nil {
		return err
	}
	h := &ctx.Request.Header
	model := tenant.models[string(rt.Model)]
	if model == nil {
		// Same answer as for a model that exists nowhere: no leak of other
		// tenants' model names.
		g.metrics.Rejected(tenant.name, "", observability.ReasonNotFound)
		return errModelNotFound
	}
	adm, ok := admit(ctx, model, start)
	if !ok {
		observeRoute(ctx, tenant.name, model.name, "", nil) // the access log line names who was limited
		return nil                                          // admit wrote the 429
	}
	defer adm.Release()
	// Only now, for an authenticated caller within its limits, is the body
	// read (body.go), unless the headers decided a refusal before it
	// (early.go).
	if err := g.refusedEarly(ctx, tenant.name, model.name); err != nil {
		observeRoute(ctx, tenant.name, model.name, "", nil)
		return err
	}
	if err := g.readBody(ctx); err != nil {
		observeRoute(ctx, tenant.name, model.name, "", nil)
		return err
	}

	var vi int
	switch {
	case rt.Pinned():
		if vi, ok = model.split.Lookup(rt.Version); !ok {
			observeRoute(ctx, tenant.name, model.name, "", nil)
			g.metrics.Rejected(tenant.name, model.name, observability.ReasonNotFound)
			return errVersionNotFound
		}
	case model.stickyHeader != "":
		if key := h.Peek(model.stickyHeader); len(key) > 0 {
			vi = model.split.PickSticky(key)
		} else {
			vi = model.split.Pick()
		}
	default:
		vi = model.split.Pick()
	}
	version := model.versions[vi]

	var idBuf [maxRequestIDLen]byte
	rid := requestID(h.Peek(HeaderRequestID), idBuf[:])
	observeRoute(ctx, tenant.name, model.name, version.name, rid)
	prepareUpstreamRequest(&ctx.Request, version.paths.Of(rt.Kind), tenant.value, version.value, rid)
	var copied *shadow.Job // nil unless the request is shadowed
	if sr := model.shadow; sr != nil {
		var key []byte // the sticky key as the container sees it
		if model.stickyHeader != "" {
			key = ctx.Request.Header.Peek(model.stickyHeader)
		}
		if copied = sr.Capture(rt, vi, key, &ctx.Request); copied != nil {
			copied.SetTrace(shadowTraceOf(ctx))
		}
	}

	version.series.InFlight.Inc()
	served, code := g.forward(ctx, model, version, rt.Pinned(), start, nil)
	version.series.InFlight.Dec()
	setResponseHeaders(&ctx.Response.Header, rid, served)
	served.series.Request(code)
	served.series.Duration.Observe(time.Since(start).Seconds())
	copied.Dispatch(&ctx.Response, start)
	return nil
}

// wrongMethod answers 405 (with Allow) and reports true when the request's
// method is not the one kind accepts. Refused before authentication, it is
// counted without tenant, like 401.
// fromHeaders runs what every proxied request passes on its headers
// alone, before any of its body is read: the method (answered is true
// when it answered 405 itself), the announced body size (413) and the
// caller's key (401). Otherwise it returns the caller's tenant.
func (g *Gateway) fromHeaders(ctx *fasthttp.RequestCtx, kind router.Kind) (tenant *tenantRoute, answered bool, err error) {
	if g.wrongMethod(ctx, kind) {
		return nil, true, nil
	}
	if int64(ctx.Request.Header.ContentLength()) > g.maxBody || bytes.Equal(ctx.Request.Header.PeekBytes(keyRefused), refused413) {
		// Refused from the headers alone: nothing of the body is read.
		ctx.SetConnectionClose()
		g.metrics.Rejected("", "", "body_too_large")
		return nil, false, errBodyTooLarge
	}
	if tenant = g.caller(g.snap.Load(), &ctx.Request.Header); tenant == nil {
		return nil, false, errUnauthorized
	}
	return tenant, false, nil
}

func (g *Gateway) wrongMethod(ctx *fasthttp.RequestCtx, kind router.Kind) bool {
	if string(ctx.Method()) == kind.Method() {
		return false
	}
	g.metrics.Rejected("", "", observability.ReasonMethod)
	writeError(ctx, errMethodNotAllowed) // resets the response: Allow after it
	ctx.Response.Header.Set(fiber.HeaderAllow, kind.Method())
	return true
}

// caller is the tenant whose API key the request presents in snap, or nil
// (counted as rejected, unauthorized). It does not allocate.
func (g *Gateway) caller(snap *snapshot, h *fasthttp.RequestHeader) *tenantRoute {
	ti, ok := snap.keys.Lookup(tenants.ExtractKey(h.Peek(fiber.HeaderAuthorization), h.Peek(HeaderAPIKey)))
	if !ok {
		g.metrics.Rejected("", "", observability.ReasonUnauthorized)
		return nil
	}
	return snap.tenants[ti]
}

// handleLocal answers paths the gateway serves itself.
func (g *Gateway) handleLocal(ctx *fasthttp.RequestCtx, rt router.Route) error {
	switch rt.Kind {
	case router.KindServerMeta, router.KindModelList, router.KindOpenAIModels:
		return g.handleTenant(ctx, rt.Kind)
	case router.KindLive:
		ctx.SetContentType("application/json")
		ctx.SetBody(liveBody)
	case router.KindReady:
		ctx.SetContentType("application/json")
		if g.draining.Load() {
			ctx.SetStatusCode(fiber.StatusServiceUnavailable)
			ctx.SetBody(notReadyBody)
		} else {
			ctx.SetBody(readyBody)
		}
	case router.KindBadName:
		g.metrics.Rejected("", "", observability.ReasonBadRequest)
		return errBadName
	default:
		g.metrics.Rejected("", "", observability.ReasonNotFound)
		return errPathNotFound
	}
	return nil
}

// handleTenant answers the server-level calls of the model APIs for the
// caller's tenant, from bodies built with the snapshot: GET /v2 (OIP server
// metadata) and GET /v2/models, GET /v1/models (the tenant's model names,
// nothing of other tenants'), and GET /openai/v1/models (the same names in
// OpenAI's list shape). Other methods get 405, a missing or unknown
// key 401, counted like every rejection. It does not allocate.
func (g *Gateway) handleTenant(ctx *fasthttp.RequestCtx, kind router.Kind) error {
	if g.wrongMethod(ctx, kind) {
		return nil
	}
	snap := g.snap.Load()
	tenant := g.caller(snap, &ctx.Request.Header)
	if tenant == nil {
		return errUnauthorized
	}
	ctx.SetContentType("application/json")
	switch kind {
	case router.KindServerMeta:
		ctx.SetBody(snap.serverMeta)
	case router.KindOpenAIModels:
		ctx.SetBody(tenant.openAIModels)
	default:
		ctx.SetBody(tenant.modelList)
	}
	return nil
}

// prepareUpstreamRequest turns the client's request, in place, into the one
// the model container receives: path (the chosen version's container path
// for the route, see versionRoute.paths), no credentials, no hop-by-hop
// headers, no client Connection header nor the headers it names, no
// client-sent X-Modelgate-* headers nor names with '_'
// (dropRequestHeaders), and then the gateway's own headers set, which a
// client can therefore neither remove nor spoof. The query is kept.
func prepareUpstreamRequest(req *fasthttp.Request, path, tenant, version, rid []byte) {
	// The path is built from the route's checked names, never the client's
	// raw one ("//x/%2e%2e/m"): the container must not see a path the
	// gateway did not check, nor the gateway's version names.
	req.URI().SetPathBytes(path)
	h := &req.Header
	if !h.IsHTTP11() {
		// The gateway's own version toward the container (RFC 9110 §2.5):
		// with the client's Connection header gone, an HTTP/1.0 request
		// line would ask the container to close after its answer.
		h.SetProtocolBytes(http11)
	}
	dropRequestHeaders(h) // headers.go
	h.SetCanonical(keyTenant, tenant)
	h.SetCanonical(keyVersion, version)
	h.SetCanonical(keyRequestID, rid)
}

// setResponseHeaders sets the gateway's headers on the answer to the client:
// the request id and the version that served.
func setResponseHeaders(h *fasthttp.ResponseHeader, rid []byte, served *versionRoute) {
	h.SetCanonical(keyRequestID, rid)
	h.SetCanonical(keyVersion, served.value)
}

// requestID returns, copied into buf (len maxRequestIDLen), the client's
// X-Request-ID if it is short and printable, else a new random 128-bit hex
// id. The copy keeps it valid while the request headers are rewritten.
func requestID(client, buf []byte) []byte {
	if n := len(client); n > 0 && n <= maxRequestIDLen && printable(client) {
		return buf[:copy(buf, client)]
	}
	var raw [16]byte
	a, b := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		raw[i] = byte(a >> (8 * i))
		raw[8+i] = byte(b >> (8 * i))
	}
	hex.Encode(buf, raw[:])
	return buf[:32]
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}
