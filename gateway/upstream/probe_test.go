package upstream

import (
	"strings"
	"testing"
)

func TestProbeOf(t *testing.T) {
	for _, tt := range []struct {
		path string
		want Probe
	}{
		{"/v2/models/iris/ready", ProbeOIPModel},
		{"/v2/models/iris/versions/1/ready", ProbeOIPModel},
		{"/v2/models/iris/ready?x=1", ProbeOIPModel},
		{"/v1/models/iris", ProbeV1Model},
		{"/v1/models/iris/versions/2", ProbeV1Model},
		{"/v1/models/iris/labels/stable", ProbeV1Model},
		{"/v1/models/iris?x=1", ProbeV1Model},
		{"/v2/health/ready", ProbeServer},
		{"/v2/health/live", ProbeServer},
		{"/ping", ProbeServer},
		{"/healthz", ProbeServer},
		{"/", ProbeServer},
		{"/v2/models/iris", ProbeServer},         // metadata, not readiness
		{"/v2/models//ready", ProbeServer},       // no model name
		{"/v2/models/iris/ready/x", ProbeServer}, // not the OIP route
		{"/v2/models/iris/versions//ready", ProbeServer},
		{"/v1/models/iris:predict", ProbeServer},
		{"/v1/models/iris/metadata", ProbeServer},
		{"/v1/models/", ProbeServer},
		{"/v1/models", ProbeServer},
		{"/v1/models/iris/versions/", ProbeServer},
	} {
		if got := ProbeOf(tt.path); got != tt.want {
			t.Errorf("ProbeOf(%q): got %v, want %v", tt.path, got, tt.want)
		}
	}
}

// TestJudge: the verdict of one answer per probe. Server-level paths keep
// the "not served" leniency; on model-level paths only a 2xx whose body
// does not say otherwise is ready.
func TestJudge(t *testing.T) {
	const (
		tfAvailable = `{"model_version_status": [{"version": "2", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}`
		tfEnd       = `{"model_version_status": [{"version": "2", "state": "END", "status": {"error_code": "OK", "error_message": ""}}]}`
		tfMixed     = `{"model_version_status": [{"version": "2", "state": "LOADING"}, {"version": "1", "state": "AVAILABLE"}]}`
	)
	for _, tt := range []struct {
		desc          string
		probe         Probe
		code          int
		body          string
		tooLarge      bool
		wantOK, wantM bool
		wantReason    string
	}{
		{desc: "server 200", probe: ProbeServer, code: 200, wantOK: true},
		{desc: "server 204", probe: ProbeServer, code: 204, wantOK: true},
		{desc: "server 404 not served", probe: ProbeServer, code: 404, wantOK: true, wantM: true},
		{desc: "server 405 not served", probe: ProbeServer, code: 405, wantOK: true, wantM: true},
		{desc: "server 501 not served", probe: ProbeServer, code: 501, wantOK: true, wantM: true},
		{desc: "server 500 (TorchServe /ping Unhealthy)", probe: ProbeServer, code: 500, wantReason: reasonStatus},
		{desc: "server 503", probe: ProbeServer, code: 503, wantReason: reasonStatus},
		{desc: "server 400", probe: ProbeServer, code: 400, wantReason: reasonStatus},
		{desc: "server 429", probe: ProbeServer, code: 429, wantReason: reasonStatus},
		{desc: "server 302", probe: ProbeServer, code: 302, wantReason: reasonStatus},

		{desc: "OIP 200 KServe", probe: ProbeOIPModel, code: 200, body: `{"name":"iris","ready":true}`, wantOK: true},
		{desc: "OIP 200 empty (Triton)", probe: ProbeOIPModel, code: 200, wantOK: true},
		{desc: "OIP 200 ready false", probe: ProbeOIPModel, code: 200, body: `{"name":"iris","ready":false}`, wantReason: reasonReadyFalse},
		{desc: "OIP 404 unloaded (KServe, Triton ≥ 2.42, MLServer)", probe: ProbeOIPModel, code: 404, body: `{"error":"Model with name iris does not exist."}`, wantReason: reasonNotFound},
		{desc: "OIP 400 loading (MLServer) or legacy Triton", probe: ProbeOIPModel, code: 400, wantReason: reasonStatus},
		{desc: "OIP 405 is not leniency", probe: ProbeOIPModel, code: 405, wantReason: reasonStatus},
		{desc: "OIP 501 is not leniency", probe: ProbeOIPModel, code: 501, wantReason: reasonStatus},
		{desc: "OIP 503", probe: ProbeOIPModel, code: 503, wantReason: reasonStatus},
		{desc: "OIP 200 not JSON", probe: ProbeOIPModel, code: 200, body: "OK", wantReason: reasonUnreadable},
		{desc: "OIP 200 too large", probe: ProbeOIPModel, code: 200, tooLarge: true, wantReason: reasonTooLarge},

		{desc: "V1 KServe ready", probe: ProbeV1Model, code: 200, body: `{"name":"iris","ready":true}`, wantOK: true},
		{desc: "V1 KServe not ready", probe: ProbeV1Model, code: 200, body: `{"name":"iris","ready":false}`, wantReason: reasonReadyFalse},
		{desc: "V1 KServe unloaded 404", probe: ProbeV1Model, code: 404, body: `{"error":"Model with name iris does not exist."}`, wantReason: reasonV1NotFound},
		{desc: "TF AVAILABLE", probe: ProbeV1Model, code: 200, body: tfAvailable, wantOK: true},
		{desc: "TF END after unload, still 200", probe: ProbeV1Model, code: 200, body: tfEnd, wantReason: reasonNoVersion},
		{desc: "TF one version AVAILABLE of two", probe: ProbeV1Model, code: 200, body: tfMixed, wantOK: true},
		{desc: "TF empty list", probe: ProbeV1Model, code: 200, body: `{"model_version_status":[]}`, wantReason: reasonNoVersion},
		{desc: "TF unknown model 404", probe: ProbeV1Model, code: 404, body: `{ "error": "Could not find any versions of model iris" }`, wantReason: reasonV1NotFound},
		{desc: "V1 object without state", probe: ProbeV1Model, code: 200, body: ` {"name":"iris"} `, wantOK: true},
		{desc: "V1 empty body", probe: ProbeV1Model, code: 200, wantOK: true},
		{desc: "V1 array", probe: ProbeV1Model, code: 200, body: `[1]`, wantReason: reasonUnreadable},
		{desc: "V1 ready not a bool", probe: ProbeV1Model, code: 200, body: `{"ready":"yes"}`, wantReason: reasonUnreadable},
		{desc: "V1 cut JSON", probe: ProbeV1Model, code: 200, body: `{"model_version_status": [{"state": "AVAIL`, wantReason: reasonUnreadable},
		{desc: "V1 ready and no AVAILABLE", probe: ProbeV1Model, code: 200, body: `{"ready":true,"model_version_status":[{"state":"LOADING"}]}`, wantReason: reasonNoVersion},
		{desc: "V1 503", probe: ProbeV1Model, code: 503, body: tfAvailable, wantReason: reasonStatus},
		{desc: "V1 too large", probe: ProbeV1Model, code: 200, body: tfAvailable, tooLarge: true, wantReason: reasonTooLarge},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			got := judge(tt.probe, tt.code, []byte(tt.body), tt.tooLarge)
			if got.ok != tt.wantOK || got.missing != tt.wantM || got.reason != tt.wantReason {
				t.Errorf("judge(%v, %d, %q): got %+v, want ok=%v missing=%v reason=%q", tt.probe, tt.code, tt.body, got, tt.wantOK, tt.wantM, tt.wantReason)
			}
			if tt.body != "" && strings.Contains(got.reason, tt.body) {
				t.Errorf("reason %q quotes the answer", got.reason)
			}
		})
	}
}
