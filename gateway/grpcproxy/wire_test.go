package grpcproxy

import (
	"testing"

	"github.com/modelgate/modelgate/oip/inferencepb"
	"google.golang.org/protobuf/proto"
)

func TestRoutingFields(t *testing.T) {
	infer := &inferencepb.ModelInferRequest{ModelName: "fraud", ModelVersion: "v2", Id: "r1",
		RawInputContents: [][]byte{{1, 2, 3}}, Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{{Name: "input", Shape: []int64{1, 3}}}}
	tests := []struct {
		desc               string
		msg                proto.Message
		wantModel, wantPin string
	}{
		{"ModelInferRequest", infer, "fraud", "v2"},
		{"ModelReadyRequest", &inferencepb.ModelReadyRequest{Name: "churn"}, "churn", ""},
		{"ModelMetadataRequest", &inferencepb.ModelMetadataRequest{Name: "churn", Version: "1"}, "churn", "1"},
		{"empty", &inferencepb.ModelInferRequest{}, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			model, pin, err := routingFields(mustMarshal(tc.msg))
			if err != nil || string(model) != tc.wantModel || string(pin) != tc.wantPin {
				t.Errorf("got %q, %q, %v; want %q, %q", model, pin, err, tc.wantModel, tc.wantPin)
			}
		})
	}
	for _, bad := range [][]byte{{0x0a, 0x05, 'f'}, {0xff}, {0x0a}} {
		if _, _, err := routingFields(bad); err == nil {
			t.Errorf("routingFields(%x): got no error, want errMalformed", bad)
		}
	}
}

func TestWithVersion(t *testing.T) {
	base := &inferencepb.ModelInferRequest{ModelName: "fraud", Id: "r1", RawInputContents: [][]byte{{1, 2, 3}},
		Parameters: map[string]*inferencepb.InferParameter{"p": {ParameterChoice: &inferencepb.InferParameter_Int64Param{Int64Param: 7}}}}
	for _, tc := range []struct{ desc, pin, container string }{
		{"unpinned, no container version", "", ""},
		{"pinned to a version without a container version", "v2", ""},
		{"unpinned, container version", "", "1"},
		{"pinned, container version", "v2", "1"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			in := proto.Clone(base).(*inferencepb.ModelInferRequest)
			in.ModelVersion = tc.pin
			b := mustMarshal(in)
			out := withVersion(b, tc.container)
			if tc.pin == "" && tc.container == "" && &out[0] != &b[0] {
				t.Error("got a copy, want the original bytes")
			}
			var got inferencepb.ModelInferRequest
			if err := proto.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			want := proto.Clone(base).(*inferencepb.ModelInferRequest)
			want.ModelVersion = tc.container
			if !proto.Equal(&got, want) {
				t.Errorf("got %v, want %v", &got, want)
			}
		})
	}
}
