package modelserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
)

// Platform is the platform string reported in OIP model metadata.
const Platform = "modelgate-logreg"

type tensorMeta struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

type modelMetadata struct {
	Name     string       `json:"name"`
	Versions []string     `json:"versions"`
	Platform string       `json:"platform"`
	Inputs   []tensorMeta `json:"inputs"`
	Outputs  []tensorMeta `json:"outputs"`
}

type modelReady struct {
	Name  string `json:"name"`
	Ready bool   `json:"ready"`
}

func (s *Server) metadata() modelMetadata {
	return modelMetadata{
		Name:     s.model.Name,
		Versions: []string{s.model.Version},
		Platform: Platform,
		Inputs:   []tensorMeta{{Name: "input", Datatype: "FP64", Shape: []int64{-1, int64(len(s.model.Weights))}}},
		Outputs: []tensorMeta{
			{Name: "probability", Datatype: "FP64", Shape: []int64{-1, 1}},
			{Name: "scores", Datatype: "FP64", Shape: []int64{-1, 2}},
		},
	}
}

type inferInput struct {
	Name     string          `json:"name"`
	Shape    []int64         `json:"shape"`
	Datatype string          `json:"datatype"`
	Data     json.RawMessage `json:"data"`
}

type inferRequest struct {
	ID     string       `json:"id"`
	Inputs []inferInput `json:"inputs"`
}

type inferOutput struct {
	Name     string    `json:"name"`
	Datatype string    `json:"datatype"`
	Shape    []int64   `json:"shape"`
	Data     []float64 `json:"data"`
}

type inferResponse struct {
	ModelName    string        `json:"model_name"`
	ModelVersion string        `json:"model_version"`
	ID           string        `json:"id,omitempty"`
	Outputs      []inferOutput `json:"outputs"`
}

// infer answers an OIP v2 inference request whose body has been read.
func (s *Server) infer(w http.ResponseWriter, body []byte) {
	var req inferRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "malformed JSON request: "+err.Error())
		return
	}
	rows, err := s.inferRows(req.Inputs)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	probs, err := s.predictRows(rows)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	b := int64(len(probs))
	scores := make([]float64, 0, 2*len(probs))
	for _, p := range probs {
		scores = append(scores, 1-p, p)
	}
	probShape, scoreShape := []int64{b, 1}, []int64{b, 2}
	if s.flatShapes {
		probShape, scoreShape = []int64{b}, []int64{2 * b}
	}
	writeJSON(w, http.StatusOK, inferResponse{
		ModelName:    s.model.Name,
		ModelVersion: s.model.Version,
		ID:           req.ID,
		Outputs: []inferOutput{
			{Name: "probability", Datatype: "FP64", Shape: probShape, Data: probs},
			{Name: "scores", Datatype: "FP64", Shape: scoreShape, Data: scores},
		},
	})
}

// inferRows validates the OIP inputs and returns the input rows. Exactly one
// FP64 or FP32 input tensor of shape [B, N] or [N] (one row) is accepted, with
// data flat (row-major, B*N numbers) or nested (B rows of N numbers). Its name
// is not checked.
func (s *Server) inferRows(inputs []inferInput) ([][]float64, error) {
	if len(inputs) == 0 {
		return nil, errors.New(`request has no inputs; want one tensor named "input"`)
	}
	if len(inputs) > 1 {
		return nil, fmt.Errorf("request has %d inputs; want exactly 1", len(inputs))
	}
	in := inputs[0]
	batch, n, err := s.inputShape(in.Datatype, in.Shape)
	if err != nil {
		return nil, err
	}
	flat, rows, err := parseData(in.Data)
	if err != nil {
		return nil, fmt.Errorf("input data: %w", err)
	}
	if rows == nil { // flat, row-major
		return splitRows(flat, batch, n, in.Shape)
	}
	if int64(len(rows)) != batch {
		return nil, fmt.Errorf("input data has %d rows; shape %v needs %d", len(rows), in.Shape, batch)
	}
	for i, r := range rows {
		if int64(len(r)) != n {
			return nil, fmt.Errorf("input data row %d has %d values; model %s expects %d features", i, len(r), quote(s.model.Name), n)
		}
	}
	return rows, nil
}

// inputShape checks an input tensor's datatype (FP64 or FP32) and shape
// ([B, N] or [N], one row) against the model and returns B and N.
func (s *Server) inputShape(datatype string, shape []int64) (batch, n int64, err error) {
	if datatype != "FP64" && datatype != "FP32" {
		return 0, 0, fmt.Errorf("input datatype %s is not supported; want FP64 or FP32", quote(datatype))
	}
	switch len(shape) {
	case 1:
		batch, n = 1, shape[0]
	case 2:
		batch, n = shape[0], shape[1]
	default:
		return 0, 0, fmt.Errorf("input shape %v has rank %d; want [batch, features] or [features]", shape, len(shape))
	}
	if batch < 1 || n < 0 {
		return 0, 0, fmt.Errorf("input shape %v is invalid; want a positive batch size", shape)
	}
	if want := int64(len(s.model.Weights)); n != want {
		return 0, 0, fmt.Errorf("input has %d features; model %s expects %d", n, quote(s.model.Name), want)
	}
	return batch, n, nil
}

// splitRows cuts flat, row-major data into batch rows of n values.
func splitRows(flat []float64, batch, n int64, shape []int64) ([][]float64, error) {
	if n == 0 || batch > math.MaxInt64/n {
		return nil, fmt.Errorf("input shape %v is too large for %d data values", shape, len(flat))
	}
	if int64(len(flat)) != batch*n {
		return nil, fmt.Errorf("input data has %d values; shape %v needs %d", len(flat), shape, batch*n)
	}
	rows := make([][]float64, batch)
	for i := range rows {
		rows[i] = flat[int64(i)*n : int64(i+1)*n]
	}
	return rows, nil
}

// parseData parses a JSON array that is either flat (all numbers; returned as
// flat, rows nil) or nested one level (all arrays of numbers; returned as
// rows, which is then non-nil). Anything else is an error.
func parseData(raw json.RawMessage) (flat []float64, rows [][]float64, err error) {
	var top []any
	if len(raw) == 0 {
		return nil, nil, errors.New("missing")
	}
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, nil, errors.New("must be an array of numbers or of arrays of numbers")
	}
	if top == nil {
		return nil, nil, errors.New("missing")
	}
	nested := len(top) > 0
	if nested {
		_, nested = top[0].([]any)
	}
	if !nested {
		flat = make([]float64, len(top))
		for i, v := range top {
			f, ok := v.(float64)
			if !ok {
				return nil, nil, fmt.Errorf("element %d is %s; want a number%s", i, kind(v), mixHint(v))
			}
			flat[i] = f
		}
		return flat, nil, nil
	}
	rows = make([][]float64, len(top))
	for i, v := range top {
		row, ok := v.([]any)
		if !ok {
			return nil, nil, fmt.Errorf("element %d is %s; want an array of numbers%s", i, kind(v), mixHint(v))
		}
		rows[i] = make([]float64, len(row))
		for j, x := range row {
			f, ok := x.(float64)
			if !ok {
				return nil, nil, fmt.Errorf("element [%d][%d] is %s; want a number (at most 2 levels of nesting)", i, j, kind(x))
			}
			rows[i][j] = f
		}
	}
	return nil, rows, nil
}

// mixHint explains an error caused by mixing numbers and arrays in one level.
func mixHint(v any) string {
	switch v.(type) {
	case float64, []any:
		return " (mixing numbers and arrays is not allowed)"
	}
	return ""
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	default:
		return "a number"
	}
}

// predictRows runs the model on every row.
func (s *Server) predictRows(rows [][]float64) ([]float64, error) {
	probs := make([]float64, len(rows))
	for i, r := range rows {
		p, err := s.model.Predict(r)
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", i, err)
		}
		probs[i] = p
	}
	return probs, nil
}

type predictRequest struct {
	Instances json.RawMessage `json:"instances"`
	Inputs    json.RawMessage `json:"inputs"`
}

type predictResponse struct {
	Predictions [][2]float64 `json:"predictions"`
}

// predict answers a KServe V1 / TF Serving predict request whose body has
// been read: {"instances": [[x1..xN], ...]} (or "inputs" instead of
// "instances") → {"predictions": [[1-p, p], ...]}.
func (s *Server) predict(w http.ResponseWriter, body []byte) {
	var req predictRequest
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "malformed JSON request: "+err.Error())
		return
	}
	field, raw := "instances", req.Instances
	switch {
	case len(req.Instances) > 0 && len(req.Inputs) > 0:
		writeError(w, http.StatusBadRequest, `request has both "instances" and "inputs"; want one`)
		return
	case len(req.Inputs) > 0:
		field, raw = "inputs", req.Inputs
	}
	flat, rows, err := parseData(raw)
	switch {
	case err != nil:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%s: %v", field, err))
		return
	case rows == nil && len(flat) == 0:
		writeError(w, http.StatusBadRequest, field+" must not be empty")
		return
	case rows == nil:
		writeError(w, http.StatusBadRequest, field+" must be a list of instances, each a list of numbers")
		return
	}
	want := len(s.model.Weights)
	for i, r := range rows {
		if len(r) != want {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("instance %d has %d features; model %s expects %d", i, len(r), quote(s.model.Name), want))
			return
		}
	}
	probs, err := s.predictRows(rows)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	resp := predictResponse{Predictions: make([][2]float64, len(probs))}
	for i, p := range probs {
		resp.Predictions[i] = [2]float64{1 - p, p}
	}
	writeJSON(w, http.StatusOK, resp)
}
