package gateway

import (
	"bytes"
	"slices"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// Header hygiene in one pass over the headers. fasthttp's Del normalizes its
// key and scans every header each time it is called, so deleting a fixed
// list of names that are almost never present (hop-by-hop headers) costs a
// dozen scans per request. These functions scan once, and call Del only for
// the names actually present.
//
// Trailers: Del also removes a name from the trailer fields. A message whose
// body is chunked (ContentLength < 0) may carry trailers that a header scan
// does not see, and one that announces trailers is rare: both take the slow
// path, which deletes every name unconditionally as before.

// requestDrop lists the request headers never forwarded to a container:
// credentials, then the hop-by-hop headers.
var requestDrop = append([]string{fiber.HeaderAuthorization, HeaderAPIKey}, hopHeaders...)

var (
	requestDropBytes = namesBytes(requestDrop)
	hopHeadersBytes  = namesBytes(hopHeaders)
)

func namesBytes(names []string) [][]byte {
	out := make([][]byte, len(names))
	for i, n := range names {
		out[i] = []byte(n)
	}
	return out
}

// indexFold returns the index in names of k, compared case-insensitively,
// or -1.
func indexFold(names [][]byte, k []byte) int {
	for i, n := range names {
		if len(n) == len(k) && bytes.EqualFold(n, k) {
			return i
		}
	}
	return -1
}

// dropRequestHeaders removes from h the credentials (Authorization,
// X-API-Key), the hop-by-hop headers, the client's Connection header and the
// headers it names, every client-sent X-Modelgate-* header, and every header
// whose name contains an underscore. It allocates only when a Connection
// token, an X-Modelgate-* header or an underscore name is present.
//
// Connection: its tokens are meant for the gateway's hop, and forwarded
// they would let a client make a header-stripping sidecar in front of the
// container remove the gateway's own X-Modelgate-Tenant. Only the client's
// "close" survives (fasthttp keeps it as a flag).
//
// Underscores: CGI and WSGI servers map "-" and "_" alike to "_"
// (HTTP_X_MODELGATE_TENANT), so X_Modelgate_Tenant would reach such a
// container as the gateway's tenant header. Like nginx's default
// (underscores_in_headers off), names with "_" are never forwarded.
func dropRequestHeaders(h *fasthttp.RequestHeader) {
	dropConnection(h)
	if h.ContentLength() < 0 {
		dropRequestHeadersSlow(h)
		return
	}
	var found uint64 // bit i: requestDrop[i] is present
	var prefixed []string
	for k := range h.All() {
		if i := indexFold(requestDropBytes, k); i >= 0 {
			if requestDrop[i] == fiber.HeaderTrailer {
				dropRequestHeadersSlow(h)
				return
			}
			found |= 1 << i
		} else if hasPrefixFold(k, prefixModelgate) || bytes.IndexByte(k, '_') >= 0 {
			prefixed = append(prefixed, string(k))
		}
	}
	for i, n := range requestDrop {
		if found&(1<<i) != 0 {
			h.Del(n)
		}
	}
	for _, n := range prefixed {
		h.Del(n)
	}
}

// dropConnection removes the client's Connection header and the headers it
// names, keeping only its "close" (as fasthttp's flag).
func dropConnection(h *fasthttp.RequestHeader) {
	conn := h.Peek(fiber.HeaderConnection)
	if len(conn) == 0 {
		return
	}
	deleteConnectionTokens(h, conn)
	closing := h.ConnectionClose()
	h.Del(fiber.HeaderConnection) // also clears the close flag
	if closing {
		h.SetConnectionClose()
	}
}

// dropRequestHeadersSlow is dropRequestHeaders without the scan: every name
// is deleted, from the headers and the trailers.
func dropRequestHeadersSlow(h *fasthttp.RequestHeader) {
	for _, n := range requestDrop {
		h.Del(n)
	}
	deletePrefixed(h, prefixModelgate)
}

// dropResponseHopHeaders removes from a container's answer, before it goes
// to the client, the hop-by-hop headers, the Connection header and every
// header it names (RFC 9110 §7.6.1: they were meant for the gateway's
// connection to the container; the client's keep-alive is the gateway's
// decision, so a container's "Connection: close" does not close it). One
// pass over the headers; it allocates only when the answer has a
// Connection header naming other headers.
func dropResponseHopHeaders(h *fasthttp.ResponseHeader) {
	const connection = 1 << 63 // in found: a Connection header is present
	var found uint64           // bit i: hopHeaders[i] is present
	var listed []string
	for k, v := range h.All() {
		if i := indexFold(hopHeadersBytes, k); i >= 0 {
			found |= 1 << i
		} else if len(k) == len(connectionBytes) && bytes.EqualFold(k, connectionBytes) {
			found |= connection
			listed = appendListedNames(listed, v)
		}
	}
	if h.ContentLength() < 0 || found&(1<<trailerIndex) != 0 {
		// A chunked body may carry trailers the scan does not see, and
		// announced trailers are rare: delete every name.
		found |= 1<<len(hopHeaders) - 1
	}
	for i, n := range hopHeaders {
		if found&(1<<i) != 0 {
			h.Del(n)
		}
	}
	if found&connection != 0 {
		for _, n := range listed {
			h.Del(n)
		}
		h.Del(fiber.HeaderConnection) // and fasthttp's close flag
	}
}

var (
	connectionBytes = []byte(fiber.HeaderConnection)
	trailerIndex    = slices.Index(hopHeaders, fiber.HeaderTrailer)
)

// appendListedNames appends the header names a Connection value lists
// ("close" is an option, not a name).
func appendListedNames(dst []string, v []byte) []string {
	for tok := range bytes.SplitSeq(v, []byte(",")) {
		tok = bytes.Trim(tok, " \t")
		if len(tok) > 0 && !bytes.EqualFold(tok, []byte("close")) {
			dst = append(dst, string(tok))
		}
	}
	return dst
}

func hasPrefixFold(k, prefix []byte) bool {
	return len(k) >= len(prefix) && bytes.EqualFold(k[:len(prefix)], prefix)
}
