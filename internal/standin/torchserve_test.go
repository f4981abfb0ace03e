package standin

import "testing"

func TestTorchServe(t *testing.T) {
	ts := NewTorchServe("iris", Version{Name: "1.0", Classifier: Iris()}, Version{Name: "2.0", Classifier: IrisAlt()})
	url, _ := Start(t, ts)
	const border = `[[6.3,2.8,5.1,1.5]]`
	failed := `{"code":503,"type":"InternalServerException","message":"Prediction failed"}`
	notFound := `{"code":404,"type":"ModelNotFoundException","message":"Model not found: iris"}`
	run(t, url, []step{
		{name: "ping", path: "/ping", status: 200, want: `{"status":"Healthy"}`, contains: []string{"{\n  \"status\": \"Healthy\"\n}\n"}},
		{name: "default version", method: "POST", path: "/predictions/iris", body: border, status: 200, want: `[1]`},
		{name: "pinned version", method: "POST", path: "/predictions/iris/2.0", body: border, status: 200, want: `[2]`},
		{name: "PUT like curl -T", method: "PUT", path: "/predictions/iris", body: `{"instances":[[5.1,3.5,1.4,0.2]]}`, status: 200, want: `[0]`},
		{name: "data key", method: "POST", path: "/predictions/iris", body: `{"data":[[6.8,2.8,4.8,1.4],[6.0,3.4,4.5,1.6]]}`, status: 200, want: `[1,1]`},
		{name: "bad input 503", method: "POST", path: "/predictions/iris", body: `[[1,2,3]]`, status: 503, want: failed},
		{name: "not json 503", method: "POST", path: "/predictions/iris", body: `kitten.jpg`, status: 503, want: failed},
		{name: "unknown version 404", method: "POST", path: "/predictions/iris/3.0", body: border, status: 404,
			want: `{"code":404,"type":"ModelVersionNotFoundException","message":"Model version: 3.0 does not exist for model: iris"}`},
		{name: "unknown model 404", method: "POST", path: "/predictions/other", body: border, status: 404,
			want: `{"code":404,"type":"ModelNotFoundException","message":"Model not found: other"}`},
		{name: "no model 404", path: "/predictions", status: 404, contains: []string{"ResourceNotFoundException"}},
		{name: "v2 not served", path: "/v2/health/ready", status: 404, contains: []string{"ResourceNotFoundException"}},
		{name: "kserve wrapper not served", method: "POST", path: "/v1/models/iris:predict", body: irisV1Body, status: 404},
		{name: "set default", before: func() { ts.SetDefault("2.0") }, method: "POST", path: "/predictions/iris", body: border, status: 200, want: `[2]`},
		{name: "unhealthy", before: func() { ts.SetHealthy(false) }, path: "/ping", status: 500, want: `{"status":"Unhealthy"}`},
		{name: "healthy", before: func() { ts.SetHealthy(true) }, path: "/ping", status: 200},
		// Unregistered: predictions 404, ping still Healthy.
		{name: "unregistered 404", before: ts.Unregister, method: "POST", path: "/predictions/iris", body: border, status: 404, want: notFound},
		{name: "unregistered ping healthy", path: "/ping", status: 200, want: `{"status":"Healthy"}`},
		{name: "registered again", before: ts.Register, method: "POST", path: "/predictions/iris/1.0", body: border, status: 200, want: `[1]`},
	})
	if got := ts.PathCount("/predictions/iris/2.0"); got != 1 {
		t.Errorf("PathCount = %d, want 1", got)
	}
}
