package standin

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
)

// TorchServe stands in for TorchServe's inference API (port 8080) serving
// one model at one or more versions with a custom handler of ours. Sources:
// the docs, https://pytorch.org/serve/inference_api.html (docs/inference_api.md:
// /ping, /predictions/{m}[/{version}]) and
// https://pytorch.org/serve/management_api.html (versions, default
// version), and for statuses and bodies the source (pytorch/serve,
// frontend/server): http/api/rest/InferenceRequestHandler.java (routes,
// ping), http/HttpRequestHandler.java (exception → status),
// util/NettyUtils.java and http/ErrorResponse.java (error body),
// job/RestJob.java and ts/service.py (handler failures).
//
// Reproduced:
//   - GET /ping → 200 {"status": "Healthy"}, or 500 {"status": "Unhealthy"}
//     after SetHealthy(false) (fewer running workers than minWorkers).
//     /ping is server-level: it stays Healthy after the model is
//     unregistered.
//   - /predictions/{m} (the default version: the first registered unless
//     SetDefault) and /predictions/{m}/{version}, any method (curl -T sends
//     PUT). The handler, which in TorchServe is user code, is ours: the
//     body is a JSON list of rows, or {"instances": rows} or {"data": rows},
//     and the answer a JSON list of class labels, e.g. [1, 1].
//   - Handler failures, bad input included (not JSON, wrong feature
//     count), → 503 {"code": 503, "type": "InternalServerException",
//     "message": "Prediction failed"}: TorchServe answers any exception in
//     a handler so.
//   - Unknown model (or unregistered) → 404 {"code": 404, "type":
//     "ModelNotFoundException", "message": "Model not found: m"}; unknown
//     version → 404 {..."type": "ModelVersionNotFoundException", "message":
//     "Model version: v does not exist for model: m"}; other paths → 404
//     "ResourceNotFoundException". Error bodies are pretty-printed JSON.
//
// Not reproduced: the management API (port 8081: registering, scaling,
// listing and describing models, setting the default version; here
// Unregister and SetDefault do it), the metrics API (port 8082),
// /explanations, /api-description and OPTIONS, streaming answers, token
// authorization, batching, and the KServe wrappers (/v1/models/{m}:predict
// and /v2/models/{m}/infer on this port, whose bodies depend on the
// service_envelope setting): those paths answer 404 here.
type TorchServe struct {
	Recorder
	name     string
	versions []Version

	mu           sync.Mutex
	def          string
	unregistered bool
	unhealthy    bool
}

// NewTorchServe returns a TorchServe stand-in serving model name at the
// given versions (at least one; TorchServe names them like "1.0"),
// registered and healthy, with the first version the default.
func NewTorchServe(name string, versions ...Version) *TorchServe {
	if len(versions) == 0 {
		panic("standin: TorchServe needs at least one version")
	}
	return &TorchServe{name: name, versions: append([]Version(nil), versions...), def: versions[0].Name}
}

// SetDefault makes version the default (the management API's PUT
// /models/{m}/{version}/set-default).
func (t *TorchServe) SetDefault(version string) {
	t.mu.Lock()
	t.def = version
	t.mu.Unlock()
}

// Unregister removes the model (DELETE /models/{m} on the management API).
func (t *TorchServe) Unregister() { t.setRegistered(false) }

// Register registers the model again after Unregister.
func (t *TorchServe) Register() { t.setRegistered(true) }

func (t *TorchServe) setRegistered(on bool) {
	t.mu.Lock()
	t.unregistered = !on
	t.mu.Unlock()
}

// SetHealthy sets what /ping answers.
func (t *TorchServe) SetHealthy(healthy bool) {
	t.mu.Lock()
	t.unhealthy = !healthy
	t.mu.Unlock()
}

type torchError struct {
	Code    int    `json:"code"`
	Type    string `json:"type"`
	Message string `json:"message"`
}

// torchJSON writes v as TorchServe does: GSON pretty-printed, newline.
func torchJSON(w http.ResponseWriter, status int, v any) {
	var b bytes.Buffer
	_ = json.Indent(&b, marshal(v), "", "  ")
	b.WriteByte('\n')
	writeRaw(w, status, "application/json", b.Bytes())
}

func torchFail(w http.ResponseWriter, status int, typ, msg string) {
	torchJSON(w, status, torchError{Code: status, Type: typ, Message: msg})
}

// ServeHTTP implements [http.Handler].
func (t *TorchServe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t.observe(r)
	t.mu.Lock()
	def, unregistered, unhealthy := t.def, t.unregistered, t.unhealthy
	t.mu.Unlock()
	if r.URL.Path == "/ping" {
		if unhealthy {
			torchJSON(w, 500, map[string]string{"status": "Unhealthy"})
			return
		}
		torchJSON(w, 200, map[string]string{"status": "Healthy"})
		return
	}
	segs, ok := splitPath(r.URL.Path, "/predictions/")
	if !ok || len(segs) == 0 || len(segs) > 2 || segs[0] == "" {
		torchFail(w, 404, "ResourceNotFoundException", "Requested resource is not found, please refer to API document.")
		return
	}
	m, version := segs[0], def
	if len(segs) == 2 && segs[1] != "" {
		version = segs[1]
	}
	if m != t.name || unregistered {
		torchFail(w, 404, "ModelNotFoundException", "Model not found: "+m)
		return
	}
	var clf *Classifier
	for i := range t.versions {
		if t.versions[i].Name == version {
			clf = &t.versions[i].Classifier
		}
	}
	if clf == nil {
		torchFail(w, 404, "ModelVersionNotFoundException", "Model version: "+version+" does not exist for model: "+m)
		return
	}
	body, _ := readBody(r)
	var rows [][]float64
	if err := json.Unmarshal(body, &rows); err != nil {
		var obj struct {
			Instances [][]float64 `json:"instances"`
			Data      [][]float64 `json:"data"`
		}
		if json.Unmarshal(body, &obj) != nil {
			torchFail(w, 503, "InternalServerException", "Prediction failed")
			return
		}
		rows = append(obj.Instances, obj.Data...)
	}
	labels, _, err := clf.Classify(rows)
	if err != nil {
		torchFail(w, 503, "InternalServerException", "Prediction failed")
		return
	}
	b, _ := json.Marshal(labels)
	writeRaw(w, 200, "application/json", b)
}
