package standin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// TF Serving model version states, as GET /v1/models/{m} reports them.
const (
	TFStateStart     = "START"
	TFStateLoading   = "LOADING"
	TFStateAvailable = "AVAILABLE"
	TFStateUnloading = "UNLOADING"
	TFStateEnd       = "END"
)

// TFServing stands in for TensorFlow Serving's REST API (port 8501)
// serving one SavedModel (a Keras softmax classifier, signature
// "serving_default") at numeric versions, with optional version labels.
// Sources: the REST API docs, https://www.tensorflow.org/tfx/serving/api_rest,
// and for statuses and bodies the docs leave open the source
// (tensorflow/serving): model_servers/http_rest_api_util.cc (path regexes),
// http_rest_api_handler.cc (dispatch, "Malformed request"),
// http_server.cc (ToHTTPStatusCode), get_model_status_impl.cc,
// server_core.cc (labels) and core/basic_manager.cc ("Servable not found").
//
// Reproduced:
//   - POST /v1/models/{m}[/versions/{n}|/labels/{l}]:predict with
//     {"instances":[rows]} → {"predictions":[[p0,p1,p2],...]} (class
//     probabilities) or {"inputs":...} → {"outputs":...}. Unversioned
//     requests use the highest AVAILABLE version.
//   - GET /v1/models/{m}[/versions/{n}|/labels/{l}] → 200 with
//     {"model_version_status":[{"version":"2","state":"AVAILABLE","status":{"error_code":"OK","error_message":""}},...]}
//     newest first, whatever the states: an unloaded version stays listed
//     as "END" with 200, so readiness must read the state, not the status
//     code. Unknown model 404 "Could not find any versions of model m",
//     unknown version 404 "Could not find version n of model m".
//   - GET /v1/models/{m}[...]/metadata → {"model_spec":...,"metadata":{"signature_def":...}} (trimmed).
//   - Errors are {"error":"..."} with the status of the TF error code:
//     bad input (wrong feature count) 400 "Matrix size-incompatible: ...";
//     unknown model 404 "Servable not found for request: Latest(m)";
//     unavailable version 404 "... Specific(m, n)"; unknown label 400
//     "Unrecognized servable version label: l"; a path that fits no route,
//     a non-numeric version included (/versions/v2:predict), 400
//     "Malformed request: POST /v1/models/m/versions/v2:predict";
//     GET /v1/models 400 "Missing model name in request.".
//   - There is no /v2: paths outside /v1/ answer 404 with an empty body.
//
// Not reproduced: classify and regress (answered 400 with a message of
// ours), the columnar format's named inputs, b64 binary values, case
// insensitivity of the path, the exact whitespace of answers, gRPC and
// the monitoring endpoint.
type TFServing struct {
	Recorder
	name     string
	versions []Version // ascending

	mu     sync.Mutex
	state  map[string]string // version → state
	labels map[string]string // label → version
}

// NewTFServing returns a TF Serving stand-in serving model name at the
// given versions (at least one; names must be positive integers), all
// AVAILABLE, without labels.
func NewTFServing(name string, versions ...Version) *TFServing {
	if len(versions) == 0 {
		panic("standin: TF Serving needs at least one version")
	}
	t := &TFServing{name: name, versions: numericVersions("TF Serving", versions), state: map[string]string{}, labels: map[string]string{}}
	for _, v := range t.versions {
		t.state[v.Name] = TFStateAvailable
	}
	return t
}

// SetState sets version's state (one of the TFState constants); only
// AVAILABLE versions serve predictions. Unloading a version (removing it
// from the model config or its directory) leaves it at TFStateEnd.
func (t *TFServing) SetState(version, state string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.state[version]; !ok {
		panic("standin: TF Serving has no version " + version)
	}
	t.state[version] = state
}

// SetLabel points label at version (the model config's version_labels);
// an empty version removes the label.
func (t *TFServing) SetLabel(label, version string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if version == "" {
		delete(t.labels, label)
		return
	}
	t.labels[label] = version
}

// tfError writes TF Serving's error body, { "error": "..." }.
func tfError(w http.ResponseWriter, status int, msg string) {
	writeRaw(w, status, "application/json", []byte(`{ "error": `+string(marshal(msg))+` }`))
}

// ServeHTTP implements [http.Handler].
func (t *TFServing) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t.observe(r)
	p := r.URL.Path
	if !strings.HasPrefix(p, "/v1/") {
		writeRaw(w, http.StatusNotFound, "", nil)
		return
	}
	malformed := func() { tfError(w, 400, "Malformed request: "+r.Method+" "+p) }
	if p == "/v1/models" && r.Method == http.MethodGet {
		tfError(w, 400, "Missing model name in request.")
		return
	}
	segs, ok := splitPath(p, "/v1/models/")
	if !ok || len(segs) == 0 {
		malformed()
		return
	}
	last := segs[len(segs)-1]
	verb := ""
	if i := strings.LastIndexByte(last, ':'); i >= 0 {
		verb, segs[len(segs)-1] = last[i+1:], last[:i]
	}
	meta := false
	if verb == "" && len(segs) > 1 && segs[len(segs)-1] == "metadata" {
		meta, segs = true, segs[:len(segs)-1]
	}
	m, version, label := segs[0], "", ""
	switch {
	case len(segs) == 1:
	case len(segs) == 3 && segs[1] == "versions" && isDigits(segs[2]):
		n, err := strconv.ParseInt(segs[2], 10, 64)
		if err != nil {
			tfError(w, 400, "Failed to convert version: "+segs[2]+" to numeric.")
			return
		}
		version = strconv.FormatInt(n, 10)
	case len(segs) == 3 && segs[1] == "labels" && segs[2] != "" && !strings.Contains(segs[2], ":"):
		label = segs[2]
	default:
		malformed()
		return
	}
	if m == "" || strings.Contains(m, ":") {
		malformed()
		return
	}
	switch {
	case r.Method == http.MethodPost && verb == "predict":
		t.predict(w, r, m, version, label)
	case r.Method == http.MethodPost && (verb == "classify" || verb == "regress"):
		tfError(w, 400, "standin: this model has no "+verb+" signature")
	case r.Method == http.MethodGet && verb == "":
		t.status(w, m, version, label, meta)
	default:
		malformed()
	}
}

// resolve finds the version for a request, as ServerCore does: a label
// maps to its version, no version means the highest AVAILABLE one.
func (t *TFServing) resolve(m, version, label string) (Version, int, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if label != "" {
		v, ok := t.labels[label]
		if !ok || m != t.name {
			return Version{}, 400, "Unrecognized servable version label: " + label
		}
		version = v
	}
	if m == t.name {
		for i := len(t.versions) - 1; i >= 0; i-- {
			v := t.versions[i]
			if (version == "" || v.Name == version) && t.state[v.Name] == TFStateAvailable {
				return v, 0, ""
			}
		}
	}
	if version == "" {
		return Version{}, 404, "Servable not found for request: Latest(" + m + ")"
	}
	return Version{}, 404, fmt.Sprintf("Servable not found for request: Specific(%s, %s)", m, version)
}

func (t *TFServing) predict(w http.ResponseWriter, r *http.Request, m, version, label string) {
	v, status, msg := t.resolve(m, version, label)
	if status != 0 {
		tfError(w, status, msg)
		return
	}
	body, _ := readBody(r)
	var probe map[string]json.RawMessage
	if json.Unmarshal(body, &probe) != nil {
		tfError(w, 400, "JSON Parse error: Invalid value. at offset: 0")
		return
	}
	_, columnar := probe["inputs"]
	rows, found, err := v1Rows(body)
	if err == nil && !found {
		tfError(w, 400, "Missing 'inputs' or 'instances' key")
		return
	}
	var probs [][]float64
	if err == nil {
		_, probs, err = v.Classifier.Classify(rows)
	}
	var fe *FeatureError
	switch {
	case errors.As(err, &fe):
		tfError(w, 400, fmt.Sprintf("Matrix size-incompatible: In[0]: [%d,%d], In[1]: [%d,%d]\n\t [[{{node sequential/dense/MatMul}}]]",
			len(rows), fe.Got, fe.Want, len(v.Classifier.Classes)))
		return
	case err != nil:
		tfError(w, 400, err.Error())
		return
	}
	key := "predictions"
	if columnar {
		key = "outputs"
	}
	writeJSON(w, 200, map[string]any{key: probs})
}

type tfVersionStatus struct {
	Version string `json:"version"`
	State   string `json:"state"`
	Status  struct {
		ErrorCode    string `json:"error_code"`
		ErrorMessage string `json:"error_message"`
	} `json:"status"`
}

func (t *TFServing) status(w http.ResponseWriter, m, version, label string, meta bool) {
	if meta {
		v, status, msg := t.resolve(m, version, label)
		if status != 0 {
			tfError(w, status, msg)
			return
		}
		sig := map[string]any{"method_name": "tensorflow/serving/predict",
			"inputs":  map[string]any{"input": map[string]any{"dtype": "DT_FLOAT", "name": "serving_default_input:0"}},
			"outputs": map[string]any{"output_0": map[string]any{"dtype": "DT_FLOAT", "name": "StatefulPartitionedCall:0"}}}
		writeJSON(w, 200, map[string]any{"model_spec": map[string]any{"name": m, "signature_name": "", "version": v.Name},
			"metadata": map[string]any{"signature_def": map[string]any{"signature_def": map[string]any{"serving_default": sig}}}})
		return
	}
	t.mu.Lock()
	if label != "" {
		v, ok := t.labels[label]
		if !ok || m != t.name {
			t.mu.Unlock()
			tfError(w, 400, "Unrecognized servable version label: "+label)
			return
		}
		version = v
	}
	var out []tfVersionStatus
	for i := len(t.versions) - 1; i >= 0; i-- {
		v := t.versions[i]
		if m == t.name && (version == "" || v.Name == version) {
			s := tfVersionStatus{Version: v.Name, State: t.state[v.Name]}
			s.Status.ErrorCode = "OK"
			out = append(out, s)
		}
	}
	t.mu.Unlock()
	if len(out) == 0 {
		if version == "" {
			tfError(w, 404, "Could not find any versions of model "+m)
		} else {
			tfError(w, 404, fmt.Sprintf("Could not find version %s of model %s", version, m))
		}
		return
	}
	var b bytes.Buffer
	_ = json.Indent(&b, marshal(map[string]any{"model_version_status": out}), "", " ")
	writeRaw(w, 200, "application/json", b.Bytes())
}
