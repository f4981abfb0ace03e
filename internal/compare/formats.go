package compare

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"
)

// named is one OIP output: its name and index in the outputs array.
type named struct {
	name string
	i    int
}

// last returns the value of o's member key, the last one if repeated (as
// encoding/json decodes it), or nil.
func last(o *fastjson.Object, key string) *fastjson.Value {
	var v *fastjson.Value
	o.Visit(func(k []byte, x *fastjson.Value) {
		if string(k) == key {
			v = x
		}
	})
	return v
}

// member returns v's member key when v is an object, else nil.
func memberOf(v *fastjson.Value, key string) *fastjson.Value {
	if v == nil || v.Type() != fastjson.TypeObject {
		return nil
	}
	o, _ := v.Object()
	return last(o, key)
}

// arrayOf returns v's elements and true when v is an array.
func arrayOf(v *fastjson.Value) ([]*fastjson.Value, bool) {
	if v == nil || v.Type() != fastjson.TypeArray {
		return nil, false
	}
	a, _ := v.Array()
	return a, true
}

// stringOf returns v's text (pointing into the parser's memory) and true
// when v is a string.
func stringOf(v *fastjson.Value) (string, bool) {
	if v == nil || v.Type() != fastjson.TypeString {
		return "", false
	}
	b, _ := v.StringBytes()
	return b2s(b), true
}

// outputNames fills dst with the names of OIP outputs sorted by name, or
// returns false if an output is not an object with a string name.
func outputNames(dst []named, outs []*fastjson.Value) ([]named, bool) {
	dst = dst[:0]
	for i, o := range outs {
		name, ok := stringOf(memberOf(o, "name"))
		if !ok {
			return dst, false
		}
		dst = append(dst, named{name: name, i: i})
	}
	slices.SortFunc(dst, func(a, b named) int { return strings.Compare(a.name, b.name) })
	return dst, true
}

// find returns the index (in outputs) of the output called name in sorted
// names, or -1.
func find(names []named, name string) int {
	k, ok := slices.BinarySearchFunc(names, name, func(n named, name string) int { return strings.Compare(n.name, name) })
	if !ok {
		return -1
	}
	return names[k].i
}

// isOIP reports whether v is an OIP v2 inference response: an object whose
// "outputs" is an array of objects with unique string names.
func (w *walker) isOIP(v *fastjson.Value) bool {
	outs, ok := arrayOf(memberOf(v, "outputs"))
	if !ok {
		return false
	}
	var names []named
	names, ok = outputNames(w.pnames, outs)
	w.pnames = names
	if !ok {
		return false
	}
	for i := 1; i < len(names); i++ {
		if names[i].name == names[i-1].name {
			return false
		}
	}
	return true
}

// isV1 reports whether v is a V1 predict response: an object whose
// "predictions" is an array.
func isV1(v *fastjson.Value) bool {
	_, ok := arrayOf(memberOf(v, "predictions"))
	return ok
}

// oip compares two OIP v2 responses (both isOIP): top-level fields
// structurally, outputs by name.
func (w *walker) oip(p, s *fastjson.Value) {
	po, _ := p.Object()
	so, _ := s.Object()
	w.object(po, so, tolerant, func(k string) mode {
		if k == "outputs" {
			return skipKey
		}
		return tolerant
	})
	pouts, _ := arrayOf(last(po, "outputs"))
	souts, _ := arrayOf(last(so, "outputs"))
	w.pnames, _ = outputNames(w.pnames, pouts)
	w.snames, _ = outputNames(w.snames, souts)
	w.push(seg{key: "outputs", kind: 'k'})
	defer w.pop()
	for _, o := range pouts {
		name, _ := stringOf(memberOf(o, "name"))
		w.push(seg{key: name, kind: 'n'})
		if i := find(w.snames, name); i >= 0 {
			pv, _ := o.Object()
			sv, _ := souts[i].Object()
			w.output(pv, sv)
		} else {
			w.add(w.render(o), Missing)
		}
		w.pop()
	}
	for _, o := range souts {
		if name, _ := stringOf(memberOf(o, "name")); find(w.pnames, name) < 0 {
			w.push(seg{key: name, kind: 'n'})
			w.add(Missing, w.render(o))
			w.pop()
		}
	}
}

// output compares one OIP output tensor: shape and datatype exactly, data
// with tolerance (label data as labels, each element a top-1 row when both
// sides' data line up), and the argmax of class-score rows.
func (w *walker) output(p, s *fastjson.Object) {
	data := tolerant
	if isLabelType(p) && isLabelType(s) {
		data = label
		if labelLeaves(last(p, "data"), last(s, "data")) {
			data = labelRows
		}
	}
	w.object(p, s, tolerant, func(k string) mode {
		switch k {
		case "shape", "datatype":
			return skipKey
		case "data":
			return data
		}
		return tolerant
	})
	for _, k := range [...]string{"shape", "datatype"} {
		if w.ignored(k) {
			continue
		}
		w.push(seg{key: k, kind: 'k'})
		w.pair(last(p, k), last(s, k), exact)
		w.pop()
	}
	classes := w.classCount(p)
	if classes < 2 || classes != w.classCount(s) {
		return
	}
	var pok, sok bool
	w.pf, pok = w.flatten(w.pf[:0], last(p, "data"))
	w.sf, sok = w.flatten(w.sf[:0], last(s, "data"))
	pd, sd := w.pf, w.sf
	if !pok || !sok || len(pd) != len(sd) || len(pd)%classes != 0 || len(pd) == 0 {
		return
	}
	w.push(seg{key: "data", kind: 'k'})
	w.top1(pd, sd, classes)
	w.pop()
}

// v1 compares two V1 predict responses (both isV1): predictions
// element-wise, with the argmax of rows that are arrays of at least two
// numbers; predictions that are labels on both sides (isLabelArray) as
// labels, each element a top-1 row.
func (w *walker) v1(p, s *fastjson.Value) {
	po, _ := p.Object()
	so, _ := s.Object()
	pp, _ := arrayOf(last(po, "predictions"))
	sp, _ := arrayOf(last(so, "predictions"))
	preds := tolerant
	if w.isLabelArray(pp) && w.isLabelArray(sp) {
		preds = labelRows
	}
	w.object(po, so, tolerant, func(k string) mode {
		if k == "predictions" {
			return preds
		}
		return tolerant
	})
	if preds == labelRows || w.ignored("predictions") || len(pp) != len(sp) {
		return
	}
	w.push(seg{key: "predictions", kind: 'k'})
	defer w.pop()
	for i := range pp {
		pr, pok := arrayOf(pp[i])
		sr, sok := arrayOf(sp[i])
		if !pok || !sok || len(pr) < 2 || len(pr) != len(sr) {
			continue
		}
		w.pf, pok = w.flatten(w.pf[:0], pp[i])
		w.sf, sok = w.flatten(w.sf[:0], sp[i])
		pd, sd := w.pf, w.sf
		if !pok || !sok || len(pd) != len(pr) || len(sd) != len(sr) {
			continue // not a flat row of numbers
		}
		w.push(seg{index: i, kind: 'i'})
		w.top1(pd, sd, len(pd))
		w.pop()
	}
}

// top1 compares the argmax of each row of classes scores.
func (w *walker) top1(p, s []float64, classes int) {
	for row := 0; row < len(p)/classes; row++ {
		pa := argmax(p[row*classes : (row+1)*classes])
		sa := argmax(s[row*classes : (row+1)*classes])
		w.res.Top1Rows++
		if pa == sa {
			w.res.Top1AgreeRows++
			continue
		}
		w.push(seg{index: row, kind: 'a'})
		w.add(strconv.Itoa(pa), strconv.Itoa(sa))
		w.pop()
	}
}

// classCount returns the last dimension of an output whose floating
// datatype and shape make it look like class scores, else 0.
func (w *walker) classCount(o *fastjson.Object) int {
	switch dt, _ := stringOf(last(o, "datatype")); dt {
	case "FP16", "FP32", "FP64", "BF16":
	default:
		return 0
	}
	shape, ok := arrayOf(last(o, "shape"))
	if !ok || len(shape) == 0 {
		return 0
	}
	n := shape[len(shape)-1]
	if n.Type() != fastjson.TypeNumber {
		return 0
	}
	lit := w.literal(0, n)
	for _, c := range lit {
		if c != '-' && (c < '0' || c > '9') {
			return 0 // not an integer literal: ParseInt would fail (and allocate)
		}
	}
	d, err := strconv.ParseInt(b2s(lit), 10, 64)
	if err != nil || d < 2 || d > math.MaxInt32 {
		return 0
	}
	return int(d)
}

// isLabelType reports whether an OIP output's datatype makes its elements
// class labels: a boolean, integer or BYTES datatype.
func isLabelType(o *fastjson.Object) bool {
	switch dt, _ := stringOf(last(o, "datatype")); dt {
	case "BOOL", "BYTES", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64":
		return true
	}
	return false
}

// labelLeaves reports whether p and s are arrays nested alike (the same
// length at every level) whose other elements are all numbers, strings or
// booleans: label data whose every element is one row.
func labelLeaves(p, s *fastjson.Value) bool {
	pa, pok := arrayOf(p)
	sa, sok := arrayOf(s)
	if !pok || !sok || len(pa) != len(sa) {
		return false
	}
	for i := range pa {
		switch pt, st := pa[i].Type(), sa[i].Type(); {
		case pt == fastjson.TypeArray || st == fastjson.TypeArray:
			if !labelLeaves(pa[i], sa[i]) {
				return false
			}
		case !isScalar(pt) || !isScalar(st):
			return false
		}
	}
	return true
}

func isScalar(t fastjson.Type) bool {
	switch t {
	case fastjson.TypeNumber, fastjson.TypeString, fastjson.TypeTrue, fastjson.TypeFalse:
		return true
	}
	return false
}

// isLabelArray reports whether V1 predictions are class labels: all
// integers (isInteger) or all strings. An empty array is (vacuously).
func (w *walker) isLabelArray(a []*fastjson.Value) bool {
	strs := len(a) > 0 && a[0].Type() == fastjson.TypeString
	for _, e := range a {
		switch e.Type() {
		case fastjson.TypeString:
			if !strs {
				return false
			}
		case fastjson.TypeNumber:
			if strs || !isInteger(w.literal(0, e)) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// flatten appends the numbers of a (possibly nested) array to dst in
// row-major order, or returns false if v is not an array or holds anything
// but numbers and arrays.
func (w *walker) flatten(dst []float64, v *fastjson.Value) ([]float64, bool) {
	a, ok := arrayOf(v)
	if !ok {
		return dst, false
	}
	for _, e := range a {
		switch e.Type() {
		case fastjson.TypeNumber:
			dst = append(dst, toFloat(w.literal(0, e)))
		case fastjson.TypeArray:
			if dst, ok = w.flatten(dst, e); !ok {
				return dst, false
			}
		default:
			return dst, false
		}
	}
	return dst, true
}

// argmax returns the index of the largest value, the first one on ties.
func argmax(xs []float64) int {
	best := 0
	for i, x := range xs {
		if x > xs[best] {
			best = i
		}
	}
	return best
}
