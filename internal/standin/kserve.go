package standin

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

// KServe stands in for the KServe 0.12 Python model server (kserve==0.12.1,
// the sklearn server, "sklearnserver"), serving one model. Sources: the V1
// and V2 data-plane docs,
// https://kserve.github.io/website/0.12/modelserving/data_plane/v1_protocol/
// and https://kserve.github.io/website/0.12/modelserving/data_plane/v2_protocol/,
// and, for status codes and bodies the docs do not give, the v0.12.1 source:
// python/kserve/kserve/protocol/rest/server.py (route table),
// protocol/rest/v1_endpoints.py and v2_endpoints.py, errors.py (status per
// exception) and python/sklearnserver/sklearnserver/model.py.
//
// Reproduced:
//   - GET / → {"status":"alive"}; GET /v2/health/live → {"live":true};
//     GET /v2/health/ready → {"ready":true} always, whether the model is
//     loaded or not (the server-level ready of 0.12 is a constant).
//   - GET /v2 → {"name":"kserve","version":"0.12.1","extensions":["model_repository_extension"]}.
//   - GET /v2/models and GET /v1/models → {"models":[...]} (the model's
//     name, or [] once unloaded).
//   - GET /v2/models/{m} → {"name":m,"versions":null,"platform":"","inputs":[],"outputs":[]}.
//   - GET /v2/models/{m}/ready and GET /v1/models/{m} → 200
//     {"name":m,"ready":true}; once unloaded (or for another name) 404
//     {"error":"Model with name m does not exist."}.
//   - POST /v2/models/{m}/infer → {"model_name":m,"model_version":null,"id":...,
//     "parameters":null,"outputs":[{"name":"output-0","shape":[n],"datatype":"INT64","parameters":null,"data":[...]}]};
//     the id is the request's or a new UUID. With PredictProba the output is
//     FP64 [n,3] class probabilities (the server's PREDICT_PROBA=true).
//   - POST /v1/models/{m}:predict → {"predictions":[1,1]} (or probability rows).
//   - Every /v2/models/{m}/versions/{v} metadata and /versions/{v}/infer
//     call → 501 {"error":"Model versioning not supported yet."} (after the
//     body passed validation, for infer), whatever m and v; but
//     /versions/{v}/ready → 404 {"detail":"Not Found"}: 0.12 registers that
//     route without its leading slash, so it never matches. V1
//     /v1/models/{m}/versions/{v}:predict has no route → 404 {"detail":"Not Found"}.
//   - Bad input the model rejects (wrong feature count, data that does not
//     fit the shape, a V1 body without "instances") → 500
//     {"error":"X has 3 features, but SVC is expecting 4 features as input."}
//     (sklearn's message, wrapped in InferenceError, which KServe answers 500).
//     A V2 body that fails request validation → 422 {"detail":[...]}; a V1
//     body that is not JSON → 400 {"error":"Unrecognized request format: ..."}.
//   - POST /v2/repository/models/{m}/unload and /load (the model repository
//     extension, always on in 0.12) → {"name":m,"unload":true} / {"name":m,"load":true}.
//   - Unknown paths → 404 {"detail":"Not Found"}; a known path with another
//     method → 405 {"detail":"Method Not Allowed"} (FastAPI's answers).
//
// Not reproduced: the binary tensor extension and CloudEvents, :explain,
// /v2/models/{m}/generate, /metrics, multi-model serving, the exact
// FastAPI validation detail and sklearn's message for non-numeric input.
// Load re-registers the model at once; the real load re-reads the model from
// its storage. Predictions come from [Iris] (or the given classifier), not
// from the SVC of KServe's iris example, whose class name the error names.
type KServe struct {
	Recorder
	name         string
	clf          Classifier
	predictProba bool
	unloaded     atomic.Bool
}

// NewKServe returns a KServe stand-in serving model name with clf, loaded.
// predictProba selects class probabilities instead of labels as the answer
// (the sklearn server's PREDICT_PROBA environment variable).
func NewKServe(name string, clf Classifier, predictProba bool) *KServe {
	return &KServe{name: name, clf: clf, predictProba: predictProba}
}

// Unload removes the model, as POST /v2/repository/models/{m}/unload does.
func (k *KServe) Unload() { k.unloaded.Store(true) }

// Load registers the model again, as POST /v2/repository/models/{m}/load does.
func (k *KServe) Load() { k.unloaded.Store(false) }

// Loaded reports whether the model is loaded.
func (k *KServe) Loaded() bool { return !k.unloaded.Load() }

var (
	fastAPINotFound = map[string]string{"detail": "Not Found"}
	fastAPIMethod   = map[string]string{"detail": "Method Not Allowed"}
)

// ServeHTTP implements [http.Handler].
func (k *KServe) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.observe(r)
	p := r.URL.Path
	route := func(method string, h func()) {
		if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
			writeJSON(w, http.StatusMethodNotAllowed, fastAPIMethod)
			return
		}
		h()
	}
	switch p {
	case "/":
		route(http.MethodGet, func() { writeJSON(w, 200, map[string]string{"status": "alive"}) })
		return
	case "/v2":
		route(http.MethodGet, func() {
			writeJSON(w, 200, map[string]any{"name": "kserve", "version": "0.12.1", "extensions": []string{"model_repository_extension"}})
		})
		return
	case "/v2/health/live":
		route(http.MethodGet, func() { writeJSON(w, 200, map[string]bool{"live": true}) })
		return
	case "/v2/health/ready":
		route(http.MethodGet, func() { writeJSON(w, 200, map[string]bool{"ready": true}) })
		return
	case "/v2/models", "/v1/models":
		route(http.MethodGet, func() { writeJSON(w, 200, map[string][]string{"models": k.list()}) })
		return
	}
	if segs, ok := splitPath(p, "/v2/repository/models/"); ok && len(segs) == 2 && (segs[1] == "load" || segs[1] == "unload") {
		route(http.MethodPost, func() { k.repository(w, segs[0], segs[1]) })
		return
	}
	if segs, ok := splitPath(p, "/v2/models/"); ok && len(segs) > 0 && segs[0] != "" {
		m := segs[0]
		switch {
		case len(segs) == 1:
			route(http.MethodGet, func() { k.metadata(w, m) })
		case len(segs) == 2 && segs[1] == "ready":
			route(http.MethodGet, func() { k.ready(w, m) })
		case len(segs) == 2 && segs[1] == "infer":
			route(http.MethodPost, func() { k.infer(w, r, m, false) })
		case len(segs) == 3 && segs[1] == "versions" && segs[2] != "":
			route(http.MethodGet, func() { writeJSON(w, 501, map[string]string{"error": "Model versioning not supported yet."}) })
		case len(segs) == 4 && segs[1] == "versions" && segs[2] != "" && segs[3] == "infer":
			route(http.MethodPost, func() { k.infer(w, r, m, true) })
		default:
			writeJSON(w, 404, fastAPINotFound)
		}
		return
	}
	if segs, ok := splitPath(p, "/v1/models/"); ok && len(segs) == 1 && segs[0] != "" {
		m, verb, hasVerb := strings.Cut(segs[0], ":")
		switch {
		case !hasVerb:
			route(http.MethodGet, func() { k.ready(w, m) })
		case verb == "predict" && m != "":
			route(http.MethodPost, func() { k.predict(w, r, m) })
		default:
			writeJSON(w, 404, fastAPINotFound)
		}
		return
	}
	writeJSON(w, 404, fastAPINotFound)
}

func (k *KServe) list() []string {
	if k.unloaded.Load() {
		return []string{}
	}
	return []string{k.name}
}

// has reports whether model m is in the registry, answering 404 if not.
func (k *KServe) has(w http.ResponseWriter, m string) bool {
	if m != k.name || k.unloaded.Load() {
		writeJSON(w, 404, map[string]string{"error": fmt.Sprintf("Model with name %s does not exist.", m)})
		return false
	}
	return true
}

func (k *KServe) repository(w http.ResponseWriter, m, action string) {
	if m != k.name {
		writeJSON(w, 404, map[string]string{"error": fmt.Sprintf("Model with name %s does not exist.", m)})
		return
	}
	k.unloaded.Store(action == "unload")
	writeJSON(w, 200, map[string]any{"name": m, action: true})
}

func (k *KServe) metadata(w http.ResponseWriter, m string) {
	if k.has(w, m) {
		writeJSON(w, 200, map[string]any{"name": m, "versions": nil, "platform": "", "inputs": []any{}, "outputs": []any{}})
	}
}

func (k *KServe) ready(w http.ResponseWriter, m string) {
	if k.has(w, m) {
		writeJSON(w, 200, map[string]any{"name": m, "ready": true})
	}
}

// modelError answers an error the model raised, as InferenceError → 500.
func (k *KServe) modelError(w http.ResponseWriter, err error) {
	msg := err.Error()
	var fe *FeatureError
	var se *shapeError
	switch {
	case errors.As(err, &fe):
		msg = fmt.Sprintf("X has %d features, but SVC is expecting %d features as input.", fe.Got, fe.Want)
	case errors.As(err, &se):
		msg = fmt.Sprintf("cannot reshape array of size %d into shape %s", se.size, pyShape(se.shape))
	}
	writeJSON(w, 500, map[string]string{"error": msg})
}

func (k *KServe) infer(w http.ResponseWriter, r *http.Request, m string, versioned bool) {
	body, _ := readBody(r)
	req, rows, err := decodeOIP(body, 0)
	var se *schemaError
	if errors.As(err, &se) {
		writeJSON(w, 422, map[string]any{"detail": []map[string]any{{"loc": []string{"body"}, "msg": se.msg, "type": "value_error"}}})
		return
	}
	if versioned {
		writeJSON(w, 501, map[string]string{"error": "Model versioning not supported yet."})
		return
	}
	if !k.has(w, m) {
		return
	}
	labels, probs, ok := k.classify(w, rows, err)
	if !ok {
		return
	}
	id := req.ID
	if id == "" {
		id = newUUID()
	}
	out := map[string]any{"name": "output-0", "shape": []int{len(labels)}, "datatype": "INT64", "parameters": nil, "data": labels}
	if k.predictProba {
		out["shape"], out["datatype"], out["data"] = []int{len(probs), len(k.clf.Classes)}, "FP64", flat(probs)
	}
	writeJSON(w, 200, map[string]any{"model_name": m, "model_version": nil, "id": id, "parameters": nil, "outputs": []any{out}})
}

// classify runs the model on rows unless parsing failed (err), answering
// the error as KServe does; ok is false when it answered.
func (k *KServe) classify(w http.ResponseWriter, rows [][]float64, err error) (labels []int64, probs [][]float64, ok bool) {
	if err == nil {
		labels, probs, err = k.clf.Classify(rows)
	}
	if err != nil {
		k.modelError(w, err)
		return nil, nil, false
	}
	return labels, probs, true
}

func (k *KServe) predict(w http.ResponseWriter, r *http.Request, m string) {
	if !k.has(w, m) {
		return
	}
	body, _ := readBody(r)
	rows, found, err := v1Rows(body)
	var se *schemaError
	switch {
	case errors.As(err, &se):
		writeJSON(w, 400, map[string]string{"error": "Unrecognized request format: " + se.msg})
		return
	case err == nil && !found:
		writeJSON(w, 500, map[string]string{"error": "'instances'"})
		return
	}
	labels, probs, ok := k.classify(w, rows, err)
	if !ok {
		return
	}
	if k.predictProba {
		writeJSON(w, 200, map[string]any{"predictions": probs})
		return
	}
	writeJSON(w, 200, map[string]any{"predictions": labels})
}

// pyShape formats a shape as a Python tuple: (1, 4) or (4,).
func pyShape(s []int64) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.FormatInt(d, 10)
	}
	if len(parts) == 1 {
		return "(" + parts[0] + ",)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}
