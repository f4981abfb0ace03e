package gateway

import (
	"errors"
	"io"
	"math"
	"slices"
	"sync"

	"github.com/modelgate/modelgate/observability"
	"github.com/valyala/fasthttp"
)

// Request bodies are read only once the caller is known and admitted. The
// traffic listener streams request bodies (fasthttp's StreamRequestBody):
// fasthttp reads the headers and at most 8 KiB of the body before the
// handler runs, so a connection that announces a large Content-Length and
// stalls holds at most its read buffer (server.max_header_bytes) plus 8 KiB,
// never Content-Length bytes. handle refuses a Content-Length over
// server.max_body_bytes from the headers (413), then authenticates, finds
// the model and runs admission, and only then calls readBody. Before
// authentication a connection holds at most max_header_bytes + 8 KiB, and
// there are at most server.max_connections of them; a request whose
// headers already decide its refusal reads no body byte at all
// (early.go).

// bodyBufs are readBody's buffers; the body is copied into the request.
var bodyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// maxPooledBody bounds the buffers kept in bodyBufs.
const maxPooledBody = 1 << 20

// readBody reads the request body from the connection into the request,
// bounded by server.max_body_bytes (a chunked body has no Content-Length to
// refuse early): over it → 413; a client that stops sending → the read
// timeout (408); a broken chunked encoding → 400. Retries resend the body,
// so it is read fully here. It allocates nothing once the pool is warm.
func (g *Gateway) readBody(ctx *fasthttp.RequestCtx) error {
	req := &ctx.Request
	stream := req.BodyStream()
	if stream == nil {
		return nil
	}
	bp := bodyBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	limit := int(min(g.maxBody, int64(math.MaxInt-1))) + 1 // one byte over the cap tells "too large"
	var err error
	for len(buf) < limit && err == nil {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(cap(buf), limit-len(buf)))
		}
		var n int
		n, err = stream.Read(buf[len(buf):min(cap(buf), limit)])
		buf = buf[:len(buf)+n]
	}
	defer func() {
		if cap(buf) <= maxPooledBody {
			*bp = buf[:0]
			bodyBufs.Put(bp)
		}
	}()
	switch {
	case len(buf) >= limit:
		ctx.SetConnectionClose()
		g.metrics.Rejected("", "", "body_too_large")
		return errBodyTooLarge
	case err != nil && err != io.EOF:
		ctx.SetConnectionClose()
		var ne interface{ Timeout() bool }
		if errors.As(err, &ne) && ne.Timeout() {
			g.metrics.Rejected("", "", observability.ReasonTimeout)
			return errRequestTimeout
		}
		g.metrics.Rejected("", "", observability.ReasonBadRequest)
		return errMalformed
	}
	req.SetBody(buf)
	return nil
}
