package upstream

import (
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/valyala/fasthttp"
)

// Error is how a failed upstream call is reported to the logs, the
// access log and spans: a fixed cause and its outcome, never the transport's
// own error text, which can hold bytes the container sent (fasthttp quotes
// the answer it could not parse) — see causeOf. Endpoint.Do returns only these.
type Error struct {
	o   Outcome
	msg string
}

func (e *Error) Error() string { return e.msg }

// The causes of a failed upstream call.
var (
	causeRefused        = &Error{ConnFailed, "connection refused"}
	causeReset          = &Error{ConnFailed, "connection reset"}
	causeClosed         = &Error{ConnFailed, "connection closed before the answer"}
	causeConnect        = &Error{ConnFailed, "connect failed"}
	causeConnectTimeout = &Error{ConnFailed, "connect timeout"}
	causeDNS            = &Error{ConnFailed, "host name lookup failed"}
	causeTLS            = &Error{ConnFailed, "tls handshake failed"}
	causeTLSUntrusted   = &Error{ConnFailed, "tls: certificate signed by an untrusted authority"}
	causeTLSName        = &Error{ConnFailed, "tls: certificate not valid for the endpoint's host name"}
	causeTLSInvalid     = &Error{ConnFailed, "tls: certificate expired, not yet valid or not for servers"}
	causeStale          = &Error{ConnFailed, "connection not reusable (unread bytes, closed or switched protocols)"}
	causeTimeout        = &Error{TimedOut, "timeout"}
	causePoolBusy       = &Error{Busy, "connection pool exhausted"}
	causeTooLarge       = &Error{TooLarge, "answer too large"}
	causeMalformed      = &Error{Failed, "malformed answer"}
	causeCut            = &Error{Failed, "answer cut short"}
	causeSwitched       = &Error{Failed, "answer switched protocols (101)"}
)

// Outcome is the class of the failure, for Classify.
func (e *Error) Outcome() Outcome { return e.o }

// causeOf maps an upstream call's error to its fixed cause (nil for nil).
// The order matters: a dial error may also be a timeout.
func causeOf(err error) *Error {
	if err == nil {
		return nil
	}
	var ue *Error
	var dialErr *fasthttp.ErrDialWithUpstream
	var dnsErr *net.DNSError
	var chunkErr fasthttp.ErrBrokenChunk
	var ne net.Error
	switch {
	case errors.As(err, &ue):
		return ue // ours: a dial, a connection check or the header scan
	case errors.As(err, &dnsErr):
		return causeDNS
	case errors.Is(err, fasthttp.ErrDialTimeout):
		return causeConnectTimeout
	case errors.As(err, &dialErr):
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			return causeRefused
		case errors.As(err, &ne) && ne.Timeout():
			return causeConnectTimeout
		}
		return causeConnect
	case errors.Is(err, fasthttp.ErrTimeout), errors.As(err, &ne) && ne.Timeout():
		return causeTimeout
	case errors.Is(err, fasthttp.ErrNoFreeConns):
		return causePoolBusy
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return causeTooLarge
	case errors.Is(err, syscall.ECONNREFUSED):
		return causeRefused
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return causeReset
	case errors.Is(err, fasthttp.ErrConnectionClosed), errors.Is(err, io.EOF):
		return causeClosed
	case errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &chunkErr):
		return causeCut
	default:
		return causeMalformed
	}
}

// retryOnFreshConn is the endpoint HostClient's RetryIfErr: fasthttp
// resends a request on another connection only when it cannot have reached
// the model — the connection check refused a reused connection (bounded by
// fasthttp's five attempts), or a reused keep-alive connection was closed
// or reset before any answer byte (once). Anything else, a malformed or
// oversized answer above all, is decided by forward.
func retryOnFreshConn(_ *fasthttp.Request, attempts int, err error) (resetTimeout, retry bool) {
	if errors.Is(err, causeStale) {
		return false, true
	}
	return false, attempts < 2 && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE))
}

// Causes for the part of an answer the gateway reads itself, after Do
// returned: a streamed answer's body (Response.StreamBody).
var (
	// ErrStreamEmpty: the answer's headers came, then the connection
	// ended before any body byte (ConnFailed: retried).
	ErrStreamEmpty error = &Error{ConnFailed, "stream ended before its first byte"}
	// ErrStreamCut: a stream broke after its first byte (Failed).
	ErrStreamCut error = &Error{Failed, "stream cut short"}
	// ErrEventTooLarge: one server-sent event over server.max_answer_bytes
	// (Failed).
	ErrEventTooLarge error = &Error{Failed, "stream event too large"}
	// ErrAnswerTooLarge: a buffered answer over server.max_answer_bytes.
	ErrAnswerTooLarge error = causeTooLarge
)

// CauseOf maps the error of reading a streamed answer's body to its fixed
// cause (nil for nil), as Do does for its own errors.
func CauseOf(err error) error {
	if err == nil {
		return nil
	}
	return causeOf(err)
}
