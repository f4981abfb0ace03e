package standin

import (
	"errors"
	"fmt"

	"github.com/modelgate/modelgate/internal/modelserver"
)

// Classifier is a one-vs-rest multi-class logistic regression: one binary
// [modelserver.Model] per class, scored with modelserver's Predict. The class
// of a row is the index of the highest score (ties go to the lower index);
// its probabilities are the scores normalised to sum to 1, as scikit-learn's
// one-vs-rest predict_proba does. Every class model must have the same
// number of weights, the feature count.
type Classifier struct {
	Classes []modelserver.Model
}

// Iris returns a 3-class classifier for rows of the four iris features
// (sepal length, sepal width, petal length, petal width in cm) that labels
// the usual iris samples as setosa (0), versicolor (1) or virginica (2). For
// the two rows of KServe's documented example request,
// [[6.8,2.8,4.8,1.4],[6.0,3.4,4.5,1.6]], it answers [1,1] as KServe's
// sklearn iris model does.
func Iris() Classifier {
	return Classifier{Classes: []modelserver.Model{
		{Name: "setosa", Version: "1", Weights: []float64{0, 0, -3, 0}, Bias: 7.5},
		{Name: "versicolor", Version: "1", Weights: []float64{0, 0, 0, 0}, Bias: 0},
		{Name: "virginica", Version: "1", Weights: []float64{0, 0, 3, 4}, Bias: -24},
	}}
}

// IrisAlt is [Iris] with a lower virginica threshold: a second version whose
// answers differ from Iris on the versicolor/virginica border (for example
// [6.3,2.8,5.1,1.5] is 1 under Iris and 2 under IrisAlt) and agree on
// clear-cut rows, for shadow comparisons of class labels.
func IrisAlt() Classifier {
	c := Iris()
	c.Classes[2].Bias = -20.5
	return c
}

// Features returns the number of input features (0 for no classes).
func (c Classifier) Features() int {
	if len(c.Classes) == 0 {
		return 0
	}
	return len(c.Classes[0].Weights)
}

// FeatureError reports a row with the wrong number of features.
type FeatureError struct {
	Row, Got, Want int
}

func (e *FeatureError) Error() string {
	return fmt.Sprintf("row %d has %d features, the model expects %d", e.Row, e.Got, e.Want)
}

// Classify returns each row's class label and class probabilities. It
// returns a *FeatureError if a row's length is not Features(), or another
// error if a row's scores are not numbers.
func (c Classifier) Classify(rows [][]float64) (labels []int64, probs [][]float64, err error) {
	if len(rows) == 0 {
		return nil, nil, errors.New("no input rows")
	}
	want := c.Features()
	for i, r := range rows {
		if len(r) != want {
			return nil, nil, &FeatureError{Row: i, Got: len(r), Want: want}
		}
		p := make([]float64, len(c.Classes))
		sum, best := 0.0, 0
		for k, m := range c.Classes {
			if p[k], err = m.Predict(r); err != nil {
				return nil, nil, fmt.Errorf("row %d: %w", i, err)
			}
			sum += p[k]
			if p[k] > p[best] {
				best = k
			}
		}
		for k := range p {
			if sum > 0 {
				p[k] /= sum
			}
		}
		labels = append(labels, int64(best))
		probs = append(probs, p)
	}
	return labels, probs, nil
}

func flat(probs [][]float64) []float64 {
	var out []float64
	for _, p := range probs {
		out = append(out, p...)
	}
	return out
}
