package standin

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"net/http"
	"reflect"
	"testing"
)

func TestClassifier(t *testing.T) {
	tests := []struct {
		name       string
		clf        Classifier
		rows       [][]float64
		wantLabels []int64
		wantErr    bool
	}{
		{"kserve example", Iris(), [][]float64{{6.8, 2.8, 4.8, 1.4}, {6.0, 3.4, 4.5, 1.6}}, []int64{1, 1}, false},
		{"setosa virginica", Iris(), [][]float64{{5.1, 3.5, 1.4, 0.2}, {7.7, 3.0, 6.1, 2.3}}, []int64{0, 2}, false},
		{"border under Iris", Iris(), [][]float64{{6.3, 2.8, 5.1, 1.5}}, []int64{1}, false},
		{"border under IrisAlt", IrisAlt(), [][]float64{{6.3, 2.8, 5.1, 1.5}}, []int64{2}, false},
		{"IrisAlt agrees on clear rows", IrisAlt(), [][]float64{{5.1, 3.5, 1.4, 0.2}, {6.8, 2.8, 4.8, 1.4}, {7.7, 3.0, 6.1, 2.3}}, []int64{0, 1, 2}, false},
		{"three features", Iris(), [][]float64{{1, 2, 3}}, nil, true},
		{"no rows", Iris(), nil, nil, true},
		{"not a number", Iris(), [][]float64{{math.Inf(1), 0, math.Inf(-1), 0}}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			labels, probs, err := tt.clf.Classify(tt.rows)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if !reflect.DeepEqual(labels, tt.wantLabels) {
				t.Errorf("labels %v, want %v", labels, tt.wantLabels)
			}
			for i, p := range probs {
				sum := 0.0
				for _, x := range p {
					sum += x
				}
				if math.Abs(sum-1) > 1e-9 {
					t.Errorf("row %d probabilities %v sum to %v", i, p, sum)
				}
			}
		})
	}
	var fe *FeatureError
	if _, _, err := Iris().Classify([][]float64{{1, 2, 3}}); !errors.As(err, &fe) || fe.Got != 3 || fe.Want != 4 {
		t.Errorf("three features: err %v, want a FeatureError 3/4", err)
	}
}

func TestDecodeOIP(t *testing.T) {
	bin := new(bytes.Buffer)
	for _, v := range []float32{6.8, 2.8, 4.8, 1.4} {
		_ = binary.Write(bin, binary.LittleEndian, v)
	}
	hdr := `{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","parameters":{"binary_data_size":16}}]}`
	tests := []struct {
		name      string
		body      string
		headerLen int
		wantRows  int
		wantErr   any // nil, *schemaError or *shapeError
	}{
		{"nested", irisV2Body, 0, 2, nil},
		{"flat", `{"inputs":[{"name":"x","shape":[2,4],"datatype":"FP64","data":[1,2,3,4,5,6,7,8]}]}`, 0, 2, nil},
		{"binary", hdr + bin.String(), len(hdr), 1, nil},
		{"binary size too big", hdr, len(hdr), 0, &schemaError{}},
		{"header longer than body", hdr, len(hdr) + 1, 0, &schemaError{}},
		{"not json", `{`, 0, 0, &schemaError{}},
		{"no inputs field", `{"id":"1"}`, 0, 0, &schemaError{}},
		{"empty inputs", `{"inputs":[]}`, 0, 0, &schemaError{}},
		{"strings", `{"inputs":[{"name":"x","shape":[1,1],"datatype":"BYTES","data":["a"]}]}`, 0, 0, &schemaError{}},
		{"rank 1", `{"inputs":[{"name":"x","shape":[4],"datatype":"FP32","data":[1,2,3,4]}]}`, 0, 0, &shapeError{}},
		{"shape does not fit", `{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3]}]}`, 0, 0, &shapeError{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, rows, err := decodeOIP([]byte(tt.body), tt.headerLen)
			switch tt.wantErr.(type) {
			case nil:
				if err != nil {
					t.Fatal(err)
				}
			case *schemaError:
				var se *schemaError
				if !errors.As(err, &se) {
					t.Fatalf("err %v, want a schemaError", err)
				}
			case *shapeError:
				var se *shapeError
				if !errors.As(err, &se) {
					t.Fatalf("err %v, want a shapeError", err)
				}
			}
			if len(rows) != tt.wantRows {
				t.Errorf("%d rows, want %d", len(rows), tt.wantRows)
			}
		})
	}
}

func TestRecorder(t *testing.T) {
	k := NewKServe("iris", Iris(), false)
	url, stop := Start(t, k)
	const n = 50
	hammer(t, url, "/v2/health/ready", n, map[string]string{"X-Probe": "yes"})
	hammer(t, url, "/no/such/path", 3, nil)
	if got := k.PathCount("/v2/health/ready"); got != n {
		t.Errorf("PathCount(ready) = %d, want %d", got, n)
	}
	if got := k.PathCount("/no/such/path"); got != 3 {
		t.Errorf("PathCount(unknown) = %d, want 3", got)
	}
	if got := k.PathCount("/v2/models/iris/infer"); got != 0 {
		t.Errorf("PathCount(never requested) = %d, want 0", got)
	}
	if got := k.Total(); got != n+3 {
		t.Errorf("Total = %d, want %d", got, n+3)
	}
	if got := k.Paths(); len(got) != 2 || got["/v2/health/ready"] != n {
		t.Errorf("Paths = %v", got)
	}
	if k.LastPath() != "/no/such/path" || k.LastHeader().Get("X-Probe") != "" {
		t.Errorf("last = %q %v, want the unknown path without X-Probe", k.LastPath(), k.LastHeader())
	}
	run(t, url, []step{{name: "header recorded", path: "/v2/health/live", header: map[string]string{"X-Tenant": "acme"}, status: 200,
		check: func(t *testing.T, _ []byte) {
			if got := k.LastHeader().Get("X-Tenant"); got != "acme" {
				t.Errorf("LastHeader X-Tenant = %q", got)
			}
		}}})
	k.ResetCounts()
	if k.Total() != 0 || len(k.Paths()) != 0 || k.LastHeader() != nil || k.LastPath() != "" {
		t.Errorf("after ResetCounts: total %d paths %v", k.Total(), k.Paths())
	}
	stop()
	stop() // idempotent
	if resp, err := client.Get(url + "/v2/health/live"); err == nil {
		resp.Body.Close()
		t.Fatal("request after stop succeeded")
	}
}

func TestNumericVersionsPanics(t *testing.T) {
	for _, name := range []string{"v1", "0", "-1", "01", ""} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("version %q accepted", name)
				}
			}()
			NewTriton("iris", false, Version{Name: name, Classifier: Iris()})
		})
	}
	t.Run("no versions", func(t *testing.T) {
		for _, f := range []func(){
			func() { NewTriton("iris", false) }, func() { NewTFServing("iris") },
			func() { NewMLServer("iris") }, func() { NewTorchServe("iris") },
		} {
			func() {
				defer func() {
					if recover() == nil {
						t.Error("no versions accepted")
					}
				}()
				f()
			}()
		}
	})
}

var _ http.Handler = (*KServe)(nil)
