// Package modelserver is a tiny model container used by the
// gateway's demo and integration tests. It serves a real (if small) logistic
// regression model over the Open Inference Protocol (OIP / KServe V2, REST and,
// with Options.GRPC or RegisterGRPC, gRPC) and the
// KServe V1 / TF Serving predict API, with run-time fault injection (delay,
// failure status, readiness) and request recording for assertions in tests.
package modelserver

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Model is a binary logistic regression model: p = sigmoid(w·x + b).
//
// Name and Version identify the model in request paths and must be non-empty
// and free of '/'. Weights holds one coefficient per input feature, so
// len(Weights) is the feature count every input row must have.
type Model struct {
	Name    string
	Version string
	Weights []float64
	Bias    float64
}

// Validate reports whether m can be served: Name and Version must be non-empty
// and contain no '/', Weights must be non-empty, and every weight and the bias
// must be finite.
func (m Model) Validate() error {
	switch {
	case m.Name == "":
		return errors.New("modelserver: model name is empty")
	case strings.Contains(m.Name, "/"):
		return fmt.Errorf("modelserver: model name %q contains '/'", m.Name)
	case m.Version == "":
		return errors.New("modelserver: model version is empty")
	case strings.Contains(m.Version, "/"):
		return fmt.Errorf("modelserver: model version %q contains '/'", m.Version)
	case len(m.Weights) == 0:
		return errors.New("modelserver: model has no weights")
	}
	for i, w := range m.Weights {
		if math.IsNaN(w) || math.IsInf(w, 0) {
			return fmt.Errorf("modelserver: weight %d is not finite (%v)", i, w)
		}
	}
	if math.IsNaN(m.Bias) || math.IsInf(m.Bias, 0) {
		return fmt.Errorf("modelserver: bias is not finite (%v)", m.Bias)
	}
	return nil
}

// Predict returns the probability of the positive class for one input row,
// sigmoid(w·x + b), in [0, 1]. It returns an error if len(x) != len(m.Weights)
// or if the score is not a number (e.g. +Inf and -Inf terms cancelling).
func (m Model) Predict(x []float64) (prob float64, err error) {
	if len(x) != len(m.Weights) {
		return 0, fmt.Errorf("model %q expects %d features, got %d", m.Name, len(m.Weights), len(x))
	}
	z := m.Bias
	for i, w := range m.Weights {
		z += w * x[i]
	}
	if math.IsNaN(z) {
		return 0, errors.New("input produces a non-finite score")
	}
	return sigmoid(z), nil
}

// sigmoid is the numerically stable logistic function 1/(1+e^-z).
func sigmoid(z float64) float64 {
	if z >= 0 {
		return 1 / (1 + math.Exp(-z))
	}
	e := math.Exp(z)
	return e / (1 + e)
}

// ParseWeights parses a comma-separated list of finite numbers such as
// "0.8,-0.4,0.3". Spaces around items are ignored. It returns an error for an
// empty list, an empty item or a value that is not a finite float.
func ParseWeights(s string) ([]float64, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("modelserver: weights list is empty")
	}
	parts := strings.Split(s, ",")
	ws := make([]float64, 0, len(parts))
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			return nil, fmt.Errorf("modelserver: weight %d is empty", i)
		}
		w, err := strconv.ParseFloat(p, 64)
		if err != nil || math.IsNaN(w) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("modelserver: weight %d (%q) is not a finite number", i, p)
		}
		ws = append(ws, w)
	}
	return ws, nil
}
