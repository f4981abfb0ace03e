package modelserver

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/modelgate/modelgate/oip/inferencepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpcmd "google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// RawOutputParameter is the ModelInfer request parameter (a bool) that
// chooses the answer's encoding for that request: true answers with
// raw_output_contents (little-endian FP64), false with typed contents
// (fp64_contents). Without it, [Options.RawOutput] decides.
const RawOutputParameter = "raw_output"

// GRPCMethodPrefix is the full-method prefix of the OIP gRPC service; a
// recorded gRPC call has Method "GRPC" and Path prefix + the method name,
// e.g. "/inference.GRPCInferenceService/ModelInfer".
const GRPCMethodPrefix = "/" + "inference.GRPCInferenceService" + "/"

// RegisterGRPC registers s as the OIP gRPC service
// (inference.GRPCInferenceService) of g: the same model, readiness, fault
// injection (delay; FailStatus and SetFailRatio answer the gRPC code
// [CodeOf] the status maps to) and recording as the HTTP side. Every call
// is recorded (Method "GRPC", Path the full method, Header the request
// metadata with canonical keys, Body the request message's bytes), and
// answers carry the header metadata "x-model-version". ModelInfer takes
// one FP64 or FP32 input as typed contents or as raw_input_contents
// (little-endian) and answers FP64 "probability" [B,1] and "scores" [B,2].
func (s *Server) RegisterGRPC(g *grpc.Server) {
	inferencepb.RegisterGRPCInferenceServiceServer(g, grpcService{s: s})
}

type grpcService struct {
	inferencepb.UnimplementedGRPCInferenceServiceServer
	s *Server
}

// begin records one call and sets the answer's header metadata.
func (g grpcService) begin(ctx context.Context, method string, req proto.Message) {
	md, _ := grpcmd.FromIncomingContext(ctx)
	h := http.Header{}
	for k, vs := range md {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	body, _ := proto.Marshal(req)
	if h.Get(HealthProbeHeader) != "" {
		g.s.probes.Add(1)
	} else {
		g.s.record(&http.Request{Method: "GRPC", URL: nil, Header: h}, body, GRPCMethodPrefix+method)
	}
	_ = grpc.SetHeader(ctx, grpcmd.Pairs("x-model-version", g.s.model.Version))
}

func (g grpcService) ServerLive(ctx context.Context, req *inferencepb.ServerLiveRequest) (*inferencepb.ServerLiveResponse, error) {
	g.begin(ctx, "ServerLive", req)
	return &inferencepb.ServerLiveResponse{Live: true}, nil
}

func (g grpcService) ServerReady(ctx context.Context, req *inferencepb.ServerReadyRequest) (*inferencepb.ServerReadyResponse, error) {
	g.begin(ctx, "ServerReady", req)
	return &inferencepb.ServerReadyResponse{Ready: !g.s.notReady.Load()}, nil
}

func (g grpcService) ServerMetadata(ctx context.Context, req *inferencepb.ServerMetadataRequest) (*inferencepb.ServerMetadataResponse, error) {
	g.begin(ctx, "ServerMetadata", req)
	return &inferencepb.ServerMetadataResponse{Name: "modelserver", Version: g.s.model.Version, Extensions: []string{}}, nil
}

func (g grpcService) ModelReady(ctx context.Context, req *inferencepb.ModelReadyRequest) (*inferencepb.ModelReadyResponse, error) {
	g.begin(ctx, "ModelReady", req)
	if err := g.s.grpcModel(req.GetName(), req.GetVersion()); err != nil {
		return nil, err
	}
	return &inferencepb.ModelReadyResponse{Ready: !g.s.notReady.Load()}, nil
}

func (g grpcService) ModelMetadata(ctx context.Context, req *inferencepb.ModelMetadataRequest) (*inferencepb.ModelMetadataResponse, error) {
	g.begin(ctx, "ModelMetadata", req)
	if err := g.s.grpcModel(req.GetName(), req.GetVersion()); err != nil {
		return nil, err
	}
	m := g.s.metadata()
	resp := &inferencepb.ModelMetadataResponse{Name: m.Name, Versions: m.Versions, Platform: m.Platform}
	for _, t := range m.Inputs {
		resp.Inputs = append(resp.Inputs, &inferencepb.ModelMetadataResponse_TensorMetadata{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape})
	}
	for _, t := range m.Outputs {
		resp.Outputs = append(resp.Outputs, &inferencepb.ModelMetadataResponse_TensorMetadata{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape})
	}
	return resp, nil
}

func (g grpcService) ModelInfer(ctx context.Context, req *inferencepb.ModelInferRequest) (*inferencepb.ModelInferResponse, error) {
	g.begin(ctx, "ModelInfer", req)
	s := g.s
	if err := s.grpcModel(req.GetModelName(), req.GetModelVersion()); err != nil {
		return nil, err
	}
	if err := s.grpcFaults(ctx); err != nil {
		return nil, err
	}
	rows, err := s.grpcRows(req)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	probs, err := s.predictRows(rows)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	b := int64(len(probs))
	scores := make([]float64, 0, 2*len(probs))
	for _, p := range probs {
		scores = append(scores, 1-p, p)
	}
	probShape, scoreShape := []int64{b, 1}, []int64{b, 2}
	if s.flatShapes {
		probShape, scoreShape = []int64{b}, []int64{2 * b}
	}
	resp := &inferencepb.ModelInferResponse{
		ModelName:    s.model.Name,
		ModelVersion: s.model.Version,
		Id:           req.GetId(),
		Outputs: []*inferencepb.ModelInferResponse_InferOutputTensor{
			{Name: "probability", Datatype: "FP64", Shape: probShape},
			{Name: "scores", Datatype: "FP64", Shape: scoreShape},
		},
	}
	raw := s.rawOutput
	if p, ok := req.GetParameters()[RawOutputParameter]; ok {
		raw = p.GetBoolParam()
	}
	if raw {
		resp.RawOutputContents = [][]byte{encodeFP64(probs), encodeFP64(scores)}
	} else {
		resp.Outputs[0].Contents = &inferencepb.InferTensorContents{Fp64Contents: probs}
		resp.Outputs[1].Contents = &inferencepb.InferTensorContents{Fp64Contents: scores}
	}
	return resp, nil
}

// grpcModel checks a call's model name and version (empty: any) against
// the served model, as resolve does for paths: NOT_FOUND otherwise.
func (s *Server) grpcModel(name, version string) error {
	if name != s.model.Name {
		return status.Errorf(codes.NotFound, "model %s not found", quote(name))
	}
	if version != "" && version != s.model.Version {
		return status.Errorf(codes.NotFound, "model %s version %s not found", quote(name), quote(version))
	}
	return nil
}

// grpcFaults applies the injected delay and failures to a ModelInfer call,
// as injectFaults does to infer/predict requests; a client that goes away
// during the delay is counted by Canceled.
func (s *Server) grpcFaults(ctx context.Context) error {
	if d := time.Duration(s.delay.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			s.canceled.Add(1)
			return status.FromContextError(ctx.Err()).Err()
		}
	}
	if st := int(s.failStatus.Load()); st != 0 {
		return status.Errorf(CodeOf(st), "injected failure (status %d)", st)
	}
	if st, fail := s.failShare(); fail {
		return status.Errorf(CodeOf(st), "injected failure (status %d, a share of requests)", st)
	}
	return nil
}

// CodeOf is the gRPC code an injected HTTP failure status answers with
// over gRPC: 400 InvalidArgument, 401 Unauthenticated, 403
// PermissionDenied, 404 NotFound, 429 ResourceExhausted, 501
// Unimplemented, 503 Unavailable, 504 DeadlineExceeded, other 4xx
// FailedPrecondition, other 5xx Internal.
func CodeOf(httpStatus int) codes.Code {
	switch httpStatus {
	case http.StatusBadRequest:
		return codes.InvalidArgument
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusNotFound:
		return codes.NotFound
	case http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case http.StatusNotImplemented:
		return codes.Unimplemented
	case http.StatusServiceUnavailable:
		return codes.Unavailable
	case http.StatusGatewayTimeout:
		return codes.DeadlineExceeded
	}
	if httpStatus < 500 {
		return codes.FailedPrecondition
	}
	return codes.Internal
}

// grpcRows returns the rows of a ModelInfer request's one input: from its
// typed contents (fp64_contents or fp32_contents, by datatype) or from
// raw_input_contents[0] (little-endian float64 or float32).
func (s *Server) grpcRows(req *inferencepb.ModelInferRequest) ([][]float64, error) {
	inputs := req.GetInputs()
	switch {
	case len(inputs) == 0:
		return nil, fmt.Errorf(`request has no inputs; want one tensor named "input"`)
	case len(inputs) > 1:
		return nil, fmt.Errorf("request has %d inputs; want exactly 1", len(inputs))
	}
	in := inputs[0]
	batch, n, err := s.inputShape(in.GetDatatype(), in.GetShape())
	if err != nil {
		return nil, err
	}
	var flat []float64
	raw := req.GetRawInputContents()
	switch {
	case len(raw) > 0 && in.GetContents() != nil:
		return nil, fmt.Errorf("input has contents and raw_input_contents; want one")
	case len(raw) > 1:
		return nil, fmt.Errorf("raw_input_contents has %d entries; want 1 (one per input)", len(raw))
	case len(raw) == 1:
		if flat, err = decodeRaw(in.GetDatatype(), raw[0]); err != nil {
			return nil, err
		}
	case in.GetDatatype() == "FP64":
		flat = in.GetContents().GetFp64Contents()
	default:
		for _, f := range in.GetContents().GetFp32Contents() {
			flat = append(flat, float64(f))
		}
	}
	return splitRows(flat, batch, n, in.GetShape())
}

// decodeRaw decodes little-endian FP64 or FP32 elements.
func decodeRaw(datatype string, b []byte) ([]float64, error) {
	size := 8
	if datatype == "FP32" {
		size = 4
	}
	if len(b)%size != 0 {
		return nil, fmt.Errorf("raw_input_contents has %d bytes, not a multiple of %d (%s)", len(b), size, datatype)
	}
	out := make([]float64, 0, len(b)/size)
	for i := 0; i < len(b); i += size {
		if size == 8 {
			out = append(out, math.Float64frombits(binary.LittleEndian.Uint64(b[i:])))
		} else {
			out = append(out, float64(math.Float32frombits(binary.LittleEndian.Uint32(b[i:]))))
		}
	}
	return out, nil
}

// encodeFP64 is v as little-endian float64 bytes (raw tensor contents).
func encodeFP64(v []float64) []byte {
	b := make([]byte, 0, 8*len(v))
	for _, f := range v {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
	}
	return b
}
