package grpcproxy

import (
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/oip/inferencepb"
	"github.com/modelgate/modelgate/router/balance"
	"github.com/modelgate/modelgate/tenants"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Metadata keys the proxy reads and sets (gRPC metadata keys are lower
// case).
const (
	// MetadataVersion is set on every routed answer's header metadata: the
	// version that served, as REST's X-Modelgate-Version.
	MetadataVersion = "x-modelgate-version"
	mdTenant        = "x-modelgate-tenant"
	mdRequestID     = "x-request-id"
	mdAuthorization = "authorization"
	mdAPIKey        = "x-api-key"
	mdPrefix        = "x-modelgate-"
	maxRequestIDLen = 128
)

// serviceDesc registers inference.GRPCInferenceService with every method
// as a stream handler, so the handler receives the message itself (and
// can refuse one over server.max_body_bytes with INVALID_ARGUMENT).
// Clients call the methods as the unary RPCs they are: the wire is the
// same.
var serviceDesc = grpc.ServiceDesc{
	ServiceName: "inference.GRPCInferenceService",
	HandlerType: (*any)(nil),
	Streams: []grpc.StreamDesc{
		{StreamName: "ServerLive", Handler: handle(kindLive)},
		{StreamName: "ServerReady", Handler: handle(kindReady)},
		{StreamName: "ServerMetadata", Handler: handle(kindServerMeta)},
		{StreamName: "ModelReady", Handler: handle(kindRouted)},
		{StreamName: "ModelMetadata", Handler: handle(kindRouted)},
		{StreamName: "ModelInfer", Handler: handle(kindRouted)},
	},
	Metadata: "inference.proto",
}

type kind int

const (
	kindLive       kind = iota // answered here, no key needed (REST /v2/health/live)
	kindReady                  // answered here, no key needed: false while draining
	kindServerMeta             // answered here for a known key (REST GET /v2)
	kindRouted                 // the model's version's container answers
)

func handle(k kind) grpc.StreamHandler {
	return func(srv any, stream grpc.ServerStream) error {
		return srv.(*Proxy).serve(stream, k)
	}
}

// Local answers, marshaled once.
var (
	liveAnswer     = mustMarshal(&inferencepb.ServerLiveResponse{Live: true})
	readyAnswer    = mustMarshal(&inferencepb.ServerReadyResponse{Ready: true})
	notReadyAnswer = mustMarshal(&inferencepb.ServerReadyResponse{Ready: false})
)

func mustMarshal(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// serverMetadata is the ServerMetadata answer: the gateway's name and
// build version, as REST's GET /v2.
func serverMetadata() []byte {
	return mustMarshal(&inferencepb.ServerMetadataResponse{Name: "modelgate", Version: observability.Version, Extensions: []string{}})
}

var balancer balance.P2C

// serve answers one call.
func (p *Proxy) serve(stream grpc.ServerStream, k kind) error {
	start := time.Now()
	ctx := stream.Context()
	md, _ := metadata.FromIncomingContext(ctx)
	snap := p.snap.Load()
	// The key is in the headers, which arrive before the message: a call
	// without a valid one is refused before its message is read, so a
	// caller without a key never makes the gateway buffer a body.
	ti, authorized := snap.keys.Lookup(tenants.ExtractKey(first(md, mdAuthorization), first(md, mdAPIKey)))
	if !authorized && k != kindLive && k != kindReady {
		p.metrics.Rejected("", "", observability.ReasonUnauthorized)
		return errUnauthenticated
	}
	var in frame
	if err := stream.RecvMsg(&in); err != nil {
		return p.recvError(err)
	}
	if len(in.b) > p.maxMsg {
		p.metrics.Rejected("", "", observability.ReasonBodyTooLarge)
		return status.Errorf(codes.InvalidArgument, "request message larger than server.max_body_bytes (%d bytes)", p.maxMsg)
	}
	switch k {
	case kindLive:
		return stream.SendMsg(&frame{liveAnswer})
	case kindReady:
		if p.draining.Load() {
			return stream.SendMsg(&frame{notReadyAnswer})
		}
		return stream.SendMsg(&frame{readyAnswer})
	}
	tenant := snap.tenants[ti]
	if k == kindServerMeta {
		return stream.SendMsg(&frame{serverMetadata()})
	}
	name, pin, err := routingFields(in.b)
	switch {
	case err != nil:
		p.metrics.Rejected(tenant.name, "", observability.ReasonBadRequest)
		return errMalformedMsg
	case len(name) == 0:
		p.metrics.Rejected(tenant.name, "", observability.ReasonBadRequest)
		return errNoModel
	}
	model := tenant.models[string(name)]
	if model == nil {
		// The same answer as for a model that exists nowhere.
		p.metrics.Rejected(tenant.name, "", observability.ReasonNotFound)
		return errModelNotFound
	}
	if p.admit != nil {
		g, d := p.admit.Admit(tenant.name, model.name, start)
		if d.Outcome != tenants.Admitted {
			return refused(stream, d)
		}
		defer g.Release()
	}
	var vi int
	switch {
	case len(pin) > 0:
		var found bool
		if vi, found = model.split.Lookup(pin); !found {
			p.metrics.Rejected(tenant.name, model.name, observability.ReasonNotFound)
			return errVersionNotFound
		}
	case model.sticky != "":
		if key := first(md, model.sticky); len(key) > 0 {
			vi = model.split.PickSticky(key)
		} else {
			vi = model.split.Pick()
		}
	default:
		vi = model.split.Pick()
	}
	version := model.versions[vi]
	rid := requestID(string(first(md, mdRequestID)))

	version.series.InFlight.Inc()
	served, code, err := p.forward(ctx, stream, call{model: model, pinned: len(pin) > 0, rid: rid,
		md: upstreamMetadata(md, model.tenant, version.name, rid), body: in.b, start: start}, version)
	version.series.InFlight.Dec()
	served.series.Request(httpStatus(code))
	served.series.Duration.Observe(time.Since(start).Seconds())
	return err
}

// recvError is a failure to read the request message. grpc-go's RecvMsg
// has written the call's status already (RESOURCE_EXHAUSTED for a
// message over twice server.max_body_bytes), except for a call without
// a message.
func (p *Proxy) recvError(err error) error {
	if errors.Is(err, io.EOF) {
		return status.Error(codes.InvalidArgument, "no request message")
	}
	if status.Code(err) == codes.ResourceExhausted {
		p.metrics.Rejected("", "", observability.ReasonBodyTooLarge)
	}
	return err
}

// upstreamMetadata is the metadata a container receives: the client's,
// without credentials (authorization, x-api-key), without x-modelgate-*
// keys (which a client cannot spoof) and without grpc-go's reserved and
// pseudo keys, then the gateway's x-modelgate-tenant,
// x-modelgate-version and x-request-id (rid).
func upstreamMetadata(in metadata.MD, tenant, version, rid string) metadata.MD {
	out := make(metadata.MD, len(in)+3)
	for k, vs := range in {
		switch {
		case k == mdAuthorization, k == mdAPIKey, strings.HasPrefix(k, mdPrefix),
			strings.HasPrefix(k, ":"), strings.HasPrefix(k, "grpc-"),
			k == "content-type", k == "user-agent", k == "te", k == "connection", k == mdRequestID:
			continue
		}
		out[k] = vs
	}
	out[mdTenant] = []string{tenant}
	out[MetadataVersion] = []string{version}
	out[mdRequestID] = []string{rid}
	return out
}

// relay passes the container's header and trailer metadata to the
// client, except x-modelgate-* keys (the gateway's own) and grpc-go's
// reserved ones.
func relay(stream grpc.ServerStream, header, trailer metadata.MD) {
	if h := clean(header); len(h) > 0 {
		_ = stream.SetHeader(h)
	}
	if t := clean(trailer); len(t) > 0 {
		stream.SetTrailer(t)
	}
}

func clean(md metadata.MD) metadata.MD {
	var out metadata.MD
	for k, vs := range md {
		if strings.HasPrefix(k, mdPrefix) || strings.HasPrefix(k, ":") || strings.HasPrefix(k, "grpc-") || k == "content-type" {
			continue
		}
		if out == nil {
			out = metadata.MD{}
		}
		out[k] = vs
	}
	return out
}

// first returns the first value of key in md, as bytes.
func first(md metadata.MD, key string) []byte {
	if vs := md[key]; len(vs) > 0 {
		return []byte(vs[0])
	}
	return nil
}

// requestID returns the client's request id if it is short and
// printable, else a new random 128-bit hex id.
func requestID(client string) string {
	if n := len(client); n > 0 && n <= maxRequestIDLen && printable(client) {
		return client
	}
	var raw [16]byte
	a, b := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		raw[i] = byte(a >> (8 * i))
		raw[8+i] = byte(b >> (8 * i))
	}
	return hex.EncodeToString(raw[:])
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}
