package grpcproxy

import (
	"errors"

	"google.golang.org/grpc/codes"
)

// Everything in this file is pure: what an upstream call's gRPC code
// means for the endpoint's breaker, for retries and for fallback, tested
// without a server (the gRPC counterpart of upstream/outcome.go).

// Breaker verdicts other than success (nil), as Guard's attempt returns
// them.
var (
	errFailure  = errors.New("upstream failure")
	errExcluded = errors.New("not the endpoint's fault")
)

// verdict is what an upstream call that ended with code c (OK included)
// counts as for its endpoint's breaker:
//   - errExcluded when the client went away or its own deadline passed
//     (clientDone), and for CANCELED: nobody's fault;
//   - errFailure for UNAVAILABLE (connection refused or reset, or the
//     container saying so), DEADLINE_EXCEEDED (the model's timeout),
//     INTERNAL, UNKNOWN and DATA_LOSS: the container's health;
//   - nil (success) for OK and every other code, which speak of the call
//     (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, OUT_OF_RANGE,
//     UNAUTHENTICATED, PERMISSION_DENIED, ALREADY_EXISTS, ABORTED,
//     RESOURCE_EXHAUSTED, UNIMPLEMENTED): a tenant's bad calls must not
//     open the breaker.
func verdict(c codes.Code, clientDone bool) error {
	if clientDone {
		return errExcluded
	}
	switch c {
	case codes.Canceled:
		return errExcluded
	case codes.Unavailable, codes.DeadlineExceeded, codes.Internal, codes.Unknown, codes.DataLoss:
		return errFailure
	}
	return nil
}

// retryable reports whether a call that ended with code c may be tried
// again on another endpoint of the version: only UNAVAILABLE (the
// container was not reached, or refused the call before serving it). The
// proxy relays nothing of an attempt before it ends, so no response
// message has reached the client when it retries.
func retryable(c codes.Code) bool { return c == codes.Unavailable }

// fallsBack reports whether a version whose last attempt ended with code c
// could not serve the call, so the model's fallback version may: only
// UNAVAILABLE (every endpoint tried failed so, or none was available). An
// answer the container gave (any other code) is relayed.
func fallsBack(c codes.Code) bool { return c == codes.Unavailable }
