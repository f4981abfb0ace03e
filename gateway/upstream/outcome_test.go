package upstream

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// Pure decisions of the resilience layer, tested without a network.

func TestClassify(t *testing.T) {
	dial := func(err error) error { return fmt.Errorf("wrapped: %w", &net.OpError{Op: "read", Err: err}) }
	tests := []struct {
		desc      string
		err       error
		status    int
		want      Outcome
		retry     bool // without on_timeout
		failsBrkr bool
		serverErr bool // ErrServerError: counted by breaker.server_errors
	}{
		{desc: "200", status: 200, want: Answered},
		{desc: "model's 400", status: 400, want: Answered},
		{desc: "model's 500", status: 500, want: Answered, serverErr: true},
		{desc: "model's 503", status: 503, want: Unavailable, retry: true, serverErr: true},
		{desc: "501 not implemented", status: 501, want: Answered},
		{desc: "505 version not supported", status: 505, want: Answered},
		{desc: "model's 502", status: 502, want: Answered, failsBrkr: true},
		{desc: "model's 504", status: 504, want: Answered, failsBrkr: true},
		{desc: "507", status: 507, want: Answered, failsBrkr: true},
		{desc: "connection refused", err: dial(syscall.ECONNREFUSED), want: ConnFailed, retry: true, failsBrkr: true},
		{desc: "connection reset", err: dial(syscall.ECONNRESET), want: ConnFailed, retry: true, failsBrkr: true},
		{desc: "closed before answering", err: fasthttp.ErrConnectionClosed, want: ConnFailed, retry: true, failsBrkr: true},
		{desc: "EOF", err: io.EOF, want: ConnFailed, retry: true, failsBrkr: true},
		{desc: "connect timeout", err: fmt.Errorf("dial: %w", fasthttp.ErrDialTimeout), want: ConnFailed, retry: true, failsBrkr: true},
		{desc: "response timeout", err: fasthttp.ErrTimeout, want: TimedOut, failsBrkr: true},
		{desc: "net timeout", err: dial(os.ErrDeadlineExceeded), want: TimedOut, failsBrkr: true},
		{desc: "pool exhausted", err: fasthttp.ErrNoFreeConns, want: Busy, retry: true},
		{desc: "malformed answer", err: errors.New("error when reading response headers: cannot find whitespace"), want: Failed, failsBrkr: true},
		{desc: "answer too large", err: fasthttp.ErrBodyTooLarge, want: TooLarge},
		{desc: "body cut short", err: io.ErrUnexpectedEOF, want: Failed, failsBrkr: true},
		{desc: "chunk cut short", err: fasthttp.ErrBrokenChunk{}, want: Failed, failsBrkr: true},
		{desc: "101", status: 101, want: Failed, failsBrkr: true},
		{desc: "status below 100", status: 42, want: Failed, failsBrkr: true},
		{desc: "connection check", err: causeStale, want: ConnFailed, retry: true, failsBrkr: true},
		{desc: "bare LF, wrapped", err: fmt.Errorf("error when reading response headers: %w", causeMalformed), want: Failed, failsBrkr: true},
		{desc: "untrusted certificate", err: causeTLSUntrusted, want: ConnFailed, retry: true, failsBrkr: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got := Classify(tt.err, tt.status)
			if got != tt.want {
				t.Fatalf("classify: got %d, want %d", got, tt.want)
			}
			if r := got.Retryable(false); r != tt.retry {
				t.Errorf("retryable: got %v, want %v", r, tt.retry)
			}
			v := got.Verdict(tt.status)
			if (v == ErrFailure) != tt.failsBrkr || (v == ErrServerError) != tt.serverErr {
				t.Errorf("breaker verdict: got %v, want failure %v, server error %v", v, tt.failsBrkr, tt.serverErr)
			}
		})
	}
	if !TimedOut.Retryable(true) {
		t.Errorf("timeouts: want retryable with on_timeout")
	}
}

func TestCorroborated(t *testing.T) {
	const a, b = 11, 22
	w := 10 * time.Second
	tests := []struct {
		desc       string
		prev       uint64
		prevAt, at int64
		caller     uint64
		want       bool
	}{
		{desc: "first server error", prev: 0, at: 5, caller: a},
		{desc: "same caller again", prev: a, prevAt: 1, at: 2, caller: a},
		{desc: "another caller within the window", prev: a, prevAt: 1, at: 2, caller: b, want: true},
		{desc: "another caller at the window's edge", prev: a, prevAt: 1, at: 1 + int64(w), caller: b, want: true},
		{desc: "another caller after the window", prev: a, prevAt: 1, at: 2 + int64(w), caller: b},
	}
	for _, tt := range tests {
		if got := Corroborated(tt.prev, tt.prevAt, tt.caller, tt.at, w); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.desc, got, tt.want)
		}
	}
}

// TestCauseOf: an upstream error is logged as a fixed cause, whatever text
// the transport's error holds (fasthttp quotes the answer it could not
// parse).
func TestCauseOf(t *testing.T) {
	const marker = "MARKER-from-the-container"
	tests := []struct {
		err  error
		want *Error
	}{
		{fmt.Errorf("error when reading response headers: %s", marker), causeMalformed},
		{fmt.Errorf("cannot read %q: %w", marker, io.ErrUnexpectedEOF), causeCut},
		{fmt.Errorf("%s: %w", marker, fasthttp.ErrTimeout), causeTimeout},
		{fasthttp.ErrBodyTooLarge, causeTooLarge},
		{fasthttp.ErrNoFreeConns, causePoolBusy},
		{fasthttp.ErrConnectionClosed, causeClosed},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, causeRefused},
		{&net.OpError{Op: "read", Err: syscall.ECONNRESET}, causeReset},
		{&net.DNSError{Err: "no such host", Name: marker}, causeDNS},
		{fmt.Errorf("dial: %w", fasthttp.ErrDialTimeout), causeConnectTimeout},
		{fmt.Errorf("reading: %w", causeMalformed), causeMalformed},
	}
	for _, tt := range tests {
		got := causeOf(tt.err)
		if got != tt.want || strings.Contains(got.Error(), marker) {
			t.Errorf("causeOf(%v): got %q, want %q", tt.err, got, tt.want)
		}
	}
	if causeOf(nil) != nil {
		t.Error("causeOf(nil): want nil")
	}
}

// TestRetryOnFreshConn: fasthttp resends a request on another connection
// only when it cannot have reached the model.
func TestRetryOnFreshConn(t *testing.T) {
	tests := []struct {
		err      error
		attempts int
		want     bool
	}{
		{causeStale, 1, true}, {causeStale, 4, true},
		{io.EOF, 1, true}, {io.EOF, 2, false},
		{&net.OpError{Op: "write", Err: syscall.EPIPE}, 1, true},
		{&net.OpError{Op: "read", Err: syscall.ECONNRESET}, 1, true},
		{fmt.Errorf("error when reading response headers: %w", causeMalformed), 1, false},
		{errors.New("error when reading response headers: malformed"), 1, false},
		{fasthttp.ErrBodyTooLarge, 1, false},
		{fasthttp.ErrTimeout, 1, false},
	}
	for _, tt := range tests {
		if _, got := retryOnFreshConn(nil, tt.attempts, tt.err); got != tt.want {
			t.Errorf("retryOnFreshConn(attempt %d, %v): got %v, want %v", tt.attempts, tt.err, got, tt.want)
		}
	}
}

// TestOutcomeStatus: what the client sees when no answer is relayed.
func TestOutcomeStatus(t *testing.T) {
	tests := []struct {
		o            Outcome
		pastDeadline bool
		want         int
	}{
		{NoEndpoint, false, 503}, {NoEndpoint, true, 503},
		{Busy, false, 503}, {Busy, true, 504},
		{TimedOut, false, 504}, {ConnFailed, true, 504}, {Failed, true, 504},
		{ConnFailed, false, 502}, {Failed, false, 502}, {Unavailable, false, 502},
		{TooLarge, false, 502}, {TooLarge, true, 502},
	}
	for _, tt := range tests {
		if got := tt.o.Status(tt.pastDeadline); got != tt.want {
			t.Errorf("Outcome(%d).Status(%v): got %d, want %d", tt.o, tt.pastDeadline, got, tt.want)
		}
	}
}
