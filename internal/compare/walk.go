package compare

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/valyala/fastjson"
)

// seg is one step of a path: an object key, an OIP output name or an index.
type seg struct {
	key   string
	index int
	kind  byte // 'k' key, 'n' output name, 'i' index, 'a' argmax row
}

// mode is how value compares what it reaches.
type mode uint8

const (
	tolerant  mode = iota // numbers with the tolerances
	exact                 // numbers equal in value, no tolerance (shape, datatype)
	label                 // label data: labelEqual, never MaxAbsDiff
	labelRows             // label data whose every scalar is one top-1 row
	skipKey               // returned by object's modes only: key not compared
)

// member is one object member; key points into a parser's memory.
type member struct {
	key string
	v   *fastjson.Value
}

// walker holds one comparison's state and the scratch space reused by the
// next: a path stack, a stack of object members (sorted per object), number
// literals and class-score rows. Nothing in it outlives a comparison but
// capacity.
type walker struct {
	o      Options
	res    Result
	path   []seg
	mem    []member
	lit    [2][]byte
	pbuf   []byte // pathString's
	pf, sf []float64
	pnames []named
	snames []named
}

// run compares p and s; see Comparer.Compare.
func (w *walker) run(p, s *fastjson.Value, o Options) Result {
	if o.MaxDiffs <= 0 {
		o.MaxDiffs = DefaultMaxDiffs
	}
	w.o, w.res = o, Result{Format: FormatJSON}
	w.path, w.mem = w.path[:0], w.mem[:0]
	switch {
	case w.isOIP(p) && w.isOIP(s):
		w.res.Format = FormatOIP
		w.oip(p, s)
	case isV1(p) && isV1(s):
		w.res.Format = FormatV1
		w.v1(p, s)
	default:
		w.value(p, s, tolerant)
	}
	w.res.Match = w.res.DiffCount == 0
	res := w.res
	w.o, w.res = Options{}, Result{}
	clear(w.mem[:cap(w.mem)]) // drop pointers into the parsers' values
	clear(w.pnames[:cap(w.pnames)])
	clear(w.snames[:cap(w.snames)])
	return res
}

func (w *walker) push(s seg) { w.path = append(w.path, s) }
func (w *walker) pop()       { w.path = w.path[:len(w.path)-1] }

// pathString renders the current path, e.g. `outputs["scores"].data[3]`;
// the root is "$". It allocates the returned string only.
func (w *walker) pathString() string {
	if len(w.path) == 0 {
		return "$"
	}
	b := w.pbuf[:0]
	for i, s := range w.path {
		switch s.kind {
		case 'k':
			if i > 0 {
				b = append(b, '.')
			}
			b = append(b, s.key...)
		case 'n':
			b = append(b, '[')
			b = strconv.AppendQuote(b, s.key)
			b = append(b, ']')
		case 'i':
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(s.index), 10)
			b = append(b, ']')
		case 'a':
			b = append(b, ".argmax["...)
			b = strconv.AppendInt(b, int64(s.index), 10)
			b = append(b, ']')
		}
	}
	w.pbuf = b
	return string(b)
}

// add records a difference at the current path.
func (w *walker) add(p, s string) {
	w.res.DiffCount++
	if len(w.res.Diffs) < w.o.MaxDiffs {
		w.res.Diffs = append(w.res.Diffs, Diff{Path: w.pathString(), Primary: p, Shadow: s})
	}
}

// addValues records a difference with both values rendered; rendering (and
// its allocations) is skipped once MaxDiffs are kept.
func (w *walker) addValues(p, s *fastjson.Value) {
	if len(w.res.Diffs) >= w.o.MaxDiffs {
		w.res.DiffCount++
		return
	}
	w.add(w.render(p), w.render(s))
}

func (w *walker) ignored(k string) bool { return slices.Contains(w.o.IgnoreFields, k) }

// value compares two values structurally, numbers as m says. In labelRows
// mode every pair of non-arrays is one top-1 row, agreeing when equal.
func (w *walker) value(p, s *fastjson.Value, m mode) {
	pt, st := p.Type(), s.Type()
	if m == labelRows && pt != fastjson.TypeArray && st != fastjson.TypeArray {
		n := w.res.DiffCount
		w.value(p, s, label)
		w.res.Top1Rows++
		if w.res.DiffCount == n {
			w.res.Top1AgreeRows++
		}
		return
	}
	switch {
	case pt == fastjson.TypeObject && st == fastjson.TypeObject:
		po, _ := p.Object()
		so, _ := s.Object()
		w.object(po, so, m, nil)
	case pt == fastjson.TypeArray && st == fastjson.TypeArray:
		pa, _ := p.Array()
		sa, _ := s.Array()
		if len(pa) != len(sa) {
			w.addValues(p, s)
			return
		}
		for i := range pa {
			w.push(seg{index: i, kind: 'i'})
			w.value(pa[i], sa[i], m)
			w.pop()
		}
	case pt == fastjson.TypeNumber && st == fastjson.TypeNumber && (m == label || m == labelRows):
		w.labelNumber(p, s)
	case pt == fastjson.TypeNumber && st == fastjson.TypeNumber:
		w.number(p, s, m == exact)
	case pt != st:
		w.addValues(p, s)
	case pt == fastjson.TypeString:
		pb, _ := p.StringBytes()
		sb, _ := s.StringBytes()
		if !bytes.Equal(pb, sb) {
			w.addValues(p, s)
		}
	}
	// Equal types true, false, null: equal.
}

// members pushes o's members onto w.mem sorted by key, a repeated key
// keeping its last value (as encoding/json does), and returns their range.
func (w *walker) members(o *fastjson.Object) (start, end int) {
	start = len(w.mem)
	o.Visit(func(k []byte, v *fastjson.Value) {
		w.mem = append(w.mem, member{key: b2s(k), v: v})
	})
	ms := w.mem[start:]
	slices.SortStableFunc(ms, func(a, b member) int { return strings.Compare(a.key, b.key) })
	n := 0
	for i := range ms {
		if i+1 < len(ms) && ms[i+1].key == ms[i].key {
			continue
		}
		ms[n] = ms[i]
		n++
	}
	w.mem = w.mem[:start+n]
	return start, start + n
}

// object compares two objects key by key in sorted order, skipping ignored
// keys. Members are compared in mode m, or, when modes is not nil, in the
// mode it returns for their key (skipKey: not compared).
func (w *walker) object(p, s *fastjson.Object, m mode, modes func(string) mode) {
	ps, pe := w.members(p)
	ss, se := w.members(s)
	for i, j := ps, ss; i < pe || j < se; {
		// w.mem may move as value recurses: index it afresh each time.
		var k string
		var pv, sv *fastjson.Value
		switch {
		case j >= se || i < pe && w.mem[i].key < w.mem[j].key:
			k, pv = w.mem[i].key, w.mem[i].v
			i++
		case i >= pe || w.mem[j].key < w.mem[i].key:
			k, sv = w.mem[j].key, w.mem[j].v
			j++
		default:
			k, pv, sv = w.mem[i].key, w.mem[i].v, w.mem[j].v
			i++
			j++
		}
		km := m
		if modes != nil {
			km = modes(k)
		}
		if km == skipKey || w.ignored(k) {
			continue
		}
		w.push(seg{key: k, kind: 'k'})
		w.pair(pv, sv, km)
		w.pop()
	}
	w.mem = w.mem[:ps]
}

// pair compares two members at the current path, either possibly missing
// (nil); two missing members agree.
func (w *walker) pair(p, s *fastjson.Value, m mode) {
	switch {
	case p == nil && s == nil:
	case p == nil:
		w.add(Missing, w.render(s))
	case s == nil:
		w.add(w.render(p), Missing)
	default:
		w.value(p, s, m)
	}
}

// literal returns number v's JSON literal in the i'th scratch buffer.
func (w *walker) literal(i int, v *fastjson.Value) []byte {
	w.lit[i] = v.MarshalTo(w.lit[i][:0]) // a number marshals as its literal
	return w.lit[i]
}

// number compares two JSON numbers with the tolerances (none when exact).
func (w *walker) number(p, s *fastjson.Value, exact bool) {
	pl, sl := w.literal(0, p), w.literal(1, s)
	if bytes.Equal(pl, sl) {
		return
	}
	a, b := toFloat(pl), toFloat(sl)
	if a == b {
		return
	}
	d := math.Abs(a - b)
	if d > w.res.MaxAbsDiff {
		w.res.MaxAbsDiff = d
	}
	if !exact && !math.IsInf(d, 0) &&
		(d <= w.o.Tolerance || d <= w.o.RelativeTolerance*max(math.Abs(a), math.Abs(b))) {
		return
	}
	w.add(string(pl), string(sl))
}

// labelNumber compares two numbers that are class labels: equal or not
// (labelEqual), whatever the tolerances, and never counted in MaxAbsDiff.
func (w *walker) labelNumber(p, s *fastjson.Value) {
	pl, sl := w.literal(0, p), w.literal(1, s)
	if !labelEqual(pl, sl) {
		w.add(string(pl), string(sl))
	}
}

// labelEqual reports whether two number literals are the same label:
// integer literals (isInteger) equal exactly, at any size; otherwise equal
// float64 values (as toFloat parses them).
func labelEqual(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	if isInteger(a) && isInteger(b) {
		// JSON spells an integer one way, but for the sign of zero.
		return isZero(a) && isZero(b)
	}
	return toFloat(a) == toFloat(b)
}

// isInteger reports whether a JSON number literal has neither fraction nor
// exponent.
func isInteger(lit []byte) bool { return !bytes.ContainsAny(lit, ".eE") }

func isZero(lit []byte) bool { return string(lit) == "0" || string(lit) == "-0" }

// toFloat parses a number literal; values out of range become ±Inf.
func toFloat(lit []byte) float64 {
	f, _ := strconv.ParseFloat(b2s(lit), 64) // ErrRange yields ±Inf or 0
	return f
}

// render summarises a value for a Diff: scalars as JSON text (strings
// truncated), containers by size only (an object's distinct keys).
func (w *walker) render(v *fastjson.Value) string {
	switch v.Type() {
	case fastjson.TypeNull:
		return "null"
	case fastjson.TypeTrue:
		return "true"
	case fastjson.TypeFalse:
		return "false"
	case fastjson.TypeNumber:
		return truncate(string(v.MarshalTo(nil)))
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		return truncate(strconv.Quote(string(b)))
	case fastjson.TypeArray:
		a, _ := v.Array()
		return "array(len=" + strconv.Itoa(len(a)) + ")"
	case fastjson.TypeObject:
		o, _ := v.Object()
		start, end := w.members(o)
		w.mem = w.mem[:start]
		return "object(keys=" + strconv.Itoa(end-start) + ")"
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
