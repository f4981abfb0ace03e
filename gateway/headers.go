package gateway

import (
	"bufio"
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
// does not see, and one that announces trailers is rare: both delete every
// fixed name unconditionally.

// requestDrop lists the request headers never forwarded to a container:
// credentials, the client's X-Request-ID (read before, by requestID; the
// gateway sets its own, and SetCanonical replaces only the first of several,
// so a second one would reach the container beside it), then the
// hop-by-hop headers.
var requestDrop = append([]string{fiber.HeaderAuthorization, HeaderAPIKey, HeaderRequestID}, hopHeaders...)

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

// dropRequestHeaders removes from h what a model container must not get
// from a client:
//   - the credentials (Authorization, X-API-Key) and the hop-by-hop headers;
//   - the Connection header itself, every value of it (close and keep-alive
//     included: they were meant for the client's connection to the gateway,
//     not the gateway's to the container) and every header it names;
//   - every X-Modelgate-* header: the gateway sets its own afterwards;
//   - every header whose name contains '_'. CGI and WSGI servers map '-' and
//     '_' alike to '_' (HTTP_X_MODELGATE_TENANT), so X_Modelgate_Tenant would
//     compete with the gateway's X-Modelgate-Tenant; nginx drops such names
//     by default (underscores_in_headers off).
//
// The gateway's headers are set after this, so a client can neither remove
// nor spoof them. One pass over the headers; it allocates only when a
// header to delete by its client-given name is present (X-Modelgate-*, a
// name with '_', a Connection value naming a header).
//
// Trailers: Del also removes a name from the trailer fields. A chunked body
// (ContentLength < 0) may carry trailers that a header scan does not see,
// and announced ones hold header values back from it: then every fixed
// name, Trailer first, is deleted before the scan, which returns the
// trailer fields to the header section where the scan sees them.
func dropRequestHeaders(h *fasthttp.RequestHeader) {
	everyName := h.ContentLength() < 0 || len(h.PeekTrailerKeys()) > 0
	if everyName {
		for _, n := range requestDrop {
			h.Del(n)
		}
	}
	const connection = 1 << 63 // in found: a Connection header is present
	var found uint64           // bit i: requestDrop[i] is present
	var named []string         // present headers to delete by their own name
	for k, v := range h.All() {
		switch i := indexFold(requestDropBytes, k); {
		case i >= 0:
			found |= 1 << i
		case len(k) == len(connectionBytes) && bytes.EqualFold(k, connectionBytes):
			found |= connection
			named = appendConnectionNames(named, v)
		case hasPrefixFold(k, prefixModelgate) || bytes.IndexByte(k, '_') >= 0:
			named = append(named, string(k))
		}
	}
	if len(named) > maxNamedDeletes {
		rebuildRequestHeaders(h, named)
		return
	}
	for i, n := range requestDrop {
		if found&(1<<i) != 0 {
			h.Del(n)
		}
	}
	for _, n := range named {
		h.Del(n)
	}
	if found&connection != 0 {
		h.Del(fiber.HeaderConnection) // every value, and fasthttp's close flag
	}
}

// maxNamedDeletes bounds the names dropRequestHeaders deletes one by one:
// each Del scans every header, so thousands of distinct names (a 16 KiB
// header of "a_:" lines) would cost milliseconds. Past it the header is
// rebuilt in one pass.
const maxNamedDeletes = 16

// rebuildRequestHeaders replaces h with what dropRequestHeaders keeps of
// it, written out and parsed again: linear in the header's size, whatever
// the number of names to drop. named are the names found to delete.
func rebuildRequestHeaders(h *fasthttp.RequestHeader, named []string) {
	drop := make(map[string]struct{}, len(named))
	for _, n := range named {
		drop[string(bytes.ToLower([]byte(n)))] = struct{}{}
	}
	var lower []byte
	buf := append([]byte(nil), h.Method()...)
	buf = append(buf, ' ')
	buf = append(buf, h.RequestURI()...)
	buf = append(buf, ' ')
	buf = append(buf, h.Protocol()...)
	buf = append(buf, "\r\n"...)
	for k, v := range h.All() {
		lower = append(lower[:0], k...)
		for i, c := range lower {
			if 'A' <= c && c <= 'Z' {
				lower[i] = c + 'a' - 'A'
			}
		}
		if _, ok := drop[string(lower)]; ok || indexFold(requestDropBytes, k) >= 0 ||
			bytes.Equal(lower, []byte("connection")) || hasPrefixFold(k, prefixModelgate) || bytes.IndexByte(k, '_') >= 0 {
			continue
		}
		buf = append(buf, k...)
		buf = append(buf, ": "...)
		buf = append(buf, v...)
		buf = append(buf, "\r\n"...)
	}
	buf = append(buf, "\r\n"...)
	// What was parsed once parses again; should it not, nothing of the
	// client's headers is better than some.
	if err := h.Read(bufio.NewReaderSize(bytes.NewReader(buf), len(buf))); err != nil {
		method := append([]byte(nil), h.Method()...)
		h.Reset()
		h.SetMethodBytes(method)
	}
}

// appendConnectionNames appends the header names a request's Connection
// value lists ("close" and "keep-alive" are options, not names).
func appendConnectionNames(dst []string, v []byte) []string {
	for tok := range bytes.SplitSeq(v, []byte(",")) {
		tok = bytes.Trim(tok, " \t")
		if len(tok) > 0 && !bytes.EqualFold(tok, []byte("close")) && !bytes.EqualFold(tok, []byte("keep-alive")) {
			dst = append(dst, string(tok))
		}
	}
	return dst
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
