package upstream

import (
	"time"

	"github.com/valyala/fasthttp"
)

// Outcome classifies one upstream attempt (or a version's last attempt).
// Everything in this file is pure: what an attempt's result means for
// retries and for the endpoint's breaker, tested without a server.
type Outcome uint8

const (
	// Answered: the model answered (any status but 503); passed through.
	Answered Outcome = iota
	// Unavailable: the model answered 503. Retried; the answer is passed
	// through if it is the last.
	Unavailable
	// ConnFailed: no response byte came back (connection refused or reset,
	// closed before answering, connect timeout, TLS handshake failed).
	// Retried.
	ConnFailed
	// TimedOut: no complete answer by the attempt's deadline. Retried only
	// with retry.on_timeout.
	TimedOut
	// Busy: the endpoint's connection pool stayed exhausted. Retried; not
	// held against the endpoint's breaker.
	Busy
	// Failed: a broken answer (malformed, cut mid-body, a 101 or a status
	// below 100). Not retried.
	Failed
	// TooLarge: the answer's body is over server.max_answer_bytes. Not
	// retried, no fallback (another replica would answer the same), and a
	// success for the breaker: the endpoint answered.
	TooLarge
	// NoEndpoint: the version had no available endpoint to try.
	NoEndpoint
)

// Classify maps the result of one upstream call to an Outcome: err is the
// call's error (a cause from causeOf, or the transport's own), status the
// answer's status when err is nil.
func Classify(err error, status int) Outcome {
	switch {
	case err != nil:
		return causeOf(err).o
	case status == fasthttp.StatusServiceUnavailable:
		return Unavailable
	case status < fasthttp.StatusOK:
		// fasthttp skips interim 1xx answers; what is left is a 101 (the
		// connection switched protocols) or no valid status at all.
		return Failed
	default:
		return Answered
	}
}

// AnswerCause is the cause of an answer that is not one (nil for a final
// status): a 101, whose connection upstreamConn never reuses, or a status
// below 100.
func AnswerCause(status int) error {
	switch {
	case status >= fasthttp.StatusOK:
		return nil
	case status == fasthttp.StatusSwitchingProtocols:
		return causeSwitched
	default:
		return causeMalformed
	}
}

// Retryable reports whether another endpoint may be tried after o.
func (o Outcome) Retryable(onTimeout bool) bool {
	switch o {
	case Unavailable, ConnFailed, Busy:
		return true
	case TimedOut:
		return onTimeout
	default:
		return false
	}
}

// Verdict is what the endpoint's breaker records for o with the answer's
// status, before Endpoint.Judge weighs it:
//   - ErrFailure: a connection error, a timeout, a broken answer, and the
//     5xx that speak of the endpoint (502, 504, 506 and up);
//   - ErrServerError: a 500 or 503, which model servers also answer for a
//     caller's bad input (KServe and MLServer 500, TorchServe 503): counted
//     by breaker.server_errors;
//   - nil (success): answers below 500, 501 and 505 (the request asked for
//     something the server does not implement: not its health) and answers
//     too large (the endpoint answered);
//   - ErrExcluded: an exhausted pool, nobody's fault.
func (o Outcome) Verdict(status int) error {
	switch o {
	case Answered:
		switch {
		case status < 500, status == fasthttp.StatusNotImplemented, status == fasthttp.StatusHTTPVersionNotSupported:
			return nil
		case status == fasthttp.StatusInternalServerError:
			return ErrServerError
		}
		return ErrFailure
	case Unavailable:
		return ErrServerError
	case TooLarge:
		return nil
	case Busy:
		return ErrExcluded
	default:
		return ErrFailure
	}
}

// Corroborated reports whether a 500 or 503 answered to caller at now
// (Unix ns) counts as the endpoint's failure under
// breaker.server_errors "corroborated": the endpoint's previous such
// answer, at prevAt, went to another caller (prev, 0 for none) no longer
// than window ago. One caller's run of bad input is never corroborated;
// a container failing everyone is, each time the callers alternate.
func Corroborated(prev uint64, prevAt int64, caller uint64, now int64, window time.Duration) bool {
	return prev != 0 && prev != caller && now-prevAt <= int64(window)
}

// Status is the HTTP status a request whose last attempt ended in o
// answers with when no answer is relayed: no available endpoint or pool
// exhausted 503, the model's timeout budget spent (pastDeadline) or an
// attempt timed out 504, anything else (an answer over
// server.max_answer_bytes included) 502.
func (o Outcome) Status(pastDeadline bool) int {
	switch {
	case o == NoEndpoint:
		return fasthttp.StatusServiceUnavailable
	case o == TooLarge:
		return fasthttp.StatusBadGateway
	case o == TimedOut, pastDeadline:
		return fasthttp.StatusGatewayTimeout
	case o == Busy:
		return fasthttp.StatusServiceUnavailable
	default:
		return fasthttp.StatusBadGateway
	}
}
