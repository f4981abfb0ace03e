package modelserver

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// inferBody builds an OIP request with one input tensor.
func inferBody(datatype, shape, data string) string {
	return `{"inputs":[{"name":"input","shape":` + shape + `,"datatype":"` + datatype + `","data":` + data + `}]}`
}

func floatsNear(got, want []float64) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol {
			return false
		}
	}
	return true
}

func TestInfer(t *testing.T) {
	rs := start(t, Options{})
	tests := []struct {
		desc      string
		path      string
		body      string
		wantID    string
		wantProbs []float64
	}{
		{desc: "flat one row", body: inferBody("FP64", "[1,4]", "[1,2,3,4]"), wantProbs: []float64{probA}},
		{desc: "nested one row", body: inferBody("FP64", "[1,4]", "[[1,2,3,4]]"), wantProbs: []float64{probA}},
		{desc: "shape [N] is one row", body: inferBody("FP64", "[4]", "[0,0,0,0]"), wantProbs: []float64{probB}},
		{desc: "shape [N] nested", body: inferBody("FP64", "[4]", "[[0,0,0,0]]"), wantProbs: []float64{probB}},
		{desc: "batch of 2 flat", body: inferBody("FP64", "[2,4]", "[1,2,3,4,2,1,0.5,-3]"), wantProbs: []float64{probA, probC}},
		{desc: "batch of 2 nested", body: inferBody("FP64", "[2,4]", "[[1,2,3,4],[2,1,0.5,-3]]"), wantProbs: []float64{probA, probC}},
		{desc: "FP32 accepted", body: inferBody("FP32", "[1,4]", "[2,1,0.5,-3]"), wantProbs: []float64{probC}},
		{
			desc:      "id echoed",
			body:      `{"id":"abc-1","inputs":[{"name":"input","shape":[1,4],"datatype":"FP64","data":[1,2,3,4]}]}`,
			wantID:    "abc-1",
			wantProbs: []float64{probA},
		},
		{desc: "versioned path", path: "/v2/models/fraud/versions/v1/infer", body: inferBody("FP64", "[1,4]", "[1,2,3,4]"), wantProbs: []float64{probA}},
		{
			desc:      "unknown fields ignored",
			body:      `{"parameters":{"x":1},"outputs":[{"name":"scores"}],"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP64","data":[1,2,3,4],"parameters":{}}]}`,
			wantProbs: []float64{probA},
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = "/v2/models/fraud/infer"
			}
			got := do(t, "POST", rs.URL+path, tc.body, nil)
			if got.status != 200 {
				t.Fatalf("got status %d, want 200 (body %s)", got.status, got.body)
			}
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(got.body, &raw); err != nil {
				t.Fatalf("bad JSON %s: %v", got.body, err)
			}
			if _, ok := raw["id"]; ok != (tc.wantID != "") {
				t.Errorf("got id present=%v in %s, want %v", ok, got.body, tc.wantID != "")
			}
			var resp inferResponse
			if err := json.Unmarshal(got.body, &resp); err != nil {
				t.Fatalf("bad response %s: %v", got.body, err)
			}
			if resp.ModelName != "fraud" || resp.ModelVersion != "v1" || resp.ID != tc.wantID {
				t.Errorf("got model_name %q model_version %q id %q, want fraud v1 %q", resp.ModelName, resp.ModelVersion, resp.ID, tc.wantID)
			}
			if len(resp.Outputs) != 2 {
				t.Fatalf("got %d outputs, want 2: %s", len(resp.Outputs), got.body)
			}
			b := int64(len(tc.wantProbs))
			var wantScores []float64
			for _, p := range tc.wantProbs {
				wantScores = append(wantScores, 1-p, p)
			}
			for i, want := range []inferOutput{
				{Name: "probability", Datatype: "FP64", Shape: []int64{b, 1}, Data: tc.wantProbs},
				{Name: "scores", Datatype: "FP64", Shape: []int64{b, 2}, Data: wantScores},
			} {
				o := resp.Outputs[i]
				if o.Name != want.Name || o.Datatype != want.Datatype || len(o.Shape) != 2 || o.Shape[0] != want.Shape[0] || o.Shape[1] != want.Shape[1] || !floatsNear(o.Data, want.Data) {
					t.Errorf("got output %d %+v, want %+v", i, o, want)
				}
			}
		})
	}
}

func TestInferErrors(t *testing.T) {
	rs := start(t, Options{})
	tests := []struct {
		desc    string
		body    string
		wantErr string
	}{
		{desc: "malformed JSON", body: `{"inputs":`, wantErr: "malformed JSON"},
		{desc: "not an object", body: `[1,2]`, wantErr: "malformed JSON"},
		{desc: "trailing garbage", body: inferRowA + `x`, wantErr: "malformed JSON"},
		{desc: "empty body", body: ``, wantErr: "malformed JSON"},
		{desc: "missing inputs", body: `{"id":"1"}`, wantErr: "no inputs"},
		{desc: "empty inputs", body: `{"inputs":[]}`, wantErr: "no inputs"},
		{desc: "two inputs", body: `{"inputs":[{"name":"a","shape":[4],"datatype":"FP64","data":[1,2,3,4]},{"name":"b","shape":[4],"datatype":"FP64","data":[1,2,3,4]}]}`, wantErr: "2 inputs"},
		{desc: "unsupported datatype", body: inferBody("BYTES", "[1,4]", "[1,2,3,4]"), wantErr: `datatype "BYTES"`},
		{desc: "missing datatype", body: `{"inputs":[{"name":"input","shape":[1,4],"data":[1,2,3,4]}]}`, wantErr: "datatype"},
		{desc: "rank 3 shape", body: inferBody("FP64", "[1,1,4]", "[1,2,3,4]"), wantErr: "rank 3"},
		{desc: "missing shape", body: `{"inputs":[{"name":"input","datatype":"FP64","data":[1,2,3,4]}]}`, wantErr: "rank 0"},
		{desc: "zero batch", body: inferBody("FP64", "[0,4]", "[]"), wantErr: "positive batch"},
		{desc: "wrong feature count in shape", body: inferBody("FP64", "[1,3]", "[1,2,3]"), wantErr: "input has 3 features; model \"fraud\" expects 4"},
		{desc: "flat data too short", body: inferBody("FP64", "[2,4]", "[1,2,3,4]"), wantErr: "has 4 values; shape [2 4] needs 8"},
		{desc: "flat data too long", body: inferBody("FP64", "[1,4]", "[1,2,3,4,5]"), wantErr: "has 5 values; shape [1 4] needs 4"},
		{desc: "huge batch", body: inferBody("FP64", "[4611686018427387904,4]", "[1,2,3,4]"), wantErr: "too large"},
		{desc: "nested row count mismatch", body: inferBody("FP64", "[2,4]", "[[1,2,3,4]]"), wantErr: "has 1 rows; shape [2 4] needs 2"},
		{desc: "nested row too short", body: inferBody("FP64", "[2,4]", "[[1,2,3,4],[1,2,3]]"), wantErr: "row 1 has 3 values"},
		{desc: "nested too deep", body: inferBody("FP64", "[1,4]", "[[[1,2,3,4]]]"), wantErr: "at most 2 levels"},
		{desc: "mixed numbers and arrays", body: inferBody("FP64", "[1,4]", "[1,[2],3,4]"), wantErr: "mixing"},
		{desc: "string in data", body: inferBody("FP64", "[1,4]", `[1,"2",3,4]`), wantErr: "element 1 is a string"},
		{desc: "null in data", body: inferBody("FP64", "[1,4]", `[1,null,3,4]`), wantErr: "element 1 is null"},
		{desc: "null in nested data", body: inferBody("FP64", "[1,4]", `[[1,null,3,4]]`), wantErr: "element [0][1] is null"},
		{desc: "missing data", body: `{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP64"}]}`, wantErr: "input data: missing"},
		{desc: "null data", body: inferBody("FP64", "[1,4]", "null"), wantErr: "input data: missing"},
		{desc: "data not an array", body: inferBody("FP64", "[1,4]", `{"a":1}`), wantErr: "must be an array"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got := do(t, "POST", rs.URL+"/v2/models/fraud/infer", tc.body, nil)
			var e errorBody
			_ = json.Unmarshal(got.body, &e)
			if got.status != 400 || !strings.Contains(e.Error, tc.wantErr) {
				t.Errorf("got %d %s, want 400 with error containing %q", got.status, got.body, tc.wantErr)
			}
		})
	}
}

func TestPredictV1(t *testing.T) {
	rs := start(t, Options{})
	tests := []struct {
		desc      string
		path      string
		body      string
		wantProbs []float64
	}{
		{desc: "one instance", body: `{"instances":[[1,2,3,4]]}`, wantProbs: []float64{probA}},
		{desc: "batch of 3", body: `{"instances":[[1,2,3,4],[0,0,0,0],[2,1,0.5,-3]]}`, wantProbs: []float64{probA, probB, probC}},
		{desc: "inputs alias", body: `{"inputs":[[0,0,0,0]]}`, wantProbs: []float64{probB}},
		{desc: "signature_name ignored", body: `{"signature_name":"serving_default","instances":[[1,2,3,4]]}`, wantProbs: []float64{probA}},
		{desc: "versioned path", path: "/v1/models/fraud/versions/v1:predict", body: `{"instances":[[2,1,0.5,-3]]}`, wantProbs: []float64{probC}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			path := tc.path
			if path == "" {
				path = "/v1/models/fraud:predict"
			}
			got := do(t, "POST", rs.URL+path, tc.body, nil)
			if got.status != 200 {
				t.Fatalf("got status %d, want 200 (body %s)", got.status, got.body)
			}
			var resp struct{ Predictions [][]float64 }
			if err := json.Unmarshal(got.body, &resp); err != nil {
				t.Fatalf("bad response %s: %v", got.body, err)
			}
			if len(resp.Predictions) != len(tc.wantProbs) {
				t.Fatalf("got %d predictions, want %d: %s", len(resp.Predictions), len(tc.wantProbs), got.body)
			}
			for i, p := range tc.wantProbs {
				if want := []float64{1 - p, p}; !floatsNear(resp.Predictions[i], want) {
					t.Errorf("got prediction %d = %v, want %v", i, resp.Predictions[i], want)
				}
			}
		})
	}
}

func TestPredictV1Errors(t *testing.T) {
	rs := start(t, Options{})
	tests := []struct {
		desc    string
		body    string
		wantErr string
	}{
		{desc: "malformed JSON", body: `{"instances":[[1,2`, wantErr: "malformed JSON"},
		{desc: "missing instances", body: `{}`, wantErr: "instances: missing"},
		{desc: "null instances", body: `{"instances":null}`, wantErr: "instances: missing"},
		{desc: "empty instances", body: `{"instances":[]}`, wantErr: "instances must not be empty"},
		{desc: "flat instances", body: `{"instances":[1,2,3,4]}`, wantErr: "list of instances"},
		{desc: "both fields", body: `{"instances":[[1,2,3,4]],"inputs":[[1,2,3,4]]}`, wantErr: "both"},
		{desc: "wrong feature count", body: `{"instances":[[1,2,3,4],[1,2]]}`, wantErr: "instance 1 has 2 features; model \"fraud\" expects 4"},
		{desc: "wrong feature count via inputs", body: `{"inputs":[[1,2,3,4,5]]}`, wantErr: "instance 0 has 5 features"},
		{desc: "non-numeric", body: `{"instances":[[1,2,true,4]]}`, wantErr: "is a boolean"},
		{desc: "object instances", body: `{"instances":[{"input":[1,2,3,4]}]}`, wantErr: "is an object"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got := do(t, "POST", rs.URL+"/v1/models/fraud:predict", tc.body, nil)
			var e errorBody
			_ = json.Unmarshal(got.body, &e)
			if got.status != 400 || !strings.Contains(e.Error, tc.wantErr) {
				t.Errorf("got %d %s, want 400 with error containing %q", got.status, got.body, tc.wantErr)
			}
		})
	}
}
