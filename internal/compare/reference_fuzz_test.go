package compare_test

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/internal/compare"
)

// sameAsReference fails t unless compare.Compare and the encoding/json
// reference agree on a and b: same error, same Result field by field.
func sameAsReference(t *testing.T, a, b []byte, o compare.Options) {
	t.Helper()
	got, gotErr := compare.Compare(a, b, o)
	want, wantErr := refCompare(a, b, Options(o))
	switch {
	case gotErr == nil != (wantErr == nil):
		t.Fatalf("got error %v, want %v (primary %q, shadow %q)", gotErr, wantErr, a, b)
	case gotErr != nil && gotErr.Error() != wantErr.Error():
		t.Fatalf("got error %v, want %v", gotErr, wantErr)
	case gotErr != nil:
		return
	}
	same := got.Match == want.Match && string(got.Format) == string(want.Format) &&
		(got.MaxAbsDiff == want.MaxAbsDiff || math.IsNaN(got.MaxAbsDiff) && math.IsNaN(want.MaxAbsDiff)) &&
		got.Top1Rows == want.Top1Rows && got.Top1AgreeRows == want.Top1AgreeRows &&
		got.DiffCount == want.DiffCount && len(got.Diffs) == len(want.Diffs)
	for i := 0; same && i < len(got.Diffs); i++ {
		same = reflect.DeepEqual(got.Diffs[i], compare.Diff(want.Diffs[i]))
	}
	if !same {
		t.Fatalf("primary %q, shadow %q:\ngot  %+v\nwant %+v", a, b, got, want)
	}
}

// TestSameAsReference pins, on bodies where fastjson and encoding/json
// could part ways, that Compare gives the reference's results.
func TestSameAsReference(t *testing.T) {
	o := compare.Options{Tolerance: 0.001, IgnoreFields: []string{"id"}}
	tests := []struct{ desc, primary, shadow string }{
		{"repeated key: the last one counts", `{"a":1,"a":2,"b":3}`, `{"a":2,"b":3}`},
		{"repeated key differs", `{"a":1,"a":2}`, `{"a":1}`},
		{"repeated outputs key", `{"outputs":[],"outputs":[{"name":"o","datatype":"FP32","shape":[1,2],"data":[0.1,0.9]}]}`,
			`{"outputs":[{"name":"o","datatype":"FP32","shape":[1,2],"data":[0.9,0.1]}]}`},
		{"repeated name makes a duplicate output", `{"outputs":[{"name":"x","name":"o"},{"name":"o"}]}`, `{"outputs":[{"name":"o"}]}`},
		{"lone surrogate equals U+FFFD", `["\ud800"]`, `["\ufffd"]`},
		{"surrogate then escape", `["\ud800\u0041"]`, `["\ufffdA"]`},
		{"valid surrogate pair", `["\ud83d\ude00"]`, `["😀"]`},
		{"escaped backslash before u", `["\\ud800"]`, `["\\ud800"]`},
		{"invalid UTF-8 equals U+FFFD", "[\"\xff\"]", `["\ufffd"]`},
		{"invalid UTF-8 in a key", "{\"\xffa\":1}", "{\"\xfea\":1}"},
		{"escaped key", `{"\u0061":1}`, `{"a":2}`},
		{"control char in string", "[\"a\x01\"]", `["a"]`},
		{"leading zero", `[01]`, `[1]`},
		{"bad exponent", `[1e]`, `[1]`},
		{"nan literal", `[NaN]`, `[1]`},
		{"inf literal", `[inf]`, `[1]`},
		{"huge numbers", `[1e400,-1e400,1e-400]`, `[2e400,1e400,0]`},
		{"shape with float last dimension", `{"outputs":[{"name":"o","datatype":"FP32","shape":[1,2.0],"data":[0.1,0.9]}]}`,
			`{"outputs":[{"name":"o","datatype":"FP32","shape":[1,2.0],"data":[0.9,0.1]}]}`},
		{"shape beyond int64", `{"outputs":[{"name":"o","datatype":"FP32","shape":[99999999999999999999],"data":[0.1,0.9]}]}`,
			`{"outputs":[{"name":"o","datatype":"FP32","shape":[99999999999999999999],"data":[0.9,0.1]}]}`},
		{"nested class scores", `{"outputs":[{"name":"o","datatype":"FP64","shape":[2,2],"data":[[0.1,0.9],[0.8,0.2]]}]}`,
			`{"outputs":[{"name":"o","datatype":"FP64","shape":[2,2],"data":[[0.9,0.1],[0.8,0.2]]}]}`},
		{"long string values", `{"s":"` + strings.Repeat("é", 80) + `"}`, `{"s":"` + strings.Repeat("e", 80) + `"}`},
		{"object rendering counts distinct keys", `{"x":{"a":1,"a":2,"b":3}}`, `{"x":[1]}`},
		{"whitespace around", " \t\r\n{\"a\":1}\n ", `{"a":1}`},
		{"trailing bracket", `{"a":1}]`, `{"a":1}`},
		{"INT64 labels beyond float64 precision", `{"outputs":[{"name":"l","datatype":"INT64","shape":[4],"data":[9007199254740993,0,1,1e2]}]}`,
			`{"outputs":[{"name":"l","datatype":"INT64","shape":[4],"data":[9007199254740992,-0,1.0,100]}]}`},
		{"label data nested with empty arrays", `{"outputs":[{"name":"l","datatype":"BOOL","shape":[2],"data":[[[]],true,[false]]}]}`,
			`{"outputs":[{"name":"l","datatype":"BOOL","shape":[2],"data":[[[]],false,[false]]}]}`},
		{"label data that do not line up", `{"outputs":[{"name":"l","datatype":"UINT8","shape":[3],"data":[1,null,{"a":2.5}]}]}`,
			`{"outputs":[{"name":"l","datatype":"UINT8","shape":[3],"data":[2,null,{"a":2.6}]}]}`},
		{"label and float datatypes", `{"outputs":[{"name":"l","datatype":"INT64","shape":[2],"data":[1,2]}]}`,
			`{"outputs":[{"name":"l","datatype":"FP64","shape":[2],"data":[1.0001,3]}]}`},
		{"mixed scores and labels", `{"outputs":[{"name":"s","datatype":"FP32","shape":[1,2],"data":[0.4,0.6]},{"name":"l","datatype":"INT64","shape":[1],"data":[1]}]}`,
			`{"outputs":[{"name":"l","datatype":"INT64","shape":[1],"data":[0]},{"name":"s","datatype":"FP32","shape":[1,2],"data":[0.6,0.4]}]}`},
		{"v1 integer labels", `{"predictions":[1,2,-0]}`, `{"predictions":[1,3,0]}`},
		{"v1 string and integer labels", `{"predictions":["a","b"]}`, `{"predictions":[1,2]}`},
		{"v1 labels of other lengths", `{"predictions":[1,2]}`, `{"predictions":[1]}`},
		{"v1 empty and labels", `{"predictions":[]}`, `{"predictions":["a"]}`},
		{"v1 labels with an exponent", `{"predictions":[1,2e0]}`, `{"predictions":[1,2]}`},
		{"deep but allowed nesting", strings.Repeat("[", 299) + strings.Repeat("]", 299), strings.Repeat("[", 299) + strings.Repeat("]", 299)},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			sameAsReference(t, []byte(tc.primary), []byte(tc.shadow), o)
			sameAsReference(t, []byte(tc.shadow), []byte(tc.primary), o)
		})
	}
}

// FuzzReference checks on arbitrary bodies that Compare (fastjson, reused
// parsers) returns exactly what the encoding/json reference returns,
// except for bodies nested deeper than fastjson's 300 levels, which Compare
// refuses as invalid.
func FuzzReference(f *testing.F) {
	f.Add([]byte(`{"outputs":[{"name":"p","datatype":"FP64","shape":[1,2],"data":[0.7,0.3]}],"id":"a"}`),
		[]byte(`{"outputs":[{"name":"p","datatype":"FP64","shape":[1,2],"data":[0.3,0.7]}],"id":"b"}`), 0.001, 0.0, 3)
	f.Add([]byte(`{"predictions":[[0.3,0.7]],"a":{"a":1,"a":2}}`), []byte(`{"predictions":[[0.7,0.3]]}`), 0.0, 0.01, 0)
	f.Add([]byte("{\"s\":\"\\ud800\xff\",\"n\":1e400}"), []byte(`{"s":"x","n":[true,null]}`), 0.5, 0.5, 1)
	f.Add([]byte(`{"outputs":[{"name":"l","datatype":"INT64","shape":[3],"data":[1,[2,-0],9007199254740993]}]}`),
		[]byte(`{"outputs":[{"name":"l","datatype":"INT32","shape":[3],"data":[2,[2,0],9007199254740992]}]}`), 5.0, 0.0, 2)
	f.Add([]byte(`{"predictions":["setosa","virginica"]}`), []byte(`{"predictions":["setosa",1]}`), 0.0, 0.0, 0)
	f.Fuzz(func(t *testing.T, a, b []byte, tol, rel float64, maxDiffs int) {
		if nesting(a) > 300 || nesting(b) > 300 {
			t.Skip("deeper than fastjson.MaxDepth")
		}
		o := compare.Options{Tolerance: math.Abs(tol), RelativeTolerance: math.Abs(rel), IgnoreFields: []string{"id", "shape"}, MaxDiffs: maxDiffs % 8}
		sameAsReference(t, a, b, o)
	})
}

// nesting returns b's nesting depth, brackets in strings skipped.
func nesting(b []byte) int {
	d, m, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			d++
			m = max(m, d)
		case c == ']' || c == '}':
			d--
		}
	}
	return m
}
