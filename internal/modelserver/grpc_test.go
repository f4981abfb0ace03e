package modelserver

import (
	"context"
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/await"
	"github.com/modelgate/modelgate/oip/inferencepb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	grpcmd "google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// startGRPC runs a loopback server with its gRPC side and returns a client
// of it.
func startGRPC(t *testing.T, opts Options) (*Running, inferencepb.GRPCInferenceServiceClient) {
	t.Helper()
	opts.GRPC = true
	rs := start(t, opts)
	if rs.GRPCAddr == "" {
		t.Fatal("Start with GRPC: no GRPCAddr")
	}
	cc, err := grpc.NewClient(rs.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return rs, inferencepb.NewGRPCInferenceServiceClient(cc)
}

func fp64Bytes(v ...float64) []byte {
	var b []byte
	for _, f := range v {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
	}
	return b
}

func fp32Bytes(v ...float32) []byte {
	var b []byte
	for _, f := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(f))
	}
	return b
}

// outputs returns the probability and scores of an answer, from typed or
// raw contents, and whether they were raw.
func outputs(t *testing.T, resp *inferencepb.ModelInferResponse) (probs, scores []float64, raw bool) {
	t.Helper()
	if len(resp.Outputs) != 2 || resp.Outputs[0].Name != "probability" || resp.Outputs[1].Name != "scores" {
		t.Fatalf("got outputs %v, want probability and scores", resp.Outputs)
	}
	if rc := resp.RawOutputContents; len(rc) > 0 {
		if len(rc) != 2 || resp.Outputs[0].Contents != nil {
			t.Fatalf("got %d raw outputs and contents %v, want 2 and none", len(rc), resp.Outputs[0].Contents)
		}
		p, _ := decodeRaw("FP64", rc[0])
		s, _ := decodeRaw("FP64", rc[1])
		return p, s, true
	}
	return resp.Outputs[0].Contents.GetFp64Contents(), resp.Outputs[1].Contents.GetFp64Contents(), false
}

func TestGRPCInfer(t *testing.T) {
	m := testModel()
	rowA, rowB := []float64{1, 2, 3, 4}, []float64{-1, 0.5, 0, 2}
	wantA, _ := m.Predict(rowA)
	wantB, _ := m.Predict(rowB)
	rawParam := func(v bool) map[string]*inferencepb.InferParameter {
		return map[string]*inferencepb.InferParameter{RawOutputParameter: {ParameterChoice: &inferencepb.InferParameter_BoolParam{BoolParam: v}}}
	}
	tests := []struct {
		desc      string
		rawOption bool
		req       *inferencepb.ModelInferRequest
		want      []float64
		wantRaw   bool
	}{
		{desc: "FP64 contents", req: &inferencepb.ModelInferRequest{Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{
			{Name: "input", Datatype: "FP64", Shape: []int64{2, 4}, Contents: &inferencepb.InferTensorContents{Fp64Contents: append(slices.Clone(rowA), rowB...)}}}},
			want: []float64{wantA, wantB}},
		{desc: "FP32 contents, one row", req: &inferencepb.ModelInferRequest{Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{
			{Name: "input", Datatype: "FP32", Shape: []int64{4}, Contents: &inferencepb.InferTensorContents{Fp32Contents: []float32{1, 2, 3, 4}}}}},
			want: []float64{wantA}},
		{desc: "FP64 raw", req: &inferencepb.ModelInferRequest{Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{
			{Name: "input", Datatype: "FP64", Shape: []int64{2, 4}}}, RawInputContents: [][]byte{fp64Bytes(append(slices.Clone(rowA), rowB...)...)}},
			want: []float64{wantA, wantB}},
		{desc: "FP32 raw", req: &inferencepb.ModelInferRequest{Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{
			{Name: "input", Datatype: "FP32", Shape: []int64{1, 4}}}, RawInputContents: [][]byte{fp32Bytes(1, 2, 3, 4)}},
			want: []float64{wantA}},
		{desc: "raw output by option", rawOption: true, req: &inferencepb.ModelInferRequest{Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{
			{Name: "input", Datatype: "FP64", Shape: []int64{1, 4}, Contents: &inferencepb.InferTensorContents{Fp64Contents: rowA}}}},
			want: []float64{wantA}, wantRaw: true},
		{desc: "raw output by parameter", req: &inferencepb.ModelInferRequest{Parameters: rawParam(true), Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{
			{Name: "input", Datatype: "FP64", Shape: []int64{1, 4}, Contents: &inferencepb.InferTensorContents{Fp64Contents: rowA}}}},
			want: []float64{wantA}, wantRaw: true},
		{desc: "parameter false wins over the option", rawOption: true, req: &inferencepb.ModelInferRequest{Parameters: rawParam(false), Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{
			{Name: "input", Datatype: "FP64", Shape: []int64{1, 4}, Contents: &inferencepb.InferTensorContents{Fp64Contents: rowA}}}},
			want: []float64{wantA}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			_, c := startGRPC(t, Options{RawOutput: tc.rawOption})
			tc.req.ModelName, tc.req.Id = "fraud", "req-1"
			var hdr grpcmd.MD
			resp, err := c.ModelInfer(t.Context(), tc.req, grpc.Header(&hdr))
			if err != nil {
				t.Fatalf("ModelInfer: %v", err)
			}
			if resp.ModelName != "fraud" || resp.ModelVersion != "v1" || resp.Id != "req-1" {
				t.Errorf("got model %q version %q id %q, want fraud v1 req-1", resp.ModelName, resp.ModelVersion, resp.Id)
			}
			if got := hdr.Get("x-model-version"); !slices.Equal(got, []string{"v1"}) {
				t.Errorf("got x-model-version %v, want [v1]", got)
			}
			probs, scores, raw := outputs(t, resp)
			if raw != tc.wantRaw {
				t.Errorf("got raw output %v, want %v", raw, tc.wantRaw)
			}
			if len(probs) != len(tc.want) || len(scores) != 2*len(tc.want) {
				t.Fatalf("got %d probabilities, %d scores; want %d, %d", len(probs), len(scores), len(tc.want), 2*len(tc.want))
			}
			for i, w := range tc.want {
				if math.Abs(probs[i]-w) > 1e-6 || math.Abs(scores[2*i+1]-w) > 1e-6 || math.Abs(scores[2*i]-(1-w)) > 1e-6 {
					t.Errorf("row %d: got p=%v scores=%v, want p=%v", i, probs[i], scores[2*i:2*i+2], w)
				}
			}
		})
	}
}

func TestGRPCInferErrors(t *testing.T) {
	_, c := startGRPC(t, Options{})
	in := func(dt string, shape []int64, contents *inferencepb.InferTensorContents) []*inferencepb.ModelInferRequest_InferInputTensor {
		return []*inferencepb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: dt, Shape: shape, Contents: contents}}
	}
	tests := []struct {
		desc string
		req  *inferencepb.ModelInferRequest
		want codes.Code
	}{
		{"unknown model", &inferencepb.ModelInferRequest{ModelName: "churn"}, codes.NotFound},
		{"unknown version", &inferencepb.ModelInferRequest{ModelName: "fraud", ModelVersion: "v9"}, codes.NotFound},
		{"no inputs", &inferencepb.ModelInferRequest{ModelName: "fraud"}, codes.InvalidArgument},
		{"INT64 input", &inferencepb.ModelInferRequest{ModelName: "fraud", Inputs: in("INT64", []int64{1, 4}, nil)}, codes.InvalidArgument},
		{"too few values", &inferencepb.ModelInferRequest{ModelName: "fraud", Inputs: in("FP64", []int64{1, 4}, &inferencepb.InferTensorContents{Fp64Contents: []float64{1}})}, codes.InvalidArgument},
		{"raw of a wrong length", &inferencepb.ModelInferRequest{ModelName: "fraud", Inputs: in("FP64", []int64{1, 4}, nil), RawInputContents: [][]byte{fp64Bytes(1, 2, 3)}}, codes.InvalidArgument},
		{"raw not a multiple of the size", &inferencepb.ModelInferRequest{ModelName: "fraud", Inputs: in("FP64", []int64{1, 4}, nil), RawInputContents: [][]byte{{1, 2, 3}}}, codes.InvalidArgument},
		{"raw and contents", &inferencepb.ModelInferRequest{ModelName: "fraud", Inputs: in("FP64", []int64{1, 4}, &inferencepb.InferTensorContents{}), RawInputContents: [][]byte{fp64Bytes(1, 2, 3, 4)}}, codes.InvalidArgument},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := c.ModelInfer(t.Context(), tc.req)
			if got := status.Code(err); got != tc.want {
				t.Errorf("got %v (%v), want %v", got, err, tc.want)
			}
		})
	}
}

func TestGRPCHealthAndMetadata(t *testing.T) {
	rs, c := startGRPC(t, Options{})
	ctx := t.Context()
	live, err := c.ServerLive(ctx, &inferencepb.ServerLiveRequest{})
	if err != nil || !live.Live {
		t.Errorf("ServerLive: got %v, %v; want live", live, err)
	}
	ready, err := c.ServerReady(ctx, &inferencepb.ServerReadyRequest{})
	if err != nil || !ready.Ready {
		t.Errorf("ServerReady: got %v, %v; want ready", ready, err)
	}
	mr, err := c.ModelReady(ctx, &inferencepb.ModelReadyRequest{Name: "fraud", Version: "v1"})
	if err != nil || !mr.Ready {
		t.Errorf("ModelReady: got %v, %v; want ready", mr, err)
	}
	if _, err := c.ModelReady(ctx, &inferencepb.ModelReadyRequest{Name: "churn"}); status.Code(err) != codes.NotFound {
		t.Errorf("ModelReady of another model: got %v, want NotFound", err)
	}
	rs.Server.SetReady(false)
	if ready, err := c.ServerReady(ctx, &inferencepb.ServerReadyRequest{}); err != nil || ready.Ready {
		t.Errorf("ServerReady after SetReady(false): got %v, %v; want not ready", ready, err)
	}
	if mr, err := c.ModelReady(ctx, &inferencepb.ModelReadyRequest{Name: "fraud"}); err != nil || mr.Ready {
		t.Errorf("ModelReady after SetReady(false): got %v, %v; want not ready", mr, err)
	}
	sm, err := c.ServerMetadata(ctx, &inferencepb.ServerMetadataRequest{})
	if err != nil || sm.Name != "modelserver" || sm.Version != "v1" {
		t.Errorf("ServerMetadata: got %v, %v", sm, err)
	}
	mm, err := c.ModelMetadata(ctx, &inferencepb.ModelMetadataRequest{Name: "fraud"})
	if err != nil {
		t.Fatalf("ModelMetadata: %v", err)
	}
	if mm.Name != "fraud" || !slices.Equal(mm.Versions, []string{"v1"}) || mm.Platform != Platform ||
		len(mm.Inputs) != 1 || !slices.Equal(mm.Inputs[0].Shape, []int64{-1, 4}) || len(mm.Outputs) != 2 || mm.Outputs[1].Name != "scores" {
		t.Errorf("ModelMetadata: got %v", mm)
	}
	if _, err := c.ModelMetadata(ctx, &inferencepb.ModelMetadataRequest{Name: "fraud", Version: "v2"}); status.Code(err) != codes.NotFound {
		t.Errorf("ModelMetadata of another version: got %v, want NotFound", err)
	}
}

func TestGRPCFaults(t *testing.T) {
	req := &inferencepb.ModelInferRequest{ModelName: "fraud", Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{
		{Name: "input", Datatype: "FP64", Shape: []int64{1, 4}, Contents: &inferencepb.InferTensorContents{Fp64Contents: []float64{1, 2, 3, 4}}}}}
	t.Run("delay", func(t *testing.T) {
		const delay = 150 * time.Millisecond
		_, c := startGRPC(t, Options{Delay: delay})
		began := time.Now()
		if _, err := c.ModelInfer(t.Context(), req); err != nil {
			t.Fatalf("ModelInfer: %v", err)
		}
		if el := time.Since(began); el < delay {
			t.Errorf("got the answer after %v, want at least %v", el, delay)
		}
	})
	t.Run("client cancels during the delay", func(t *testing.T) {
		rs, c := startGRPC(t, Options{Delay: time.Hour})
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		if _, err := c.ModelInfer(ctx, req); status.Code(err) != codes.DeadlineExceeded {
			t.Errorf("got %v, want DeadlineExceeded", err)
		}
		await.Until(t, 5*time.Second, "the server to see the cancellation", func() bool { return rs.Server.Canceled() == 1 })
	})
	for _, tc := range []struct {
		status int
		want   codes.Code
	}{{503, codes.Unavailable}, {429, codes.ResourceExhausted}, {500, codes.Internal}, {504, codes.DeadlineExceeded}, {400, codes.InvalidArgument}} {
		t.Run("fail status "+strconv.Itoa(tc.status), func(t *testing.T) {
			_, c := startGRPC(t, Options{FailStatus: tc.status})
			if _, err := c.ModelInfer(t.Context(), req); status.Code(err) != tc.want {
				t.Errorf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestGRPCRecorded(t *testing.T) {
	rs, c := startGRPC(t, Options{})
	ctx := grpcmd.AppendToOutgoingContext(t.Context(), "x-modelgate-tenant", "acme", "x-user-id", "u1")
	if _, err := c.ServerReady(ctx, &inferencepb.ServerReadyRequest{}); err != nil {
		t.Fatal(err)
	}
	probe := grpcmd.AppendToOutgoingContext(t.Context(), HealthProbeHeader, "1")
	if _, err := c.ServerReady(probe, &inferencepb.ServerReadyRequest{}); err != nil {
		t.Fatal(err)
	}
	reqs := rs.Server.Requests()
	if len(reqs) != 1 {
		t.Fatalf("got %d recorded requests, want 1 (the probe is not recorded)", len(reqs))
	}
	r := reqs[0]
	if r.Method != "GRPC" || r.Path != GRPCMethodPrefix+"ServerReady" {
		t.Errorf("got %s %s, want GRPC %sServerReady", r.Method, r.Path, GRPCMethodPrefix)
	}
	if r.Header.Get("X-Modelgate-Tenant") != "acme" || r.Header.Get("X-User-Id") != "u1" {
		t.Errorf("got header %v, want the call's metadata", r.Header)
	}
	if rs.Server.HealthProbes() != 1 {
		t.Errorf("got %d probes, want 1", rs.Server.HealthProbes())
	}
}
