package standin

import "testing"

func TestTFServing(t *testing.T) {
	tf := NewTFServing("iris", Version{Name: "1", Classifier: Iris()}, Version{Name: "2", Classifier: IrisAlt()})
	tf.SetLabel("stable", "1")
	url, _ := Start(t, tf)
	const border = `{"instances":[[6.3,2.8,5.1,1.5]]}`
	// top1 checks the argmax of the first prediction row.
	top1 := func(want int) func(*testing.T, []byte) {
		return func(t *testing.T, b []byte) {
			row, _ := field(t, b, "predictions", 0).([]any)
			best := 0
			for i := range row {
				if row[i].(float64) > row[best].(float64) {
					best = i
				}
			}
			if len(row) != 3 || best != want {
				t.Errorf("prediction %v: top-1 %d, want %d of 3", row, best, want)
			}
		}
	}
	status := func(v, state string) string {
		return `{"version":"` + v + `","state":"` + state + `","status":{"error_code":"OK","error_message":""}}`
	}
	run(t, url, []step{
		{name: "status all versions newest first", path: "/v1/models/iris", status: 200,
			want: `{"model_version_status":[` + status("2", "AVAILABLE") + `,` + status("1", "AVAILABLE") + `]}`},
		{name: "status one version", path: "/v1/models/iris/versions/1", status: 200, want: `{"model_version_status":[` + status("1", "AVAILABLE") + `]}`},
		{name: "status by label", path: "/v1/models/iris/labels/stable", status: 200, want: `{"model_version_status":[` + status("1", "AVAILABLE") + `]}`},
		{name: "unversioned predict uses latest", method: "POST", path: "/v1/models/iris:predict", body: border, status: 200, check: top1(2)},
		{name: "pinned predict", method: "POST", path: "/v1/models/iris/versions/1:predict", body: border, status: 200, check: top1(1)},
		{name: "label predict", method: "POST", path: "/v1/models/iris/labels/stable:predict", body: border, status: 200, check: top1(1)},
		{name: "columnar", method: "POST", path: "/v1/models/iris:predict", body: `{"inputs":[[5.1,3.5,1.4,0.2]]}`, status: 200,
			check: func(t *testing.T, b []byte) {
				if row, _ := field(t, b, "outputs", 0).([]any); len(row) != 3 {
					t.Errorf("outputs %s", b)
				}
			}},
		{name: "metadata", path: "/v1/models/iris/versions/2/metadata", status: 200, check: func(t *testing.T, b []byte) {
			equalJSONValue(t, field(t, b, "model_spec"), `{"name":"iris","signature_name":"","version":"2"}`)
		}},
		{name: "bad input 400", method: "POST", path: "/v1/models/iris:predict", body: badV1Body, status: 400, contains: []string{`{ "error": "Matrix size-incompatible: In[0]: [1,3], In[1]: [4,3]`}},
		{name: "no instances 400", method: "POST", path: "/v1/models/iris:predict", body: `{}`, status: 400, want: `{"error":"Missing 'inputs' or 'instances' key"}`},
		{name: "not json 400", method: "POST", path: "/v1/models/iris:predict", body: `x`, status: 400, contains: []string{"JSON Parse error"}},
		{name: "non-numeric version is malformed", method: "POST", path: "/v1/models/iris/versions/v2:predict", body: border, status: 400,
			want: `{"error":"Malformed request: POST /v1/models/iris/versions/v2:predict"}`},
		{name: "GET predict is malformed", path: "/v1/models/iris:predict", status: 400, want: `{"error":"Malformed request: GET /v1/models/iris:predict"}`},
		{name: "unknown version predict 404", method: "POST", path: "/v1/models/iris/versions/3:predict", body: border, status: 404,
			want: `{"error":"Servable not found for request: Specific(iris, 3)"}`},
		{name: "unknown model predict 404", method: "POST", path: "/v1/models/other:predict", body: border, status: 404,
			want: `{"error":"Servable not found for request: Latest(other)"}`},
		{name: "unknown label 400", method: "POST", path: "/v1/models/iris/labels/canary:predict", body: border, status: 400,
			want: `{"error":"Unrecognized servable version label: canary"}`},
		{name: "unknown model status 404", path: "/v1/models/other", status: 404, want: `{"error":"Could not find any versions of model other"}`},
		{name: "unknown version status 404", path: "/v1/models/iris/versions/3", status: 404, want: `{"error":"Could not find version 3 of model iris"}`},
		{name: "list models 400", path: "/v1/models", status: 400, want: `{"error":"Missing model name in request."}`},
		{name: "no v2", path: "/v2/health/ready", status: 404},
		{name: "no v2 infer", method: "POST", path: "/v2/models/iris/infer", body: irisV2Body, status: 404},
		// Version 2 unloaded: status stays 200 and says END; predict falls to version 1.
		{name: "unloaded version status 200 END", before: func() { tf.SetState("2", TFStateEnd) }, path: "/v1/models/iris", status: 200,
			want: `{"model_version_status":[` + status("2", "END") + `,` + status("1", "AVAILABLE") + `]}`},
		{name: "unloaded version predict 404", method: "POST", path: "/v1/models/iris/versions/2:predict", body: border, status: 404},
		{name: "latest is now 1", method: "POST", path: "/v1/models/iris:predict", body: border, status: 200, check: top1(1)},
		{name: "all unloaded predict 404", before: func() { tf.SetState("1", TFStateLoading) }, method: "POST", path: "/v1/models/iris:predict", body: border, status: 404,
			want: `{"error":"Servable not found for request: Latest(iris)"}`},
		{name: "label removed", before: func() { tf.SetLabel("stable", "") }, path: "/v1/models/iris/labels/stable", status: 400},
	})
}
