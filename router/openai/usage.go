package openai

import "bytes"

// Usage is the token count of one answer, from its "usage" object.
type Usage struct {
	PromptTokens, CompletionTokens int
}

// DefaultMaxTokens is the completion size the token budget's estimate
// assumes for a completion request without "max_tokens" (or
// "max_completion_tokens"): the real count settles the difference after
// the answer.
const DefaultMaxTokens = 512

// PromptBytesPerToken is the estimate's ratio of prompt bytes (the JSON of
// "messages", "prompt" or "input" as written) to tokens: about 4 for
// English text with OpenAI-style tokenizers.
const PromptBytesPerToken = 4

// Estimate is the tokens a request scanned as r reserves from a token
// budget before its call: PromptBytes/PromptBytesPerToken, plus, for a
// request that generates (completes true: chat and completions, not
// embeddings), its max_tokens or DefaultMaxTokens. At least 1.
func (r Request) Estimate(completes bool) int {
	n := r.PromptBytes / PromptBytesPerToken
	if completes {
		if r.MaxTokens >= 0 {
			n += r.MaxTokens
		} else {
			n += DefaultMaxTokens
		}
	}
	return max(n, 1)
}

// AddIncludeUsage returns body (scanned as *r) asking for the stream's
// usage chunk, "stream_options": {"include_usage": true}, and updates r
// for the new body (its model span and End; IncludeUsage set, the
// options' spans cleared). A body that asks already is returned as is;
// otherwise the new body is built in dst[:0] (one copy of body, allocating
// only when dst lacks the capacity): the include_usage value replaced by
// true, a null stream_options replaced, or the member added at the head of the stream_options object, or
// "stream_options" added at the end of the body's object.
func AddIncludeUsage(dst, body []byte, r *Request) []byte {
	if r.IncludeUsage {
		return body
	}
	var at, cut int // body[at:cut] is replaced by ins
	var ins string
	switch {
	case r.nullEnd > 0:
		at, cut, ins = r.nullStart, r.nullEnd, `{"include_usage":true}`
	case r.UsageEnd > 0:
		at, cut, ins = r.UsageStart, r.UsageEnd, "true"
	case r.OptionsStart > 0 && r.OptionsEmpty:
		at, cut, ins = r.OptionsStart, r.OptionsStart, `"include_usage":true`
	case r.OptionsStart > 0:
		at, cut, ins = r.OptionsStart, r.OptionsStart, `"include_usage":true,`
	default:
		at, cut, ins = r.End, r.End, `,"stream_options":{"include_usage":true}`
	}
	dst = append(dst[:0], body[:at]...)
	dst = append(dst, ins...)
	dst = append(dst, body[cut:]...)
	delta := len(ins) - (cut - at)
	// Offsets of a byte (ModelStart, End) at or after cut move; the
	// model's exclusive end moves when past at (an insertion right after
	// the model, at End, leaves it).
	for _, p := range [...]*int{&r.ModelStart, &r.End} {
		if *p >= cut {
			*p += delta
		}
	}
	if r.ModelEnd > at {
		r.ModelEnd += delta
	}
	// The options' spans are not kept: the body asks for usage now.
	r.OptionsStart, r.OptionsEmpty, r.UsageStart, r.UsageEnd, r.nullStart, r.nullEnd = 0, false, 0, 0, 0, 0
	r.IncludeUsage = true
	return dst
}

// ScanUsage reads the top-level "usage" object of an answer body (a
// chat.completion, text_completion or embeddings list, or one chunk of a
// stream): its prompt_tokens and completion_tokens (0 when absent).
// found is false when the body is no JSON object or has no usage object.
// emptyChoices reports a "choices": [] member: a stream's usage-only
// chunk. Like Scan it walks the body once without decoding it and does
// not allocate.
func ScanUsage(body []byte) (u Usage, found, emptyChoices bool) {
	s := scanner{b: body}
	err := s.object(1, func(key []byte) error {
		switch string(key) {
		case "usage":
			if s.peek() != '{' {
				return s.skip(2)
			}
			found = true
			return s.object(2, func(k []byte) error {
				start := s.i
				if err := s.skip(3); err != nil {
					return err
				}
				n, ok := parseCount(body[start:s.i])
				if !ok {
					return nil
				}
				switch string(k) {
				case "prompt_tokens":
					u.PromptTokens = n
				case "completion_tokens":
					u.CompletionTokens = n
				}
				return nil
			})
		case "choices":
			start := s.i
			if err := s.skip(2); err != nil {
				return err
			}
			emptyChoices = isEmptyArray(body[start:s.i])
			return nil
		}
		return s.skip(2)
	})
	if err != nil {
		return Usage{}, false, false
	}
	return u, found, emptyChoices
}

func isEmptyArray(b []byte) bool {
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return false
	}
	return len(bytes.TrimSpace(b[1:len(b)-1])) == 0
}

// NextEvent splits the first server-sent event off b, a run of complete
// events (each ended by a blank line, "\n\n" or "\r\n\r\n"): ev is the
// event with its blank line, rest what follows. An unterminated tail is
// returned whole as ev.
func NextEvent(b []byte) (ev, rest []byte) {
	i, n := bytes.Index(b, []byte("\n\n")), 2
	if j := bytes.Index(b, []byte("\r\n\r\n")); j >= 0 && (i < 0 || j < i) {
		i, n = j, 4
	}
	if i < 0 {
		return b, nil
	}
	return b[:i+n], b[i+n:]
}

// EventData is the value of ev's data field when ev has exactly one data
// line (what OpenAI-compatible servers send), without "data:" and one
// leading space; nil otherwise. Comment and other field lines are
// ignored.
func EventData(ev []byte) []byte {
	var data []byte
	lines := 0
	for len(ev) > 0 {
		line := ev
		if i := bytes.IndexByte(ev, '\n'); i >= 0 {
			line, ev = ev[:i], ev[i+1:]
		} else {
			ev = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if v, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			lines++
			data = bytes.TrimPrefix(v, []byte(" "))
		}
	}
	if lines != 1 {
		return nil
	}
	return data
}
