package standin

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"testing"
)

func newTestTriton(legacy bool) *Triton {
	return NewTriton("iris", legacy, Version{Name: "2", Classifier: IrisAlt()}, Version{Name: "1", Classifier: Iris()})
}

// border is a row Iris (version 1) labels 1 and IrisAlt (version 2) labels 2.
const tritonBorder = `{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[6.3,2.8,5.1,1.5]}]}`

func TestTriton(t *testing.T) {
	tr := newTestTriton(false)
	url, _ := Start(t, tr)
	labelOf := func(want string) func(*testing.T, []byte) {
		return func(t *testing.T, b []byte) { equalJSONValue(t, field(t, b, "outputs", 0, "data"), want) }
	}
	noVersions := `{"error":"Request for unknown model: 'iris' has no available versions"}`
	run(t, url, []step{
		{name: "live", path: "/v2/health/live", status: 200},
		{name: "server ready", path: "/v2/health/ready", status: 200},
		{name: "server metadata", path: "/v2", status: 200, check: func(t *testing.T, b []byte) {
			equalJSONValue(t, field(t, b, "name"), `"triton"`)
		}},
		{name: "model ready", path: "/v2/models/iris/ready", status: 200},
		{name: "version ready", path: "/v2/models/iris/versions/1/ready", status: 200},
		{name: "metadata lists versions", path: "/v2/models/iris", status: 200, check: func(t *testing.T, b []byte) {
			equalJSONValue(t, field(t, b, "versions"), `["1","2"]`)
			equalJSONValue(t, field(t, b, "inputs"), `[{"name":"input","datatype":"FP32","shape":[-1,4]}]`)
		}},
		{name: "versioned metadata", path: "/v2/models/iris/versions/1", status: 200, check: func(t *testing.T, b []byte) {
			equalJSONValue(t, field(t, b, "versions"), `["1"]`)
		}},
		{name: "unversioned infer goes to latest", method: "POST", path: "/v2/models/iris/infer", body: tritonBorder, status: 200,
			check: func(t *testing.T, b []byte) {
				equalJSONValue(t, field(t, b, "model_version"), `"2"`)
				labelOf(`[2]`)(t, b)
			}},
		{name: "pinned infer version 1", method: "POST", path: "/v2/models/iris/versions/1/infer", body: tritonBorder, status: 200,
			check: func(t *testing.T, b []byte) {
				equalJSONValue(t, field(t, b, "model_version"), `"1"`)
				labelOf(`[1]`)(t, b)
				equalJSONValue(t, field(t, b, "outputs", 1, "shape"), `[1,3]`)
			}},
		{name: "infer echoes id", method: "POST", path: "/v2/models/iris/infer", body: `{"id":"abc",` + irisV2Body[1:], status: 200,
			check: func(t *testing.T, b []byte) {
				equalJSONValue(t, field(t, b, "id"), `"abc"`)
				labelOf(`[1,1]`)(t, b)
			}},
		{name: "non-numeric version is no route", method: "POST", path: "/v2/models/iris/versions/v2/infer", body: tritonBorder, status: 404, want: `{"error":"Not Found"}`},
		{name: "version not in repository", path: "/v2/models/iris/versions/7/ready", status: 404, want: `{"error":"Request for unknown model: 'iris' version 7 is not found"}`},
		{name: "unknown model 400", path: "/v2/models/other/ready", status: 400, want: `{"error":"Request for unknown model: 'other' is not found"}`},
		{name: "bad input 400", method: "POST", path: "/v2/models/iris/infer", body: badV2Body, status: 400,
			contains: []string{"[request id: <id_unknown>] unexpected shape for input 'input-0' for model 'iris'. Expected [-1,4], got [1,3]."}},
		{name: "bad input with id", method: "POST", path: "/v2/models/iris/infer", body: `{"id":"r9",` + badV2Body[1:], status: 400, contains: []string{"[request id: r9] unexpected shape"}},
		{name: "not json 400", method: "POST", path: "/v2/models/iris/infer", body: `{`, status: 400, contains: []string{"failed to parse the request JSON buffer"}},
		{name: "data does not fit 400", method: "POST", path: "/v2/models/iris/infer",
			body: `{"inputs":[{"name":"input","shape":[2,4],"datatype":"FP32","data":[1,2,3,4]}]}`, status: 400},
		{name: "list models is no route", path: "/v2/models", status: 404, want: `{"error":"Not Found"}`},
		{name: "v1 is no route", method: "POST", path: "/v1/models/iris:predict", body: irisV1Body, status: 404},
		{name: "wrong method", method: "POST", path: "/v2/models/iris/ready", status: 405, want: `{"error":"Method Not Allowed"}`},
		{name: "index", method: "POST", path: "/v2/repository/index", body: `{}`, status: 200,
			want: `[{"name":"iris","version":"1","state":"READY"},{"name":"iris","version":"2","state":"READY"}]`},
		{name: "index needs POST", path: "/v2/repository/index", status: 405},
		{name: "index bad ready", method: "POST", path: "/v2/repository/index", body: `{"ready":"yes"}`, status: 400},
		// Unload: model-level readiness goes 4xx, server-level stays 200.
		{name: "unload", method: "POST", path: "/v2/repository/models/iris/unload", status: 200},
		{name: "unloaded model ready 404", path: "/v2/models/iris/ready", status: 404, want: noVersions},
		{name: "unloaded version ready 503", path: "/v2/models/iris/versions/1/ready", status: 503,
			want: `{"error":"Request for unknown model: 'iris' version 1 is not at ready state"}`},
		{name: "unloaded server still ready", path: "/v2/health/ready", status: 200},
		{name: "unloaded infer 404", method: "POST", path: "/v2/models/iris/infer", body: irisV2Body, status: 404, want: noVersions},
		{name: "index shows unavailable", method: "POST", path: "/v2/repository/index", status: 200,
			want: `[{"name":"iris","version":"1","state":"UNAVAILABLE","reason":"unloaded"},{"name":"iris","version":"2","state":"UNAVAILABLE","reason":"unloaded"}]`},
		{name: "index ready only", method: "POST", path: "/v2/repository/index", body: `{"ready":true}`, status: 200, want: `[]`},
		{name: "load", method: "POST", path: "/v2/repository/models/iris/load", status: 200},
		{name: "loaded again", path: "/v2/models/iris/ready", status: 200},
		{name: "load unknown model", method: "POST", path: "/v2/repository/models/other/load", status: 400},
		{name: "Unload method", before: tr.Unload, path: "/v2/models/iris/ready", status: 404},
		{name: "Load method", before: tr.Load, path: "/v2/models/iris/ready", status: 200},
	})
	if got := tr.PathCount("/v2/models/iris/versions/1/infer"); got != 1 {
		t.Errorf("PathCount(pinned) = %d, want 1", got)
	}
}

func TestTritonBinaryInput(t *testing.T) {
	url, _ := Start(t, newTestTriton(false))
	hdr := `{"inputs":[{"name":"input","shape":[2,4],"datatype":"FP32","parameters":{"binary_data_size":32}}]}`
	var bin bytes.Buffer
	for _, v := range []float32{6.8, 2.8, 4.8, 1.4, 5.1, 3.5, 1.4, 0.2} {
		_ = binary.Write(&bin, binary.LittleEndian, v)
	}
	run(t, url, []step{
		{name: "binary input", method: "POST", path: "/v2/models/iris/versions/1/infer", body: hdr + bin.String(),
			header: map[string]string{"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": strconv.Itoa(len(hdr))},
			status: 200, check: func(t *testing.T, b []byte) { equalJSONValue(t, field(t, b, "outputs", 0, "data"), `[1,0]`) }},
		{name: "bad header length", method: "POST", path: "/v2/models/iris/infer", body: hdr,
			header: map[string]string{"Inference-Header-Content-Length": "x"}, status: 400},
	})
}

func TestTritonLegacyStatuses(t *testing.T) {
	tr := newTestTriton(true)
	url, _ := Start(t, tr)
	run(t, url, []step{
		{name: "unloaded model ready 400", before: tr.Unload, path: "/v2/models/iris/ready", status: 400},
		{name: "unloaded version ready 400", path: "/v2/models/iris/versions/1/ready", status: 400},
		{name: "unknown path still 404", path: "/v2/models", status: 404},
		{name: "wrong method still 405", method: "DELETE", path: "/v2/health/ready", status: 405},
	})
}
