package standin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync/atomic"
)

// MLServer stands in for Seldon MLServer 1.x serving one model with the
// SKLearn runtime (mlserver-sklearn) at one or more string versions, with
// parallel inference on (the default, parallel_workers=1). Sources: the docs,
// https://docs.seldon.ai/mlserver/runtimes/sklearn (outputs "predict" /
// "predict_proba"), https://docs.seldon.ai/mlserver/examples/model-repository
// (the model repository API, modelled on Triton's) and
// https://docs.seldon.ai/mlserver/user-guide/parallel-inference (one worker
// process by default); the V2 dataplane paths follow the Open Inference
// Protocol, https://kserve.github.io/website/docs/concepts/architecture/data-plane/v2-protocol;
// for statuses and bodies the docs leave open, the source (SeldonIO/MLServer,
// 1.7.0.dev0): mlserver/rest/app.py (routes), mlserver/errors.py and
// rest/errors.py (status per error), rest/utils.py (to_status_code),
// parallel/errors.py (WorkerError), registry.py (default version).
//
// Reproduced:
//   - GET /v2/health/live → 200; GET /v2/health/ready → 200 when every
//     loaded model is ready, else 400: 400 while this model loads
//     ([MLServer.SetReady]), 200 again once it is unloaded (unloading removes
//     it). Bodies are empty here.
//   - GET /v2 → {"name":"mlserver","version":"1.7.0.dev0","extensions":[]}.
//   - GET /v2/models/{m}[/versions/{v}]/ready → 200 or 400 (not ready);
//     unknown or unloaded model 404 {"error":"Model m not found"}, unknown
//     version 404 {"error":"Model m with version v not found"}. Metadata
//     and infer answer the same errors.
//   - Unversioned paths use the default version: the newest, comparing
//     names as integers when both are, else as strings.
//   - GET /v2/models/{m}[/versions/{v}] → {"name":m,"versions":[],"platform":"","inputs":[],"outputs":[]}
//     ("versions" lists dependency versions in MLServer, none here).
//   - POST .../infer → {"model_name":m,"model_version":v,"id":...,"outputs":[{"name":"predict",
//     "shape":[b,1],"datatype":"INT64","parameters":{"content_type":"np"},"data":[...]}]};
//     requesting the output "predict_proba" gives FP64 [b,3] probabilities.
//   - Bad input the model rejects → 500 {"error":"builtins.ValueError: X has 3
//     features, but LogisticRegression is expecting 4 features as input."}
//     (the worker's exception, wrapped in WorkerError, which keeps 500 for
//     non-MLServer errors); an unknown output name → 400 (InferenceError);
//     a body that fails request validation → 422 {"detail":[...]}.
//   - POST /v2/repository/index with {} → [{"name":m,"version":v,"state":"READY","reason":""},...]
//     ("UNAVAILABLE" once unloaded; {"ready":true} lists only ready ones; no
//     body → 422, the request object is required); POST /v2/repository/models/{m}/load |
//     unload → 200 (404 for another model).
//   - Unknown paths (GET /v2/models, /v1/...) → 404 {"detail":"Not Found"};
//     wrong method → 405 {"detail":"Method Not Allowed"} (FastAPI's answers).
//
// Not reproduced: the binary tensor extension (MLServer's REST API has
// none), generate and infer_stream, docs pages, metrics, adaptive
// batching, the request "parameters" and content types other than numpy,
// FastAPI's exact validation detail. Without parallel inference
// (parallel_workers=0) the real server answers bad input 500 with a plain
// "Internal Server Error" instead.
type MLServer struct {
	Recorder
	name     string
	versions []Version
	def      int // index of the default version
	unloaded atomic.Bool
	notReady atomic.Bool
}

// NewMLServer returns an MLServer stand-in serving model name at the given
// versions (at least one), loaded.
func NewMLServer(name string, versions ...Version) *MLServer {
	if len(versions) == 0 {
		panic("standin: MLServer needs at least one version")
	}
	m := &MLServer{name: name, versions: append([]Version(nil), versions...)}
	for i, v := range m.versions {
		if newer(v.Name, m.versions[m.def].Name) {
			m.def = i
		}
	}
	return m
}

// newer reports whether version a is newer than b, as MLServer's
// _is_newer orders them.
func newer(a, b string) bool {
	ai, errA := strconv.Atoi(a)
	bi, errB := strconv.Atoi(b)
	if errA == nil && errB == nil {
		return ai > bi
	}
	return a > b
}

// Unload removes the model (every version), as POST
// /v2/repository/models/{m}/unload does.
func (s *MLServer) Unload() { s.unloaded.Store(true) }

// Load loads the model again, as POST /v2/repository/models/{m}/load does.
func (s *MLServer) Load() { s.unloaded.Store(false) }

// SetReady sets whether the loaded model is ready (false: still loading).
// A model that is not ready answers 400 on its ready path and on infer
// ({"error":"Model m is not ready yet."}, naming the version if the path
// does) and makes
// /v2/health/ready answer 400.
func (s *MLServer) SetReady(ready bool) { s.notReady.Store(!ready) }

// loading reports whether a loaded model is not ready.
func (s *MLServer) loading() bool { return s.notReady.Load() && !s.unloaded.Load() }

func readyCode(ready bool) int {
	if ready {
		return http.StatusOK
	}
	return http.StatusBadRequest
}

type mlserverOutput struct {
	Name       string            `json:"name"`
	Shape      []int             `json:"shape"`
	Datatype   string            `json:"datatype"`
	Parameters map[string]string `json:"parameters"`
	Data       any               `json:"data"`
}

type mlserverResponse struct {
	ModelName    string           `json:"model_name"`
	ModelVersion string           `json:"model_version,omitempty"`
	ID           string           `json:"id"`
	Outputs      []mlserverOutput `json:"outputs"`
}

// ServeHTTP implements [http.Handler].
func (s *MLServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.observe(r)
	route := func(method string, h func()) {
		if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
			writeJSON(w, http.StatusMethodNotAllowed, fastAPIMethod)
			return
		}
		h()
	}
	switch r.URL.Path {
	case "/v2":
		route(http.MethodGet, func() {
			writeJSON(w, 200, map[string]any{"name": "mlserver", "version": "1.7.0.dev0", "extensions": []string{}})
		})
		return
	case "/v2/health/live":
		route(http.MethodGet, func() { writeRaw(w, 200, "application/json", nil) })
		return
	case "/v2/health/ready":
		route(http.MethodGet, func() { writeRaw(w, readyCode(!s.loading()), "application/json", nil) })
		return
	case "/v2/repository/index":
		route(http.MethodPost, func() { s.index(w, r) })
		return
	}
	if segs, ok := splitPath(r.URL.Path, "/v2/repository/models/"); ok && len(segs) == 2 && (segs[1] == "load" || segs[1] == "unload") {
		route(http.MethodPost, func() {
			if segs[0] != s.name {
				writeJSON(w, 404, map[string]string{"error": "Model " + segs[0] + " not found"})
				return
			}
			s.unloaded.Store(segs[1] == "unload")
			writeRaw(w, 200, "application/json", nil)
		})
		return
	}
	segs, ok := splitPath(r.URL.Path, "/v2/models/")
	if !ok || len(segs) == 0 || segs[0] == "" {
		writeJSON(w, 404, fastAPINotFound)
		return
	}
	m, version, rest := segs[0], "", segs[1:]
	if len(rest) >= 2 && rest[0] == "versions" && rest[1] != "" {
		version, rest = rest[1], rest[2:]
	}
	switch {
	case len(rest) == 0:
		route(http.MethodGet, func() {
			if _, ok := s.model(w, m, version); ok {
				writeJSON(w, 200, map[string]any{"name": m, "versions": []string{}, "platform": "", "inputs": []any{}, "outputs": []any{}})
			}
		})
	case len(rest) == 1 && rest[0] == "ready":
		route(http.MethodGet, func() {
			if _, ok := s.model(w, m, version); ok {
				writeRaw(w, readyCode(!s.loading()), "application/json", nil)
			}
		})
	case len(rest) == 1 && rest[0] == "infer":
		route(http.MethodPost, func() { s.infer(w, r, m, version) })
	default:
		writeJSON(w, 404, fastAPINotFound)
	}
}

// model finds (m, version) in the registry, answering 404 if absent.
func (s *MLServer) model(w http.ResponseWriter, m, version string) (int, bool) {
	if m == s.name && !s.unloaded.Load() {
		if version == "" {
			return s.def, true
		}
		for i, v := range s.versions {
			if v.Name == version {
				return i, true
			}
		}
	}
	msg := "Model " + m + " not found"
	if version != "" {
		msg = fmt.Sprintf("Model %s with version %s not found", m, version)
	}
	writeJSON(w, 404, map[string]string{"error": msg})
	return 0, false
}

func (s *MLServer) infer(w http.ResponseWriter, r *http.Request, m, version string) {
	body, _ := readBody(r)
	req, rows, err := decodeOIP(body, 0)
	var se *schemaError
	if errors.As(err, &se) {
		writeJSON(w, 422, map[string]any{"detail": []map[string]any{{"type": "value_error", "loc": []string{"body"}, "msg": se.msg}}})
		return
	}
	i, ok := s.model(w, m, version)
	if !ok {
		return
	}
	if s.loading() {
		msg := "Model " + m + " is not ready yet."
		if version != "" {
			msg = fmt.Sprintf("Model %s with version %s is not ready yet.", m, version)
		}
		writeJSON(w, 400, map[string]string{"error": msg})
		return
	}
	outputs := []string{"predict"}
	if len(req.Outputs) > 0 {
		outputs = outputs[:0]
		for _, o := range req.Outputs {
			if o.Name != "predict" && o.Name != "predict_proba" {
				writeJSON(w, 400, map[string]string{"error": "mlserver.errors.InferenceError: SKLearnModel only supports 'predict', " +
					"'predict_proba' and 'transform' as outputs (" + o.Name + " was received)"})
				return
			}
			outputs = append(outputs, o.Name)
		}
	}
	clf := s.versions[i].Classifier
	var labels []int64
	var probs [][]float64
	if err == nil {
		labels, probs, err = clf.Classify(rows)
	}
	if err != nil {
		var fe *FeatureError
		var sh *shapeError
		msg := err.Error()
		switch {
		case errors.As(err, &fe):
			msg = fmt.Sprintf("X has %d features, but LogisticRegression is expecting %d features as input.", fe.Got, fe.Want)
		case errors.As(err, &sh):
			msg = fmt.Sprintf("cannot reshape array of size %d into shape %s", sh.size, pyShape(sh.shape))
		}
		writeJSON(w, 500, map[string]string{"error": "builtins.ValueError: " + msg})
		return
	}
	id := req.ID
	if id == "" {
		id = newUUID()
	}
	resp := mlserverResponse{ModelName: m, ModelVersion: s.versions[i].Name, ID: id}
	np := map[string]string{"content_type": "np"}
	for _, o := range outputs {
		if o == "predict" {
			resp.Outputs = append(resp.Outputs, mlserverOutput{Name: o, Shape: []int{len(labels), 1}, Datatype: "INT64", Parameters: np, Data: labels})
		} else {
			resp.Outputs = append(resp.Outputs, mlserverOutput{Name: o, Shape: []int{len(probs), len(clf.Classes)}, Datatype: "FP64", Parameters: np, Data: flat(probs)})
		}
	}
	writeJSON(w, 200, resp)
}

func (s *MLServer) index(w http.ResponseWriter, r *http.Request) {
	body, _ := readBody(r)
	var req struct {
		Ready *bool `json:"ready"`
	}
	if len(body) == 0 || json.Unmarshal(body, &req) != nil {
		writeJSON(w, 422, map[string]any{"detail": []map[string]any{{"type": "missing", "loc": []string{"body"}, "msg": "Field required"}}})
		return
	}
	state := "READY"
	if s.unloaded.Load() {
		state = "UNAVAILABLE"
	}
	out := []map[string]string{}
	for _, v := range s.versions {
		if req.Ready == nil || !*req.Ready || state == "READY" {
			out = append(out, map[string]string{"name": s.name, "version": v.Name, "state": state, "reason": ""})
		}
	}
	writeJSON(w, 200, out)
}
