package modelserver

import (
	"math"
	"slices"
	"strings"
	"testing"
)

// testModel is the model used throughout the tests: w = [0.8,-0.4,0.3,0.1],
// b = -0.2.
func testModel() Model {
	return Model{Name: "fraud", Version: "v1", Weights: []float64{0.8, -0.4, 0.3, 0.1}, Bias: -0.2}
}

// Hand-computed probabilities for testModel:
//
//	rowA = [1,2,3,4]:     z = 0.8-0.8+0.9+0.4-0.2 = 1.1;  p = 1/(1+e^-1.1)
//	rowB = [0,0,0,0]:     z = -0.2;                       p = 1/(1+e^0.2)
//	rowC = [2,1,0.5,-3]:  z = 1.6-0.4+0.15-0.3-0.2 = 0.85; p = 1/(1+e^-0.85)
const (
	probA = 0.7502601055951177
	probB = 0.45016600268752216
	probC = 0.700567142473973
)

const tol = 1e-12

func TestPredict(t *testing.T) {
	tests := []struct {
		desc    string
		model   *Model // testModel() if nil
		x       []float64
		want    float64
		wantErr string
	}{
		{desc: "row A", x: []float64{1, 2, 3, 4}, want: probA},
		{desc: "zero row gives sigmoid(bias)", x: []float64{0, 0, 0, 0}, want: probB},
		{desc: "row C", x: []float64{2, 1, 0.5, -3}, want: probC},
		{desc: "large positive score saturates to 1", x: []float64{1e6, 0, 0, 0}, want: 1},
		{desc: "large negative score saturates to 0", x: []float64{-1e6, 0, 0, 0}, want: 0},
		{desc: "too few features", x: []float64{1, 2, 3}, wantErr: "expects 4 features, got 3"},
		{desc: "too many features", x: []float64{1, 2, 3, 4, 5}, wantErr: "expects 4 features, got 5"},
		{desc: "no features", x: nil, wantErr: "expects 4 features, got 0"},
		{
			desc:    "overflowing terms cancel to NaN",
			model:   &Model{Name: "big", Weights: []float64{2, 2}},
			x:       []float64{math.MaxFloat64, -math.MaxFloat64},
			wantErr: "non-finite",
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			m := testModel()
			if tc.model != nil {
				m = *tc.model
			}
			got, err := m.Predict(tc.x)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Predict(%v) error = %v, want containing %q", tc.x, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Predict(%v) unexpected error: %v", tc.x, err)
			}
			if math.Abs(got-tc.want) > tol {
				t.Errorf("Predict(%v) = %v, want %v", tc.x, got, tc.want)
			}
		})
	}
}

func TestParseWeights(t *testing.T) {
	tests := []struct {
		desc    string
		in      string
		want    []float64
		wantErr bool
	}{
		{desc: "default weights", in: "0.8,-0.4,0.3,0.1", want: []float64{0.8, -0.4, 0.3, 0.1}},
		{desc: "spaces ignored", in: " 1 , 2e-1 ,-3 ", want: []float64{1, 0.2, -3}},
		{desc: "single weight", in: "5", want: []float64{5}},
		{desc: "empty", in: "", wantErr: true},
		{desc: "blank", in: "  ", wantErr: true},
		{desc: "empty item", in: "1,,2", wantErr: true},
		{desc: "trailing comma", in: "1,2,", wantErr: true},
		{desc: "not a number", in: "1,x", wantErr: true},
		{desc: "NaN", in: "NaN", wantErr: true},
		{desc: "infinity", in: "1,+Inf", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := ParseWeights(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseWeights(%q) = %v, want error", tc.in, got)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("ParseWeights(%q) = %v, %v; want %v, nil", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestModelValidate(t *testing.T) {
	tests := []struct {
		desc    string
		edit    func(*Model)
		wantErr string
	}{
		{desc: "valid", edit: func(*Model) {}},
		{desc: "empty name", edit: func(m *Model) { m.Name = "" }, wantErr: "name is empty"},
		{desc: "slash in name", edit: func(m *Model) { m.Name = "a/b" }, wantErr: "contains '/'"},
		{desc: "empty version", edit: func(m *Model) { m.Version = "" }, wantErr: "version is empty"},
		{desc: "slash in version", edit: func(m *Model) { m.Version = "1/2" }, wantErr: "contains '/'"},
		{desc: "no weights", edit: func(m *Model) { m.Weights = nil }, wantErr: "no weights"},
		{desc: "NaN weight", edit: func(m *Model) { m.Weights[1] = math.NaN() }, wantErr: "weight 1"},
		{desc: "infinite bias", edit: func(m *Model) { m.Bias = math.Inf(-1) }, wantErr: "bias"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			m := testModel()
			tc.edit(&m)
			err := m.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("Validate() = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
}
