// Package openai is what the gateway knows of OpenAI's HTTP API, as pure
// functions over bytes: the few fields of a request body it routes on
// (Scan), the model's rewrite for a version's upstream_model (SetModel),
// the name@version pin (SplitPin), and the bodies it answers itself
// (errors, the model list, the error event that ends a broken stream).
// Nothing here does I/O or allocates on the request path.
package openai

import (
	"bytes"
	"errors"
)

// Request is what Scan reads of an OpenAI request body. Byte slices alias
// the body: they are valid as long as it is and are not modified.
type Request struct {
	// Model is the "model" string as written, without its quotes and with
	// escapes not decoded (a name with a backslash matches no configured
	// model: configs.ValidName has none).
	Model []byte
	// ModelStart and ModelEnd delimit the model's JSON string in the body,
	// quotes included: body[ModelStart:ModelEnd] == `"` + Model + `"`.
	ModelStart, ModelEnd int
	// Stream is the "stream" field (false when absent or null).
	Stream bool
	// User is the "user" string as written (nil when absent or null): the
	// sticky key when the model has no sticky_header.
	User []byte
	// IncludeUsage is "stream_options": {"include_usage": true}.
	IncludeUsage bool

	// What the token budget's estimate (Estimate) and AddIncludeUsage
	// need, all read in the same walk:

	// MaxTokens is the largest "max_tokens" or "max_completion_tokens"
	// that is a non-negative integer, -1 when there is none.
	MaxTokens int
	// PromptBytes is the size in bytes of the "messages", "prompt" and
	// "input" values as written (0 when absent).
	PromptBytes int
	// End is the offset of the body's closing '}'.
	End int
	// OptionsStart is the offset just past the '{' of the
	// "stream_options" object, 0 when there is none; OptionsEmpty
	// reports that object has no member.
	OptionsStart int
	OptionsEmpty bool
	// UsageStart and UsageEnd delimit the value of
	// stream_options.include_usage (0, 0 when absent).
	UsageStart, UsageEnd int
	// nullStart and nullEnd delimit "stream_options": null's value.
	nullStart, nullEnd int
}

// Scan errors. Fixed texts: none quotes the body.
var (
	ErrMalformed = errors.New("request body is not a valid JSON object")
	ErrNoModel   = errors.New(`request body has no "model" string`)
	ErrFieldType = errors.New(`"model" and "user" must be strings, "stream" and "stream_options.include_usage" booleans, "stream_options" an object`)
	ErrDuplicate = errors.New(`a field the gateway routes on ("model", "stream", "stream_options", "user") appears twice`)
)

// maxDepth bounds nesting in a scanned body (messages with content parts
// nest 4 or 5 levels); deeper bodies are ErrMalformed.
const maxDepth = 64

// Scan reads model, stream, user and stream_options.include_usage from
// body, a JSON object, checking the body's syntax as it skips every other
// value without decoding it. Keys are compared as written (an escaped key
// such as "mod\u0065l" is another field). A routed field that appears
// twice is ErrDuplicate: the gateway and the model server must not read
// different ones. It does not allocate.
func Scan(body []byte) (Request, error) {
	s := scanner{b: body}
	r := Request{MaxTokens: -1}
	var seen uint8
	const seenModel, seenStream, seenUser, seenOptions = 1, 2, 4, 8
	err := s.object(1, func(key []byte) error {
		var bit uint8
		switch string(key) {
		case "model":
			bit = seenModel
			start, end, err := s.field()
			if err != nil {
				return err
			}
			r.Model, r.ModelStart, r.ModelEnd = body[start+1:end-1], start, end
		case "stream":
			bit = seenStream
			v, ok := s.boolOrNull()
			if !ok {
				return ErrFieldType
			}
			r.Stream = v
		case "user":
			bit = seenUser
			if s.null() {
				r.User = nil
				break
			}
			start, end, err := s.field()
			if err != nil {
				return err
			}
			r.User = body[start+1 : end-1]
		case "stream_options":
			bit = seenOptions
			if start := s.i; s.null() {
				r.nullStart, r.nullEnd = start, s.i
				break
			}
			if s.peek() != '{' {
				return ErrFieldType
			}
			r.OptionsStart = s.i + 1
			r.OptionsEmpty = true
			if err := s.object(2, func(k []byte) error {
				r.OptionsEmpty = false
				if string(k) != "include_usage" {
					return s.skip(3)
				}
				r.UsageStart = s.i
				v, ok := s.boolOrNull()
				if !ok {
					return ErrFieldType
				}
				r.IncludeUsage, r.UsageEnd = v, s.i
				return nil
			}); err != nil {
				return err
			}
		case "messages", "prompt", "input":
			start := s.i
			err := s.skip(2)
			r.PromptBytes += s.i - start
			return err
		case "max_tokens", "max_completion_tokens":
			start := s.i
			if err := s.skip(2); err != nil {
				return err
			}
			if n, ok := parseCount(body[start:s.i]); ok && n > r.MaxTokens {
				r.MaxTokens = n
			}
			return nil
		default:
			return s.skip(2)
		}
		if seen&bit != 0 {
			return ErrDuplicate
		}
		seen |= bit
		return nil
	})
	if err != nil {
		return Request{}, err
	}
	r.End = s.i - 1
	if s.ws(); s.i != len(body) {
		return Request{}, ErrMalformed
	}
	if seen&seenModel == 0 {
		return Request{}, ErrNoModel
	}
	return r, nil
}

// SplitPin splits a model field "name@version" at its last '@' (names and
// versions have none: configs.ValidName); without one, version is nil.
func SplitPin(model []byte) (name, version []byte) {
	if i := bytes.LastIndexByte(model, '@'); i >= 0 {
		return model[:i], model[i+1:]
	}
	return model, nil
}

// SetModel returns body with the model's JSON string (r from Scan of body)
// replaced by quoted, a JSON string with its quotes. When the lengths are
// equal it overwrites body in place and returns it; otherwise it builds the
// new body in dst[:0] (prefix, quoted, suffix: one copy of the body) and
// returns that, allocating only when dst lacks the capacity.
func SetModel(dst, body []byte, r Request, quoted []byte) []byte {
	if r.ModelEnd-r.ModelStart == len(quoted) {
		copy(body[r.ModelStart:], quoted)
		return body
	}
	dst = append(dst[:0], body[:r.ModelStart]...)
	dst = append(dst, quoted...)
	return append(dst, body[r.ModelEnd:]...)
}

// maxCount bounds the token counts parseCount reads (2^40): larger ones
// are refused, so sums of counts never overflow.
const maxCount = 1 << 40

// parseCount reads a JSON number that is a non-negative integer (digits
// only) up to maxCount.
func parseCount(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
		if n > maxCount {
			return 0, false
		}
	}
	return n, true
}

// scanner is a JSON syntax checker over b from i.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek skips whitespace and returns the next byte, 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// object scans an object at depth, calling member with each key once
// the scanner is past its ':'; member scans (or skips) the value.
func (s *scanner) object(depth int, member func(key []byte) error) error {
	if depth > maxDepth || s.peek() != '{' {
		return ErrMalformed
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return nil
	}
	for {
		if s.peek() != '"' {
			return ErrMalformed
		}
		start, end, ok := s.str()
		if !ok {
			return ErrMalformed
		}
		if s.peek() != ':' {
			return ErrMalformed
		}
		s.i++
		s.ws()
		if err := member(s.b[start+1 : end-1]); err != nil {
			return err
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return ErrMalformed
		}
	}
}

// str scans a string at the scanner's position, returning its span with
// quotes. Escapes are checked for shape (a backslash and one of
// "\/bfnrtu), not decoded; control characters are refused.
func (s *scanner) str() (start, end int, ok bool) {
	if s.peek() != '"' {
		return 0, 0, false
	}
	start = s.i
	for i := s.i + 1; i < len(s.b); i++ {
		switch c := s.b[i]; {
		case c == '"':
			s.i = i + 1
			return start, s.i, true
		case c == '\\':
			i++
			if i == len(s.b) || bytes.IndexByte([]byte(`"\/bfnrtu`), s.b[i]) < 0 {
				return 0, 0, false
			}
		case c < 0x20:
			return 0, 0, false
		}
	}
	return 0, 0, false
}

// field scans a routed string field's value: ErrFieldType if it is not a
// string, ErrMalformed if it is a broken one.
func (s *scanner) field() (start, end int, err error) {
	if s.peek() != '"' {
		return 0, 0, ErrFieldType
	}
	start, end, ok := s.str()
	if !ok {
		return 0, 0, ErrMalformed
	}
	return start, end, nil
}

func (s *scanner) literal(lit string) bool {
	if s.peek(); len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

func (s *scanner) null() bool { return s.literal("null") }

func (s *scanner) boolOrNull() (v, ok bool) {
	switch {
	case s.literal("true"):
		return true, true
	case s.literal("false"), s.null():
		return false, true
	}
	return false, false
}

// skip scans any value at depth.
func (s *scanner) skip(depth int) error {
	if depth > maxDepth {
		return ErrMalformed
	}
	switch c := s.peek(); {
	case c == '"':
		if _, _, ok := s.str(); !ok {
			return ErrMalformed
		}
	case c == '{':
		return s.object(depth, func([]byte) error { return s.skip(depth + 1) })
	case c == '[':
		s.i++
		if s.peek() == ']' {
			s.i++
			return nil
		}
		for {
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			switch s.peek() {
			case ',':
				s.i++
			case ']':
				s.i++
				return nil
			default:
				return ErrMalformed
			}
		}
	case c == '-' || c >= '0' && c <= '9':
		if !s.number() {
			return ErrMalformed
		}
	case s.literal("true"), s.literal("false"), s.null():
	default:
		return ErrMalformed
	}
	return nil
}

// number scans a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	digits := func() int {
		n := 0
		for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	if s.i < len(s.b) && s.b[s.i] == '0' {
		s.i++
	} else if digits() == 0 {
		return false
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return false
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}
