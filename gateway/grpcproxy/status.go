package grpcproxy

import (
	"net/http"
	"strconv"

	"github.com/modelgate/modelgate/tenants"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The proxy's own refusals: fixed messages that name no model, tenant or
// key (NOT_FOUND is the same for a model that exists nowhere and for one
// of another tenant).
var (
	errUnauthenticated = status.Error(codes.Unauthenticated, "missing or unknown API key (authorization: Bearer KEY or x-api-key metadata)")
	errModelNotFound   = status.Error(codes.NotFound, "model not found")
	errVersionNotFound = status.Error(codes.NotFound, "model version not found")
	errNoModel         = status.Error(codes.InvalidArgument, "request names no model")
	errMalformedMsg    = status.Error(codes.InvalidArgument, "malformed request message")
	errNoGRPCEndpoint  = status.Error(codes.Unavailable, "the chosen model version has no grpc_endpoints: it is not reachable over gRPC")
	errEndpointGone    = status.Error(codes.Unavailable, "the model version's endpoint was removed by a reload; retry")
	errUpstream        = status.Error(codes.Unavailable, "model container unavailable")
	errNoAvailable     = status.Error(codes.Unavailable, "no available endpoint of the model version (health checks failing or circuit breakers open)")
	errTimeout         = status.Error(codes.DeadlineExceeded, "model timeout exceeded")
	errRateLimited     = status.Error(codes.ResourceExhausted, "rate limit exceeded; retry after the retry-after metadata's seconds")
	errConcurrency     = status.Error(codes.ResourceExhausted, "too many calls in flight; retry after the retry-after metadata's seconds")
)

// MetadataRetryAfter is the trailer metadata of a call refused by
// admission control (RESOURCE_EXHAUSTED): whole seconds to wait before
// retrying, as REST's Retry-After (at least 1).
const MetadataRetryAfter = "retry-after"

// refused ends a call admission control refused: RESOURCE_EXHAUSTED with
// the wait in the retry-after trailer.
func refused(stream grpc.ServerStream, d tenants.Decision) error {
	stream.SetTrailer(metadata.Pairs(MetadataRetryAfter, strconv.FormatInt(d.RetryAfterSeconds(), 10)))
	if d.Outcome == tenants.RateLimited {
		return errRateLimited
	}
	return errConcurrency
}

// httpStatus maps a gRPC code to the HTTP status the request metrics count
// it as (the code label of modelgate_requests_total, shared with REST), as
// grpc-gateway maps them: OK 200, INVALID_ARGUMENT, FAILED_PRECONDITION
// and OUT_OF_RANGE 400, UNAUTHENTICATED 401, PERMISSION_DENIED 403,
// NOT_FOUND 404, ABORTED and ALREADY_EXISTS 409, RESOURCE_EXHAUSTED 429,
// CANCELED 499, UNIMPLEMENTED 501, UNAVAILABLE 503, DEADLINE_EXCEEDED 504,
// everything else 500.
func httpStatus(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.NotFound:
		return http.StatusNotFound
	case codes.Aborted, codes.AlreadyExists:
		return http.StatusConflict
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Canceled:
		return 499
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}
