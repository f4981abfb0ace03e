// Code in this file is the encoding/json implementation of package compare
// as it was before fastjson (commit ebeb07a), kept as the reference that
// FuzzReference checks the allocation-light implementation against, since
// extended with class labels as top-1 answers (see the package doc).

package compare_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
)

// DefaultMaxDiffs is how many differences a Result keeps when
// Options.MaxDiffs is 0. DiffCount still counts all of them.
const DefaultMaxDiffs = 16

// maxValueLen bounds a rendered value in a Diff.
const maxValueLen = 64

// Missing is the rendered value of a field one side does not have.
const Missing = "(missing)"

// Options configures a comparison. The zero value compares exactly.
type Options struct {
	// Tolerance is the absolute tolerance: numbers a, b agree when
	// |a-b| <= Tolerance. Default 0.
	Tolerance float64
	// RelativeTolerance: numbers also agree when
	// |a-b| <= RelativeTolerance * max(|a|, |b|). Default 0.
	RelativeTolerance float64
	// IgnoreFields are object keys skipped at any depth (e.g. "id").
	IgnoreFields []string
	// MaxDiffs bounds Result.Diffs. Default DefaultMaxDiffs.
	MaxDiffs int
}

// Format is the shape of answer a comparison recognised.
type Format string

// The formats Compare recognises.
const (
	FormatOIP  Format = "oip_v2"
	FormatV1   Format = "v1"
	FormatJSON Format = "json"
)

// Diff is one differing field: its path (e.g. `outputs["scores"].data[3]`)
// and both values rendered as short JSON-like text (containers are
// summarised, never copied whole; long strings are truncated).
type Diff struct {
	Path    string `json:"path"`
	Primary string `json:"primary"`
	Shadow  string `json:"shadow"`
}

// Result is the outcome of one comparison.
type Result struct {
	// Match is true when no difference was found.
	Match bool
	// Format is the recognised shape of both answers.
	Format Format
	// MaxAbsDiff is the largest absolute difference between two numbers
	// compared (within tolerance or not); 0 when none differed, +Inf when a
	// number overflowed on one side only.
	MaxAbsDiff float64
	// Top1Rows is how many rows of class scores were compared by argmax;
	// Top1AgreeRows how many of them agreed. Top1Rows is 0 when the answers
	// have nothing that looks like class scores.
	Top1Rows, Top1AgreeRows int
	// Diffs are the first differences found, at most Options.MaxDiffs.
	Diffs []Diff
	// DiffCount counts every difference found, kept or not.
	DiffCount int
}

// Top1Agree reports whether every compared row had the same argmax. It is
// meaningful only when Top1Rows > 0.
func (r Result) Top1Agree() bool { return r.Top1AgreeRows == r.Top1Rows }

// Errors returned by Compare when a body is not one JSON value.
var (
	ErrPrimaryInvalid = errors.New("compare: primary answer is not valid JSON")
	ErrShadowInvalid  = errors.New("compare: shadow answer is not valid JSON")
)

// Compare compares the primary's and the shadow's answer bodies. It returns
// ErrPrimaryInvalid or ErrShadowInvalid (primary checked first) when a body
// is not exactly one JSON value.
func refCompare(primary, shadow []byte, o Options) (Result, error) {
	p, err := parse(primary)
	if err != nil {
		return Result{}, ErrPrimaryInvalid
	}
	s, err := parse(shadow)
	if err != nil {
		return Result{}, ErrShadowInvalid
	}
	return refCompareValues(p, s, o), nil
}

// CompareValues compares two values decoded with json.Decoder.UseNumber
// (numbers as json.Number).
func refCompareValues(p, s any, o Options) Result {
	if o.MaxDiffs <= 0 {
		o.MaxDiffs = DefaultMaxDiffs
	}
	c := &comparer{o: o, res: Result{Format: FormatJSON}}
	if len(o.IgnoreFields) > 0 {
		c.ignore = make(map[string]bool, len(o.IgnoreFields))
		for _, f := range o.IgnoreFields {
			c.ignore[f] = true
		}
	}
	switch {
	case isOIP(p) && isOIP(s):
		c.res.Format = FormatOIP
		c.oip(p.(map[string]any), s.(map[string]any))
	case isV1(p) && isV1(s):
		c.res.Format = FormatV1
		c.v1(p.(map[string]any), s.(map[string]any))
	default:
		c.value(p, s, tolerant)
	}
	c.res.Match = c.res.DiffCount == 0
	return c.res
}

// parse decodes exactly one JSON value with numbers kept as json.Number.
func parse(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data")
	}
	return v, nil
}

// seg is one step of a path: an object key, an OIP output name or an index.
type seg struct {
	key   string
	index int
	kind  byte // 'k' key, 'n' output name, 'i' index, 'a' argmax row
}

// mode is how value compares numbers.
type mode int

const (
	tolerant mode = iota // with the tolerances
	exact                // equal in value (shape, datatype)
	label                // labelEqual, never in MaxAbsDiff
	skipKey              // from object's modes: not compared
)

type comparer struct {
	o      Options
	ignore map[string]bool
	path   []seg
	res    Result
}

func (c *comparer) push(s seg) { c.path = append(c.path, s) }
func (c *comparer) pop()       { c.path = c.path[:len(c.path)-1] }

// pathString renders the current path, e.g. `outputs["scores"].data[3]`;
// the root is "$".
func (c *comparer) pathString() string {
	if len(c.path) == 0 {
		return "$"
	}
	var b strings.Builder
	for i, s := range c.path {
		switch s.kind {
		case 'k':
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.key)
		case 'n':
			b.WriteString("[")
			b.WriteString(strconv.Quote(s.key))
			b.WriteString("]")
		case 'i':
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
		case 'a':
			b.WriteString(".argmax[" + strconv.Itoa(s.index) + "]")
		}
	}
	return b.String()
}

func (c *comparer) add(p, s string) {
	c.res.DiffCount++
	if len(c.res.Diffs) < c.o.MaxDiffs {
		c.res.Diffs = append(c.res.Diffs, Diff{Path: c.pathString(), Primary: p, Shadow: s})
	}
}

// value compares two decoded values structurally, numbers as m says.
func (c *comparer) value(p, s any, m mode) {
	switch pv := p.(type) {
	case map[string]any:
		sv, ok := s.(map[string]any)
		if !ok {
			c.add(render(p), render(s))
			return
		}
		c.object(pv, sv, m, nil, nil)
	case []any:
		sv, ok := s.([]any)
		if !ok {
			c.add(render(p), render(s))
			return
		}
		if len(pv) != len(sv) {
			c.add(render(p), render(s))
			return
		}
		for i := range pv {
			c.push(seg{index: i, kind: 'i'})
			c.value(pv[i], sv[i], m)
			c.pop()
		}
	case json.Number:
		sv, ok := s.(json.Number)
		if !ok {
			c.add(render(p), render(s))
			return
		}
		if m == label {
			if !labelEqual(pv, sv) {
				c.add(string(pv), string(sv))
			}
			return
		}
		c.number(pv, sv, m == exact)
	default: // string, bool, nil
		if p != s {
			c.add(render(p), render(s))
		}
	}
}

// object compares two objects key by key in sorted order, skipping ignored
// keys; members in mode m or in the one modes gives their key (skipKey:
// skipped). A member whose mode is label and for which rows gives n > 0 is
// n top-1 rows, agreeing but for the differences its comparison found.
func (c *comparer) object(p, s map[string]any, m mode, modes func(string) mode, rows func(string) int) {
	keys := make([]string, 0, len(p)+len(s))
	for k := range p {
		keys = append(keys, k)
	}
	for k := range s {
		if _, ok := p[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		km := m
		if modes != nil {
			km = modes(k)
		}
		if c.ignore[k] || km == skipKey {
			continue
		}
		pv, pok := p[k]
		sv, sok := s[k]
		c.push(seg{key: k, kind: 'k'})
		before := c.res.DiffCount
		switch {
		case !pok:
			c.add(Missing, render(sv))
		case !sok:
			c.add(render(pv), Missing)
		default:
			c.value(pv, sv, km)
		}
		if n := 0; rows != nil && km == label {
			if n = rows(k); n > 0 {
				c.res.Top1Rows += n
				c.res.Top1AgreeRows += n - (c.res.DiffCount - before)
			}
		}
		c.pop()
	}
}

// number compares two JSON numbers with the tolerances (none when exact).
func (c *comparer) number(p, s json.Number, exact bool) {
	if p == s {
		return
	}
	a, b := toFloat(p), toFloat(s)
	if a == b {
		return
	}
	d := math.Abs(a - b)
	if d > c.res.MaxAbsDiff {
		c.res.MaxAbsDiff = d
	}
	if !exact && !math.IsInf(d, 0) &&
		(d <= c.o.Tolerance || d <= c.o.RelativeTolerance*max(math.Abs(a), math.Abs(b))) {
		return
	}
	c.add(string(p), string(s))
}

// toFloat parses a json.Number; values out of range become ±Inf.
func toFloat(n json.Number) float64 {
	f, _ := strconv.ParseFloat(string(n), 64) // ErrRange yields ±Inf or 0
	return f
}

// render summarises a value for a Diff: scalars as JSON text (strings
// truncated), containers by size only.
func render(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return truncate(string(x))
	case string:
		return truncate(strconv.Quote(x))
	case []any:
		return "array(len=" + strconv.Itoa(len(x)) + ")"
	case map[string]any:
		return "object(keys=" + strconv.Itoa(len(x)) + ")"
	default:
		return "?"
	}
}

func truncate(s string) string {
	if len(s) <= maxValueLen {
		return s
	}
	// Cut on a rune boundary.
	n := maxValueLen
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

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
	c.object(p, s, tolerant, func(k string) mode {
		if k == "outputs" {
			return skipKey
		}
		return tolerant
	}, nil)
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
	data, rows := tolerant, 0
	if labelTypes[p["datatype"]] && labelTypes[s["datatype"]] {
		data = label
		rows, _ = labelLeaves(p["data"], s["data"])
	}
	c.object(p, s, tolerant, func(k string) mode {
		switch k {
		case "shape", "datatype":
			return skipKey
		case "data":
			return data
		}
		return tolerant
	}, func(string) int { return rows })
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
			c.value(pv, sv, exact)
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
	pp, sp := p["predictions"].([]any), s["predictions"].([]any)
	if labelArray(pp) && labelArray(sp) {
		rows := 0
		if len(pp) == len(sp) {
			rows = len(pp)
		}
		c.object(p, s, tolerant, func(k string) mode {
			if k == "predictions" {
				return label
			}
			return tolerant
		}, func(string) int { return rows })
		return
	}
	c.object(p, s, tolerant, nil, nil)
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

// labelTypes are the OIP v2 datatypes of class labels.
var labelTypes = map[any]bool{
	"BOOL": true, "BYTES": true,
	"INT8": true, "INT16": true, "INT32": true, "INT64": true,
	"UINT8": true, "UINT16": true, "UINT32": true, "UINT64": true,
}

// labelLeaves returns how many labels p and s hold, and true, when both
// are arrays nested alike with only numbers, strings and booleans inside.
func labelLeaves(p, s any) (int, bool) {
	pa, pok := p.([]any)
	sa, sok := s.([]any)
	if !pok || !sok || len(pa) != len(sa) {
		return 0, false
	}
	n := 0
	for i := range pa {
		_, parr := pa[i].([]any)
		_, sarr := sa[i].([]any)
		switch {
		case parr || sarr:
			k, ok := labelLeaves(pa[i], sa[i])
			if !ok {
				return 0, false
			}
			n += k
		case scalar(pa[i]) && scalar(sa[i]):
			n++
		default:
			return 0, false
		}
	}
	return n, true
}

func scalar(v any) bool {
	switch v.(type) {
	case json.Number, string, bool:
		return true
	}
	return false
}

// labelArray reports whether V1 predictions are all integers or all
// strings.
func labelArray(a []any) bool {
	ints, strs := 0, 0
	for _, e := range a {
		switch x := e.(type) {
		case json.Number:
			if isInt(x) {
				ints++
			}
		case string:
			strs++
		}
	}
	return ints == len(a) || strs == len(a)
}

func isInt(n json.Number) bool { return !strings.ContainsAny(string(n), ".eE") }

// labelEqual: integers exactly, at any size; other numbers by float64 value.
func labelEqual(p, s json.Number) bool {
	if isInt(p) && isInt(s) {
		a, _ := new(big.Int).SetString(string(p), 10)
		b, _ := new(big.Int).SetString(string(s), 10)
		return a.Cmp(b) == 0
	}
	return toFloat(p) == toFloat(s)
}
