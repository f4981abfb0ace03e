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
