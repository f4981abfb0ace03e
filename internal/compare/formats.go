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
	w.object(po, so, false, func(k string) bool { return k == "outputs" })
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
// with tolerance, and the argmax of class-score rows.
func (w *walker) output(p, s *fastjson.Object) {
	w.object(p, s, false, func(k string) bool { return k == "shape" || k == "datatype" })
	for _, k := range [...]string{"shape", "datatype"} {
		if w.ignored(k) {
			continue
		}
		w.push(seg{key: k, kind: 'k'})
		w.pair(last(p, k), last(s, k), true)
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
// numbers.
func (w *walker) v1(p, s *fastjson.Value) {
	po, _ := p.Object()
	so, _ := s.Object()
	w.object(po, so, false, nil)
	pp, _ := arrayOf(last(po, "predictions"))
	sp, _ := arrayOf(last(so, "predictions"))
	if w.ignored("predictions") || len(pp) != len(sp) {
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
