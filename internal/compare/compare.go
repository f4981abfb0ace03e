// Package compare decides whether two JSON model answers agree: the
// primary's and the shadow's. It is pure (no I/O, no clocks) and safe for
// concurrent use.
//
// Three shapes of answer are understood:
//
//   - Open Inference Protocol v2 (both bodies have an "outputs" array of
//     objects with unique "name"s): outputs are matched by name; "shape" and
//     "datatype" must be equal exactly; numbers in "data" may differ within
//     the tolerances. For outputs that look like class scores (a floating
//     datatype whose last dimension is at least 2) the argmax of every row is
//     compared too.
//   - KServe V1 / TF Serving (both bodies have a "predictions" array):
//     predictions element-wise with the tolerances; rows that are arrays of at
//     least two numbers are class scores and get the argmax check.
//   - Any other JSON: structural comparison, numbers with the tolerances.
//
// In every shape, object keys listed in Options.IgnoreFields are skipped at
// any depth. A top-1 (argmax) flip is a difference even when the scores are
// within tolerance: for a classifier the decision is what users see.
package compare

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
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
func Compare(primary, shadow []byte, o Options) (Result, error) {
	p, err := parse(primary)
	if err != nil {
		return Result{}, ErrPrimaryInvalid
	}
	s, err := parse(shadow)
	if err != nil {
		return Result{}, ErrShadowInvalid
	}
	return CompareValues(p, s, o), nil
}

// CompareValues compares two values decoded with json.Decoder.UseNumber
// (numbers as json.Number).
func CompareValues(p, s any, o Options) Result {
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
		c.value(p, s, false)
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

// value compares two decoded values structurally; exact disables the
// numeric tolerances (shapes, datatypes).
func (c *comparer) value(p, s any, exact bool) {
	switch pv := p.(type) {
	case map[string]any:
		sv, ok := s.(map[string]any)
		if !ok {
			c.add(render(p), render(s))
			return
		}
		c.object(pv, sv, exact, nil)
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
			c.value(pv[i], sv[i], exact)
			c.pop()
		}
	case json.Number:
		sv, ok := s.(json.Number)
		if !ok {
			c.add(render(p), render(s))
			return
		}
		c.number(pv, sv, exact)
	default: // string, bool, nil
		if p != s {
			c.add(render(p), render(s))
		}
	}
}

// object compares two objects key by key in sorted order, skipping ignored
// keys and the keys in skip.
func (c *comparer) object(p, s map[string]any, exact bool, skip func(string) bool) {
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
		if c.ignore[k] || skip != nil && skip(k) {
			continue
		}
		pv, pok := p[k]
		sv, sok := s[k]
		c.push(seg{key: k, kind: 'k'})
		switch {
		case !pok:
			c.add(Missing, render(sv))
		case !sok:
			c.add(render(pv), Missing)
		default:
			c.value(pv, sv, exact)
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
