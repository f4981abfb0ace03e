package standin

import (
	"net/http"
	"regexp"
	"testing"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestKServe(t *testing.T) {
	k := NewKServe("iris", Iris(), false)
	url, _ := Start(t, k)
	notExist := `{"error":"Model with name iris does not exist."}`
	notVersioned := `{"error":"Model versioning not supported yet."}`
	notFound := `{"detail":"Not Found"}`
	run(t, url, []step{
		{name: "root live", path: "/", status: 200, want: `{"status":"alive"}`},
		{name: "v2 live", path: "/v2/health/live", status: 200, want: `{"live":true}`},
		{name: "v2 ready", path: "/v2/health/ready", status: 200, want: `{"ready":true}`},
		{name: "server metadata", path: "/v2", status: 200, want: `{"name":"kserve","version":"0.12.1","extensions":["model_repository_extension"]}`},
		{name: "v2 list", path: "/v2/models", status: 200, want: `{"models":["iris"]}`},
		{name: "v1 list", path: "/v1/models", status: 200, want: `{"models":["iris"]}`},
		{name: "model metadata", path: "/v2/models/iris", status: 200, want: `{"name":"iris","versions":null,"platform":"","inputs":[],"outputs":[]}`},
		{name: "model ready", path: "/v2/models/iris/ready", status: 200, want: `{"name":"iris","ready":true}`},
		{name: "v1 model ready", path: "/v1/models/iris", status: 200, want: `{"name":"iris","ready":true}`},
		{name: "infer labels", method: "POST", path: "/v2/models/iris/infer", body: `{"id":"req-1",` + irisV2Body[1:], status: 200,
			want: `{"model_name":"iris","model_version":null,"id":"req-1","parameters":null,"outputs":[{"name":"output-0","shape":[2],"datatype":"INT64","parameters":null,"data":[1,1]}]}`},
		{name: "infer without id gets a uuid", method: "POST", path: "/v2/models/iris/infer", body: irisV2Body, status: 200,
			check: func(t *testing.T, b []byte) {
				if id, _ := field(t, b, "id").(string); !uuidRE.MatchString(id) {
					t.Errorf("id %q is not a UUID v4", id)
				}
			}},
		{name: "v1 predict", method: "POST", path: "/v1/models/iris:predict", body: irisV1Body, status: 200, want: `{"predictions":[1,1]}`},
		{name: "v1 predict inputs key", method: "POST", path: "/v1/models/iris:predict", body: `{"inputs":[[5.1,3.5,1.4,0.2]]}`, status: 200, want: `{"predictions":[0]}`},
		{name: "pinned infer 501", method: "POST", path: "/v2/models/iris/versions/v2/infer", body: irisV2Body, status: 501, want: notVersioned},
		{name: "pinned infer 501 for any model", method: "POST", path: "/v2/models/other/versions/1/infer", body: irisV2Body, status: 501, want: notVersioned},
		{name: "pinned infer bad body 422 first", method: "POST", path: "/v2/models/iris/versions/v2/infer", body: `{}`, status: 422, contains: []string{`"detail"`}},
		{name: "pinned metadata 501", path: "/v2/models/iris/versions/v2", status: 501, want: notVersioned},
		{name: "pinned ready 404", path: "/v2/models/iris/versions/v2/ready", status: 404, want: notFound},
		{name: "v1 pinned predict 404", method: "POST", path: "/v1/models/iris/versions/v2:predict", body: irisV1Body, status: 404, want: notFound},
		{name: "bad input 500", method: "POST", path: "/v2/models/iris/infer", body: badV2Body, status: 500,
			want: `{"error":"X has 3 features, but SVC is expecting 4 features as input."}`},
		{name: "v1 bad input 500", method: "POST", path: "/v1/models/iris:predict", body: badV1Body, status: 500,
			want: `{"error":"X has 3 features, but SVC is expecting 4 features as input."}`},
		{name: "data does not fit shape 500", method: "POST", path: "/v2/models/iris/infer",
			body: `{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3]}]}`, status: 500,
			want: `{"error":"cannot reshape array of size 3 into shape (1, 4)"}`},
		{name: "v1 no instances 500", method: "POST", path: "/v1/models/iris:predict", body: `{"rows":[]}`, status: 500, want: `{"error":"'instances'"}`},
		{name: "v1 not json 400", method: "POST", path: "/v1/models/iris:predict", body: `nope`, status: 400, contains: []string{"Unrecognized request format"}},
		{name: "v2 invalid body 422", method: "POST", path: "/v2/models/iris/infer", body: `{"inputs":"x"}`, status: 422, contains: []string{`"detail"`}},
		{name: "unknown model", path: "/v2/models/other/ready", status: 404, want: `{"error":"Model with name other does not exist."}`},
		{name: "unknown path", path: "/v2/models/iris/stats", status: 404, want: notFound},
		{name: "explain not served", method: "POST", path: "/v1/models/iris:explain", status: 404, want: notFound},
		{name: "wrong method", method: "GET", path: "/v2/models/iris/infer", status: 405, want: `{"detail":"Method Not Allowed"}`},
		{name: "head on GET route", method: "HEAD", path: "/v2/health/ready", status: 200},
		// Unload: model-level readiness turns 404, server-level stays ready.
		{name: "unload", method: "POST", path: "/v2/repository/models/iris/unload", status: 200, want: `{"name":"iris","unload":true}`},
		{name: "unloaded model ready 404", path: "/v2/models/iris/ready", status: 404, want: notExist},
		{name: "unloaded v1 ready 404", path: "/v1/models/iris", status: 404, want: notExist},
		{name: "unloaded server still ready", path: "/v2/health/ready", status: 200, want: `{"ready":true}`},
		{name: "unloaded infer 404", method: "POST", path: "/v2/models/iris/infer", body: irisV2Body, status: 404, want: notExist},
		{name: "unloaded predict 404", method: "POST", path: "/v1/models/iris:predict", body: irisV1Body, status: 404, want: notExist},
		{name: "unloaded metadata 404", path: "/v2/models/iris", status: 404, want: notExist},
		{name: "unloaded list empty", path: "/v1/models", status: 200, want: `{"models":[]}`},
		{name: "load", method: "POST", path: "/v2/repository/models/iris/load", status: 200, want: `{"name":"iris","load":true}`},
		{name: "loaded again", path: "/v2/models/iris/ready", status: 200, want: `{"name":"iris","ready":true}`},
		{name: "Unload method", before: k.Unload, path: "/v2/models/iris/ready", status: 404, want: notExist},
		{name: "Load method", before: k.Load, path: "/v2/models/iris/ready", status: 200},
		{name: "unload unknown model", method: "POST", path: "/v2/repository/models/other/unload", status: 404},
	})
	if got := k.PathCount("/v2/models/iris/versions/v2/infer"); got != 2 {
		t.Errorf("PathCount(pinned infer) = %d, want 2", got)
	}
	if !k.Loaded() {
		t.Error("Loaded() = false after Load")
	}
}

func TestKServePredictProba(t *testing.T) {
	url, _ := Start(t, NewKServe("iris", Iris(), true))
	run(t, url, []step{
		{name: "v2 probabilities", method: "POST", path: "/v2/models/iris/infer", body: irisV2Body, status: http.StatusOK,
			check: func(t *testing.T, b []byte) {
				equalJSONValue(t, field(t, b, "outputs", 0, "shape"), `[2,3]`)
				equalJSONValue(t, field(t, b, "outputs", 0, "datatype"), `"FP64"`)
				if d, _ := field(t, b, "outputs", 0, "data").([]any); len(d) != 6 {
					t.Errorf("data %v, want 6 values", d)
				}
			}},
		{name: "v1 probabilities", method: "POST", path: "/v1/models/iris:predict", body: irisV1Body, status: http.StatusOK,
			check: func(t *testing.T, b []byte) {
				if p, _ := field(t, b, "predictions", 0).([]any); len(p) != 3 {
					t.Errorf("prediction row %v, want 3 probabilities", p)
				}
			}},
	})
}
