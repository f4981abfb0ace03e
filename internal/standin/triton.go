package standin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

// Triton stands in for NVIDIA Triton Inference Server's HTTP/REST endpoint
// (port 8000) serving one model with numeric versions, started with
// --model-control-mode=explicit and a version policy that loads every given
// version. Sources: the protocol docs,
// https://github.com/triton-inference-server/server/blob/main/docs/protocol/README.md
// (Triton error code → HTTP status table),
// https://github.com/triton-inference-server/server/blob/main/docs/protocol/extension_model_repository.md
// and extension_binary_data.md, and for what they leave open the source:
// server src/http_server.cc (route regexes, HandleModelReady,
// HttpCodeFromError) and core src/model_repository_manager/model_lifecycle.cc
// (GetModel's errors) and src/server.cc (strict readiness).
//
// Reproduced (Triton ≥ 2.42, NGC 24.01, where HTTP statuses follow the
// Triton error code; with Legacy every error is 400, as before):
//   - GET /v2/health/live and /v2/health/ready → 200, empty body. Server
//     readiness stays 200 after a model is unloaded (strict readiness
//     ignores models "not ready due to unload").
//   - GET /v2 → {"name":"triton","version":...,"extensions":[...]}.
//   - /v2/models/{m}[/versions/{n}][/ready|/infer] with n digits only; any
//     other version string does not match the route → 404 {"error":"Not Found"}.
//     Unversioned paths use the highest READY version.
//   - GET .../ready → 200 empty body when ready. Otherwise: unknown model
//     400 {"error":"Request for unknown model: 'm' is not found"}; no ready
//     version (all unloaded) 404 "...: 'm' has no available versions";
//     version not in the repository 404 "...: 'm' version n is not found";
//     an unloaded version 503 "...: 'm' version n is not at ready state".
//     Metadata and infer answer the same errors.
//   - GET /v2/models/{m}[/versions/{n}] → {"name":m,"versions":[...],"platform":"onnxruntime_onnx",
//     "inputs":[{"name":"input","datatype":"FP32","shape":[-1,4]}],"outputs":[label, probabilities]}.
//   - POST .../infer → {"model_name":m,"model_version":"n","id":(if sent),"outputs":[
//     {"name":"label","datatype":"INT64","shape":[b],...},{"name":"probabilities","datatype":"FP32","shape":[b,3],...}]}.
//     Inputs may use the binary tensor extension (Inference-Header-Content-Length).
//     Bad input → 400: wrong feature count "[request id: <id_unknown>] unexpected shape
//     for input 'input' for model 'm'. Expected [-1,4], got [1,3]. NOTE: ...",
//     a body that is not an inference request "failed to parse the request JSON buffer: ...".
//   - POST /v2/repository/index → [{"name":m,"version":"n","state":"READY"},...];
//     unloaded versions "UNAVAILABLE" with "reason":"unloaded"; {"ready":true}
//     lists only ready ones. POST /v2/repository/models/{m}/unload | load →
//     200 empty body.
//   - Wrong method on a known path → 405 {"error":"Method Not Allowed"};
//     unknown paths (GET /v2/models, /v1/...) → 404 {"error":"Not Found"}.
//
// Not reproduced: input names and datatypes are not checked (Triton
// answers 400 "unexpected inference input ..." or a datatype error), the
// outputs field of the request and binary output are ignored (answers are
// JSON), config, stats, generate, shared memory, trace, logging and
// metrics. Load and unload act at once; loading a model not in the
// repository answers 400 with a message of ours.
type Triton struct {
	Recorder
	name     string
	versions []Version // sorted by number
	unloaded []atomic.Bool
	legacy   bool
}

// NewTriton returns a Triton stand-in serving model name at the given
// versions (at least one; names must be positive integers), all loaded.
// legacy selects the status codes of Triton before 2.42 (every error 400).
func NewTriton(name string, legacy bool, versions ...Version) *Triton {
	if len(versions) == 0 {
		panic("standin: Triton needs at least one version")
	}
	vs := numericVersions("Triton", versions)
	return &Triton{name: name, versions: vs, unloaded: make([]atomic.Bool, len(vs)), legacy: legacy}
}

// Unload unloads every version of the model, as POST
// /v2/repository/models/{m}/unload does.
func (t *Triton) Unload() { t.setLoaded(false) }

// Load loads every version again, as POST /v2/repository/models/{m}/load does.
func (t *Triton) Load() { t.setLoaded(true) }

func (t *Triton) setLoaded(on bool) {
	for i := range t.unloaded {
		t.unloaded[i].Store(!on)
	}
}

type tritonTensor struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
	Data     any     `json:"data,omitempty"`
}

type tritonInferResponse struct {
	ModelName    string         `json:"model_name"`
	ModelVersion string         `json:"model_version"`
	ID           string         `json:"id,omitempty"`
	Outputs      []tritonTensor `json:"outputs"`
}

// tritonErr is a Triton error: its message and the HTTP status the error
// code maps to.
type tritonErr struct {
	status int
	msg    string
}

func (t *Triton) fail(w http.ResponseWriter, e *tritonErr) {
	status := e.status
	if t.legacy && status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
		status = http.StatusBadRequest
	}
	writeJSON(w, status, map[string]string{"error": e.msg})
}

// failModel is fail for model lookup errors, which before 2.42 were 400
// even where they are 404 now.
func (t *Triton) failModel(w http.ResponseWriter, e *tritonErr) {
	if t.legacy {
		e = &tritonErr{http.StatusBadRequest, e.msg}
	}
	t.fail(w, e)
}

// ServeHTTP implements [http.Handler].
func (t *Triton) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t.observe(r)
	p := r.URL.Path
	method := func(m string) bool {
		if r.Method != m {
			t.fail(w, &tritonErr{http.StatusMethodNotAllowed, "Method Not Allowed"})
			return false
		}
		return true
	}
	switch p {
	case "/v2":
		if method(http.MethodGet) {
			writeJSON(w, 200, map[string]any{"name": "triton", "version": "2.50.0", "extensions": []string{
				"classification", "sequence", "model_repository", "model_repository(unload_dependents)",
				"schedule_policy", "model_configuration", "system_shared_memory", "cuda_shared_memory",
				"binary_tensor_data", "parameters", "statistics", "trace", "logging"}})
		}
		return
	case "/v2/health/live", "/v2/health/ready":
		if method(http.MethodGet) {
			writeRaw(w, 200, "", nil)
		}
		return
	case "/v2/repository/index":
		if method(http.MethodPost) {
			t.index(w, r)
		}
		return
	}
	if segs, ok := splitPath(p, "/v2/repository/models/"); ok && len(segs) == 2 && segs[0] != "" && (segs[1] == "load" || segs[1] == "unload") {
		if method(http.MethodPost) {
			t.control(w, segs[0], segs[1])
		}
		return
	}
	if segs, ok := splitPath(p, "/v2/models/"); ok && len(segs) > 0 && segs[0] != "" {
		m, version, kind := segs[0], "", ""
		rest := segs[1:]
		if len(rest) >= 2 && rest[0] == "versions" && isDigits(rest[1]) {
			version, rest = rest[1], rest[2:]
		}
		switch {
		case len(rest) == 0:
		case len(rest) == 1 && (rest[0] == "ready" || rest[0] == "infer"):
			kind = rest[0]
		default:
			t.fail(w, &tritonErr{http.StatusNotFound, "Not Found"})
			return
		}
		want := http.MethodGet
		if kind == "infer" {
			want = http.MethodPost
		}
		if !method(want) {
			return
		}
		i, e := t.resolve(m, version)
		if e != nil {
			t.failModel(w, e)
			return
		}
		switch kind {
		case "ready":
			writeRaw(w, 200, "", nil)
		case "infer":
			t.infer(w, r, i)
		default:
			t.metadata(w, version)
		}
		return
	}
	t.fail(w, &tritonErr{http.StatusNotFound, "Not Found"})
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// resolve finds the version index serving (m, version), as Triton's
// GetModel does; version "" means the highest ready version.
func (t *Triton) resolve(m, version string) (int, *tritonErr) {
	unknown := "Request for unknown model: '" + m + "'"
	if m != t.name {
		return -1, &tritonErr{http.StatusBadRequest, unknown + " is not found"}
	}
	if version == "" {
		for i := len(t.versions) - 1; i >= 0; i-- {
			if !t.unloaded[i].Load() {
				return i, nil
			}
		}
		return -1, &tritonErr{http.StatusNotFound, unknown + " has no available versions"}
	}
	n, err := strconv.ParseInt(version, 10, 64)
	if err != nil {
		return -1, &tritonErr{http.StatusBadRequest, "failed to get model version from specified version string '" + version + "' (details: value out of range)"}
	}
	for i, v := range t.versions {
		if v.Name == strconv.FormatInt(n, 10) {
			if t.unloaded[i].Load() {
				return -1, &tritonErr{http.StatusServiceUnavailable, fmt.Sprintf("%s version %d is not at ready state", unknown, n)}
			}
			return i, nil
		}
	}
	return -1, &tritonErr{http.StatusNotFound, fmt.Sprintf("%s version %d is not found", unknown, n)}
}

func (t *Triton) metadata(w http.ResponseWriter, version string) {
	versions := []string{}
	if version != "" {
		n, _ := strconv.ParseInt(version, 10, 64)
		versions = append(versions, strconv.FormatInt(n, 10))
	} else {
		for i, v := range t.versions {
			if !t.unloaded[i].Load() {
				versions = append(versions, v.Name)
			}
		}
	}
	nf := int64(t.versions[0].Classifier.Features())
	nc := int64(len(t.versions[0].Classifier.Classes))
	writeJSON(w, 200, map[string]any{
		"name": t.name, "versions": versions, "platform": "onnxruntime_onnx",
		"inputs": []tritonTensor{{Name: "input", Datatype: "FP32", Shape: []int64{-1, nf}}},
		"outputs": []tritonTensor{
			{Name: "label", Datatype: "INT64", Shape: []int64{-1}},
			{Name: "probabilities", Datatype: "FP32", Shape: []int64{-1, nc}},
		},
	})
}

func (t *Triton) infer(w http.ResponseWriter, r *http.Request, i int) {
	body, _ := readBody(r)
	hdrLen := 0
	if h := r.Header.Get("Inference-Header-Content-Length"); h != "" {
		n, err := strconv.Atoi(h)
		if err != nil || n < 0 {
			t.fail(w, &tritonErr{http.StatusBadRequest, "Unable to parse Inference-Header-Content-Length: " + h})
			return
		}
		hdrLen = n
	}
	req, rows, err := decodeOIP(body, hdrLen)
	prefix := "[request id: <id_unknown>] "
	if req.ID != "" {
		prefix = "[request id: " + req.ID + "] "
	}
	clf := t.versions[i].Classifier
	var se *schemaError
	var sh *shapeError
	if errors.As(err, &sh) && (len(sh.shape) != 2 || sh.shape[1] != int64(clf.Features())) || err == nil && len(rows[0]) != clf.Features() {
		// The shape, not the data, disagrees with the model configuration.
		shape := req.Inputs[0].Shape
		t.fail(w, &tritonErr{http.StatusBadRequest, fmt.Sprintf("%sunexpected shape for input '%s' for model '%s'. Expected [-1,%d], got %s. "+
			"NOTE: Setting a non-zero max_batch_size in the model config requires a batch dimension to be prepended to each input shape. "+
			"If you want to specify the full shape including the batch dim in your input dims config, try setting max_batch_size to zero. "+
			"See the model configuration docs for more info on max_batch_size.", prefix, req.Inputs[0].Name, t.name, clf.Features(), dims(shape))})
		return
	}
	switch {
	case errors.As(err, &se):
		t.fail(w, &tritonErr{http.StatusBadRequest, "failed to parse the request JSON buffer: " + se.msg})
		return
	case err != nil:
		t.fail(w, &tritonErr{http.StatusBadRequest, prefix + "unexpected number of values for input '" + req.Inputs[0].Name + "': " + err.Error()})
		return
	}
	labels, probs, err := clf.Classify(rows)
	if err != nil {
		t.fail(w, &tritonErr{http.StatusBadRequest, prefix + err.Error()})
		return
	}
	p32 := make([]float32, 0, len(probs)*len(clf.Classes))
	for _, v := range flat(probs) {
		p32 = append(p32, float32(v))
	}
	b := int64(len(labels))
	writeJSON(w, 200, tritonInferResponse{ModelName: t.name, ModelVersion: t.versions[i].Name, ID: req.ID, Outputs: []tritonTensor{
		{Name: "label", Datatype: "INT64", Shape: []int64{b}, Data: labels},
		{Name: "probabilities", Datatype: "FP32", Shape: []int64{b, int64(len(clf.Classes))}, Data: p32},
	}})
}

// dims formats a shape as Triton does: [1,3].
func dims(s []int64) string {
	b, _ := json.Marshal(s)
	return string(b)
}

type tritonIndexEntry struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	State   string `json:"state"`
	Reason  string `json:"reason,omitempty"`
}

func (t *Triton) index(w http.ResponseWriter, r *http.Request) {
	body, _ := readBody(r)
	var req map[string]any
	if len(body) > 0 {
		if err := json.Unmarshal(body, &req); err != nil {
			t.fail(w, &tritonErr{http.StatusBadRequest, "failed to parse the request JSON buffer: " + err.Error()})
			return
		}
	}
	readyOnly := false
	if v, ok := req["ready"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			t.fail(w, &tritonErr{http.StatusBadRequest, "Invalid value for 'ready': expected a boolean"})
			return
		}
		readyOnly = b
	}
	out := []tritonIndexEntry{}
	for i, v := range t.versions {
		e := tritonIndexEntry{Name: t.name, Version: v.Name, State: "READY"}
		if t.unloaded[i].Load() {
			e.State, e.Reason = "UNAVAILABLE", "unloaded"
		}
		if !readyOnly || e.State == "READY" {
			out = append(out, e)
		}
	}
	writeJSON(w, 200, out)
}

func (t *Triton) control(w http.ResponseWriter, m, action string) {
	if m != t.name {
		t.fail(w, &tritonErr{http.StatusBadRequest, fmt.Sprintf("failed to %s '%s', no such model in the model repository", action, m)})
		return
	}
	t.setLoaded(action == "load")
	w.Header().Set("Content-Type", "application/json")
	writeRaw(w, 200, "", nil)
}
