package standin

import "testing"

func TestMLServer(t *testing.T) {
	s := NewMLServer("iris", Version{Name: "v1", Classifier: Iris()}, Version{Name: "v2", Classifier: IrisAlt()})
	url, _ := Start(t, s)
	const border = `{"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP64","data":[6.3,2.8,5.1,1.5]}]}`
	notFound := `{"error":"Model iris not found"}`
	run(t, url, []step{
		{name: "live", path: "/v2/health/live", status: 200},
		{name: "server ready", path: "/v2/health/ready", status: 200},
		{name: "server metadata", path: "/v2", status: 200, want: `{"name":"mlserver","version":"1.7.0.dev0","extensions":[]}`},
		{name: "model ready", path: "/v2/models/iris/ready", status: 200},
		{name: "version ready", path: "/v2/models/iris/versions/v1/ready", status: 200},
		{name: "metadata", path: "/v2/models/iris/versions/v2", status: 200, want: `{"name":"iris","versions":[],"platform":"","inputs":[],"outputs":[]}`},
		{name: "unversioned goes to newest", method: "POST", path: "/v2/models/iris/infer", body: border, status: 200,
			check: func(t *testing.T, b []byte) {
				equalJSONValue(t, field(t, b, "model_version"), `"v2"`)
				equalJSONValue(t, field(t, b, "outputs", 0), `{"name":"predict","shape":[1,1],"datatype":"INT64","parameters":{"content_type":"np"},"data":[2]}`)
			}},
		{name: "pinned string version", method: "POST", path: "/v2/models/iris/versions/v1/infer", body: `{"id":"q",` + border[1:], status: 200,
			want: `{"model_name":"iris","model_version":"v1","id":"q","outputs":[{"name":"predict","shape":[1,1],"datatype":"INT64","parameters":{"content_type":"np"},"data":[1]}]}`},
		{name: "predict_proba output", method: "POST", path: "/v2/models/iris/infer",
			body: `{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP64","data":[5.1,3.5,1.4,0.2]}],"outputs":[{"name":"predict_proba"}]}`, status: 200,
			check: func(t *testing.T, b []byte) {
				equalJSONValue(t, field(t, b, "outputs", 0, "name"), `"predict_proba"`)
				equalJSONValue(t, field(t, b, "outputs", 0, "shape"), `[1,3]`)
			}},
		{name: "unknown output 400", method: "POST", path: "/v2/models/iris/infer",
			body: `{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP64","data":[5.1,3.5,1.4,0.2]}],"outputs":[{"name":"logits"}]}`, status: 400,
			contains: []string{"SKLearnModel only supports 'predict', 'predict_proba' and 'transform' as outputs (logits was received)"}},
		{name: "unknown version 404", path: "/v2/models/iris/versions/v9/ready", status: 404, want: `{"error":"Model iris with version v9 not found"}`},
		{name: "unknown model 404", method: "POST", path: "/v2/models/other/infer", body: irisV2Body, status: 404, want: `{"error":"Model other not found"}`},
		{name: "bad input 500", method: "POST", path: "/v2/models/iris/infer", body: badV2Body, status: 500,
			want: `{"error":"builtins.ValueError: X has 3 features, but LogisticRegression is expecting 4 features as input."}`},
		{name: "invalid body 422", method: "POST", path: "/v2/models/iris/infer", body: `{"inputs":[{"name":1}]}`, status: 422, contains: []string{`"detail"`}},
		{name: "list models is no route", path: "/v2/models", status: 404, want: `{"detail":"Not Found"}`},
		{name: "v1 is no route", path: "/v1/models/iris", status: 404, want: `{"detail":"Not Found"}`},
		{name: "wrong method", path: "/v2/models/iris/infer", status: 405, want: `{"detail":"Method Not Allowed"}`},
		{name: "index", method: "POST", path: "/v2/repository/index", body: `{}`, status: 200,
			want: `[{"name":"iris","version":"v1","state":"READY","reason":""},{"name":"iris","version":"v2","state":"READY","reason":""}]`},
		// Loading: model and server readiness say 400.
		{name: "loading model ready 400", before: func() { s.SetReady(false) }, path: "/v2/models/iris/ready", status: 400},
		{name: "loading server ready 400", path: "/v2/health/ready", status: 400},
		{name: "loading infer 400", method: "POST", path: "/v2/models/iris/versions/v1/infer", body: border, status: 400,
			want: `{"error":"Model iris with version v1 is not ready yet."}`},
		{name: "loading unversioned infer 400", method: "POST", path: "/v2/models/iris/infer", body: border, status: 400,
			want: `{"error":"Model iris is not ready yet."}`},
		{name: "ready again", before: func() { s.SetReady(true) }, path: "/v2/models/iris/ready", status: 200},
		// Unload: the model is gone (404), the server is ready again.
		{name: "unload", method: "POST", path: "/v2/repository/models/iris/unload", status: 200},
		{name: "unloaded ready 404", path: "/v2/models/iris/ready", status: 404, want: notFound},
		{name: "unloaded server ready", path: "/v2/health/ready", status: 200},
		{name: "unloaded infer 404", method: "POST", path: "/v2/models/iris/infer", body: border, status: 404, want: notFound},
		{name: "unloaded index", method: "POST", path: "/v2/repository/index", body: `{}`, status: 200, check: func(t *testing.T, b []byte) {
			equalJSONValue(t, field(t, b, 0, "state"), `"UNAVAILABLE"`)
		}},
		{name: "unloaded index ready only", method: "POST", path: "/v2/repository/index", body: `{"ready":true}`, status: 200, want: `[]`},
		{name: "index without body 422", method: "POST", path: "/v2/repository/index", status: 422},
		{name: "load", method: "POST", path: "/v2/repository/models/iris/load", status: 200},
		{name: "loaded", path: "/v2/models/iris/ready", status: 200},
		{name: "load unknown", method: "POST", path: "/v2/repository/models/other/load", status: 404},
		{name: "Unload method", before: s.Unload, path: "/v2/models/iris/ready", status: 404},
		{name: "Load method", before: s.Load, path: "/v2/models/iris/ready", status: 200},
	})
}

func TestMLServerDefaultVersion(t *testing.T) {
	tests := []struct {
		versions []string
		want     string
	}{
		{[]string{"1", "10", "9"}, "10"}, // integers compare as numbers
		{[]string{"v10", "v9"}, "v9"},    // strings compare as strings
		{[]string{"b", "a"}, "b"},
		{[]string{"only"}, "only"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			var vs []Version
			for _, n := range tt.versions {
				vs = append(vs, Version{Name: n, Classifier: Iris()})
			}
			url, _ := Start(t, NewMLServer("iris", vs...))
			run(t, url, []step{{name: "default", method: "POST", path: "/v2/models/iris/infer", body: irisV2Body, status: 200,
				check: func(t *testing.T, b []byte) { equalJSONValue(t, field(t, b, "model_version"), `"`+tt.want+`"`) }}})
		})
	}
}
