// Package compare decides whether two JSON model answers agree: the
// primary's and the shadow's. It is pure (no I/O, no clocks). Compare is
// safe for concurrent use; a Comparer (reused parsers and scratch space, so
// that a comparison does not allocate once warm unless it records
// differences) is not.
//
// Three shapes of answer are understood:
//
//   - Open Inference Protocol v2 (both bodies have an "outputs" array of
//     objects with unique "name"s): outputs are matched by name; "shape" and
//     "datatype" must be equal exactly; numbers in "data" may differ within
//     the tolerances, except in label outputs (below).
//   - KServe V1 / TF Serving (both bodies have a "predictions" array):
//     predictions element-wise with the tolerances, except label predictions
//     (below).
//   - Any other JSON: structural comparison, numbers with the tolerances.
//
// In every shape, object keys listed in Options.IgnoreFields are skipped at
// any depth.
//
// Top-1 statistics (Result.Top1Rows, Result.Top1AgreeRows) are kept for the
// two kinds of classifier answer; a top-1 flip is a difference even when
// the numbers are within tolerance: for a classifier the decision is what
// users see.
//
//   - Class scores, whose top-1 is the argmax of a row (the first on ties):
//     OIP v2 outputs whose datatype is FP16, FP32, FP64 or BF16 on both
//     sides and whose last dimension (an integer >= 2, the same on both
//     sides) divides the data (nothing but numbers, flattened row-major, as
//     many on both sides) into rows; and, in V1 predictions of the same
//     length, each element that is on both sides a flat array of at least
//     two numbers (as many on both sides), one row. The scores are
//     compared with the tolerances as any numbers; a flipped row is one more
//     Diff at e.g. `outputs["scores"].data.argmax[1]` or
//     `predictions[1].argmax[0]`, with both argmax indices.
//   - Class labels, whose top-1 is the label itself: OIP v2 outputs whose
//     datatype is BOOL, BYTES, INT8, INT16, INT32, INT64, UINT8, UINT16,
//     UINT32 or UINT64 on both sides (the two may differ, which is a Diff of
//     its own), whatever their shape, every element of "data" being one
//     row's label; and V1 "predictions" that are, on both sides, arrays of
//     integers only (JSON numbers with neither fraction nor exponent) or of
//     strings only (one side may be integers, the other strings), every
//     element being one row's label. Labels are compared exactly, whatever
//     the tolerances (those apply to scores, not ids), and never count
//     toward Result.MaxAbsDiff (a class id difference is no numeric
//     distance). Two labels agree when they are equal JSON values: strings
//     byte for byte (after decoding), booleans, integers exactly at any size
//     (-0 equals 0), other numbers as float64 values (1.0 equals 1); values
//     of different types differ. A flipped label is one Diff at its element
//     (e.g. `outputs["output-0"].data[1]`, `predictions[1]`) with both
//     labels, rendered as any value. Rows are counted only when both sides'
//     labels line up: for OIP, both "data" arrays nested alike (the same
//     length at every level) with only numbers, strings and booleans in
//     them; for V1, predictions of the same length. Label data that do not
//     line up (another length or nesting, null or objects inside) are still
//     compared structurally, their numbers as labels (exactly, without
//     MaxAbsDiff), but count no rows. Label data whose key ("data",
//     "predictions") is in IgnoreFields are not compared and count no rows
//     (class scores under an ignored "data" are still argmax-compared).
//
// So an OIP answer may hold rows of both kinds (scores and the labels they
// pick): Top1Rows counts them all. Integer-valued V1 regression answers
// written without a fraction (`[3, 5]`) read as labels, and so do OIP
// integer outputs that are counts rather than classes.
package compare

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/valyala/fastjson"
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
	// compared (within tolerance or not, shape numbers included); 0 when
	// none differed, +Inf when a number overflowed on one side only. Class
	// labels (see the package doc) never count: a flipped label is a Diff
	// and a top-1 disagreement, not a distance.
	MaxAbsDiff float64
	// Top1Rows is how many rows were compared by their top-1 answer: rows of
	// class scores by argmax, class labels one element a row (see the
	// package doc for which outputs and predictions are which);
	// Top1AgreeRows how many of them agreed. Top1Rows is 0 when the answers
	// have neither class scores nor labels that line up.
	Top1Rows, Top1AgreeRows int
	// Diffs are the first differences found, at most Options.MaxDiffs.
	Diffs []Diff
	// DiffCount counts every difference found, kept or not.
	DiffCount int
}

// Top1Agree reports whether every compared row had the same top-1 answer
// (argmax of scores, or label). It is meaningful only when Top1Rows > 0.
func (r Result) Top1Agree() bool { return r.Top1AgreeRows == r.Top1Rows }

// Errors returned by Compare when a body is not one JSON value.
var (
	ErrPrimaryInvalid = errors.New("compare: primary answer is not valid JSON")
	ErrShadowInvalid  = errors.New("compare: shadow answer is not valid JSON")
)

// Comparer compares answers with parsers and scratch space it keeps between
// calls: once warm, a comparison allocates only for the differences it
// records. Its zero value is ready to use. A Comparer is not safe for
// concurrent use (keep one per goroutine) and holds on to memory sized for
// the largest answers it has seen.
type Comparer struct {
	pp, sp fastjson.Parser
	w      walker
}

// New returns a Comparer.
func New() *Comparer { return new(Comparer) }

var comparers = sync.Pool{New: func() any { return New() }}

// Compare compares the primary's and the shadow's answer bodies with a
// pooled Comparer; see Comparer.Compare.
func Compare(primary, shadow []byte, o Options) (Result, error) {
	c := comparers.Get().(*Comparer)
	defer comparers.Put(c)
	return c.Compare(primary, shadow, o)
}

// Compare compares the primary's and the shadow's answer bodies. It returns
// ErrPrimaryInvalid or ErrShadowInvalid (primary checked first) when a body
// is not exactly one JSON value (or nests deeper than fastjson.MaxDepth,
// 300 levels). The bodies are not modified or retained.
func (c *Comparer) Compare(primary, shadow []byte, o Options) (Result, error) {
	p, err := parseWith(&c.pp, primary)
	if err != nil {
		return Result{}, ErrPrimaryInvalid
	}
	s, err := parseWith(&c.sp, shadow)
	if err != nil {
		return Result{}, ErrShadowInvalid
	}
	return c.w.run(p, s, o), nil
}

// parse parses b with a new parser; see parseWith.
func parse(b []byte) (*fastjson.Value, error) {
	var p fastjson.Parser
	return parseWith(&p, b)
}

// parseWith parses exactly one JSON value with p; the value lives until p's
// next parse. It accepts and decodes exactly what encoding/json does
// (numbers kept as their literal): fastjson.Validate is as strict as
// encoding/json on valid UTF-8, and bodies whose strings fastjson would
// decode differently (invalid UTF-8, escaped UTF-16 surrogates, which
// encoding/json replaces with U+FFFD) are first normalised through
// encoding/json. The one difference: fastjson refuses nesting deeper than
// 300 levels, encoding/json 10000.
func parseWith(p *fastjson.Parser, b []byte) (*fastjson.Value, error) {
	if utf8.Valid(b) && !hasSurrogateEscape(b) {
		if err := fastjson.ValidateBytes(b); err != nil {
			return nil, err
		}
		return p.ParseBytes(b)
	}
	v, err := decodeStd(b)
	if err != nil {
		return nil, err
	}
	if b, err = json.Marshal(v); err != nil {
		return nil, err
	}
	return p.ParseBytes(b)
}

// decodeStd decodes exactly one JSON value with encoding/json, numbers kept
// as json.Number.
func decodeStd(b []byte) (any, error) {
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

// hasSurrogateEscape reports whether b may hold a \uD800-\uDFFF escape
// (false positives only cost the slow path).
func hasSurrogateEscape(b []byte) bool {
	for {
		i := bytes.IndexByte(b, '\\')
		if i < 0 || i+1 >= len(b) {
			return false
		}
		if b[i+1] == 'u' && i+3 < len(b) && b[i+2]|0x20 == 'd' {
			switch c := b[i+3] | 0x20; {
			case c >= '8' && c <= '9', c >= 'a' && c <= 'f':
				return true
			}
		}
		b = b[i+2:]
	}
}

// b2s views b as a string without copying; b must not change while the
// string is in use.
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
