package gateway

import (
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/valyala/fasthttp"
)

// outcome classifies one upstream attempt (or a version's last attempt).
type outcome uint8

const (
	// answered: the model answered (any status but 503); passed through.
	answered outcome = iota
	// unavailable: the model answered 503. Retried; the answer is passed
	// through if it is the last.
	unavailable
	// connFailed: no response byte came back (connection refused or reset,
	// closed before answering, connect timeout, TLS handshake failed).
	// Retried.
	connFailed
	// timedOut: no complete answer by the attempt's deadline. Retried only
	// with retry.on_timeout.
	timedOut
	// busy: the endpoint's connection pool stayed exhausted. Retried; not
	// held against the endpoint's breaker.
	busy
	// failed: a broken answer (malformed, cut mid-body, a 101 or a status
	// below 100). Not retried.
	failed
	// tooLarge: the answer's body is over server.max_answer_bytes. Not
	// retried, no fallback (another replica would answer the same), and a
	// success for the breaker: the endpoint answered.
	tooLarge
	// noEndpoint: the version had no available endpoint to try.
	noEndpoint
)

// classify maps the result of one upstream call to an outcome: err is the
// call's error (a cause from causeOf, or the transport's own), status the
// answer's status when err is nil.
func classify(err error, status int) outcome {
	switch {
	case err != nil:
		return causeOf(err).o
	case status == fasthttp.StatusServiceUnavailable:
		return unavailable
	case status < fasthttp.StatusOK:
		// fasthttp skips interim 1xx answers; what is left is a 101 (the
		// connection switched protocols) or no valid status at all.
		return failed
	default:
		return answered
	}
}

// answerCause is the cause of an answer that is not one (nil for a final
// status): a 101, whose connection upstreamConn never reuses, or a status
// below 100.
func answerCause(status int) error {
	switch {
	case status >= fasthttp.StatusOK:
		return nil
	case status == fasthttp.StatusSwitchingProtocols:
		return causeSwitched
	default:
		return causeMalformed
	}
}

// causeOf maps an upstream call's error to its fixed cause (nil for nil).
// The order matters: a dial error may also be a timeout.
func causeOf(err error) *upstreamError {
	if err == nil {
		return nil
	}
	var ue *upstreamError
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

// retryable reports whether another endpoint may be tried after o.
func (o outcome) retryable(onTimeout bool) bool {
	switch o {
	case unavailable, connFailed, busy:
		return true
	case timedOut:
		return onTimeout
	default:
		return false
	}
}

// verdict is what the endpoint's breaker records for o with the answer's
// status: 5xx answers, connection errors, timeouts and broken answers are
// failures; 4xx, other answers and answers too large are successes; an
// exhausted pool is nobody's fault.
func (o outcome) verdict(status int) error {
	switch o {
	case answered:
		if status >= 500 {
			return errBreakerFailure
		}
		return nil
	case tooLarge:
		return nil
	case busy:
		return errBreakerExcluded
	default:
		return errBreakerFailure
	}
}
