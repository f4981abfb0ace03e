package compare

import (
	"encoding/json"
	"math"
	"strconv"
)

// isOIP reports whether v is an OIP v2 inference response: an object whose
// "outputs" is an array of objects with unique string names.
func isOIP(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	outs, ok := m["outputs"].([]any)
	if !ok {
		return false
	}
	seen := make(map[string]bool, len(outs))
	for _, o := range outs {
		om, ok := o.(map[string]any)
		if !ok {
			return false
		}
		name, ok := om["name"].(string)
		if !ok || seen[name] {
			return false
		}
		seen[name] = true
	}
	return true
}

// isV1 reports whether v is a V1 predict response: an object whose
// "predictions" is an array.
func isV1(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	_, ok = m["predictions"].([]any)
	return ok
}

// oip compares two OIP v2 responses: top-level fields structurally, outputs
// by name.
func (c *comparer) oip(p, s map[string]any) {
	c.object(p, s, false, func(k string) bool { return k == "outputs" })
	pouts, souts := p["outputs"].([]any), s["outputs"].([]any)
	byName := make(map[string]map[string]any, len(souts))
	for _, o := range souts {
		om := o.(map[string]any)
		byName[om["name"].(string)] = om
	}
	c.push(seg{key: "outputs", kind: 'k'})
	defer c.pop()
	matched := make(map[string]bool, len(pouts))
	for _, o := range pouts {
		po := o.(map[string]any)
		name := po["name"].(string)
		matched[name] = true
		c.push(seg{key: name, kind: 'n'})
		if so, ok := byName[name]; ok {
			c.output(po, so)
		} else {
			c.add(render(po), Missing)
		}
		c.pop()
	}
	for _, o := range souts {
		so := o.(map[string]any)
		if name := so["name"].(string); !matched[name] {
			c.push(seg{key: name, kind: 'n'})
			c.add(Missing, render(so))
			c.pop()
		}
	}
}

// output compares one OIP output tensor: shape and datatype exactly, data
// with tolerance, and the argmax of class-score rows.
func (c *comparer) output(p, s map[string]any) {
	c.object(p, s, false, func(k string) bool { return k == "shape" || k == "datatype" })
	for _, k := range []string{"shape", "datatype"} {
		if c.ignore[k] {
			continue
		}
		c.push(seg{key: k, kind: 'k'})
		pv, pok := p[k]
		sv, sok := s[k]
		switch {
		case !pok && !sok:
		case !pok:
			c.add(Missing, render(sv))
		case !sok:
			c.add(render(pv), Missing)
		default:
			c.value(pv, sv, true)
		}
		c.pop()
	}
	classes := classCount(p)
	if classes < 2 || classes != classCount(s) {
		return
	}
	pd, pok := flatten(p["data"])
	sd, sok := flatten(s["data"])
	if !pok || !sok || len(pd) != len(sd) || len(pd)%classes != 0 || len(pd) == 0 {
		return
	}
	c.push(seg{key: "data", kind: 'k'})
	c.top1(pd, sd, classes)
	c.pop()
}

// v1 compares two V1 predict responses: predictions element-wise, with the
// argmax of rows that are arrays of at least two numbers.
func (c *comparer) v1(p, s map[string]any) {
	c.object(p, s, false, nil)
	pp, sp := p["predictions"].([]any), s["predictions"].([]any)
	if c.ignore["predictions"] || len(pp) != len(sp) {
		return
	}
	c.push(seg{key: "predictions", kind: 'k'})
	defer c.pop()
	for i := range pp {
		pr, pok := pp[i].([]any)
		sr, sok := sp[i].([]any)
		if !pok || !sok || len(pr) < 2 || len(pr) != len(sr) {
			continue
		}
		pd, pok := flatten(pr)
		sd, sok := flatten(sr)
		if !pok || !sok || len(pd) != len(pr) || len(sd) != len(sr) {
			continue // not a flat row of numbers
		}
		c.push(seg{index: i, kind: 'i'})
		c.top1(pd, sd, len(pd))
		c.pop()
	}
}

// top1 compares the argmax of each row of classes scores.
func (c *comparer) top1(p, s []float64, classes int) {
	for row := 0; row < len(p)/classes; row++ {
		pa := argmax(p[row*classes : (row+1)*classes])
		sa := argmax(s[row*classes : (row+1)*classes])
		c.res.Top1Rows++
		if pa == sa {
			c.res.Top1AgreeRows++
			continue
		}
		c.push(seg{index: row, kind: 'a'})
		c.add(itoa(pa), itoa(sa))
		c.pop()
	}
}

// classCount returns the last dimension of an output whose floating
// datatype and shape make it look like class scores, else 0.
func classCount(o map[string]any) int {
	switch o["datatype"] {
	case "FP16", "FP32", "FP64", "BF16":
	default:
		return 0
	}
	shape, ok := o["shape"].([]any)
	if !ok || len(shape) == 0 {
		return 0
	}
	n, ok := shape[len(shape)-1].(json.Number)
	if !ok {
		return 0
	}
	d, err := n.Int64()
	if err != nil || d < 2 || d > math.MaxInt32 {
		return 0
	}
	return int(d)
}

// flatten returns the numbers of a (possibly nested) array in row-major
// order, or false if it holds anything but numbers and arrays.
func flatten(v any) ([]float64, bool) {
	var out []float64
	var walk func(any) bool
	walk = func(v any) bool {
		switch x := v.(type) {
		case json.Number:
			out = append(out, toFloat(x))
			return true
		case []any:
			for _, e := range x {
				if !walk(e) {
					return false
				}
			}
			return true
		default:
			return false
		}
	}
	if _, ok := v.([]any); !ok {
		return nil, false
	}
	return out, walk(v)
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

func itoa(i int) string { return strconv.Itoa(i) }
