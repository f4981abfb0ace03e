package llmserver

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"math"
	"strings"
)

// Embedding is the deterministic unit vector of dimension dim the server
// answers for text: the same text always gives the same vector.
func Embedding(text string, dim int) []float64 {
	v := make([]float64, dim)
	var norm float64
	for i := range v {
		h := fnv.New64a()
		h.Write([]byte{byte(i), byte(i >> 8)})
		h.Write([]byte(text))
		v[i] = float64(int64(h.Sum64()>>11))/float64(1<<52) - 1
		norm += v[i] * v[i]
	}
	norm = math.Sqrt(norm)
	for i := range v {
		v[i] /= norm
	}
	return v
}

// promptTokens counts a request's prompt as whitespace-separated words of
// its messages' text content, or of its prompt.
func promptTokens(req *request) int {
	n := 0
	for _, m := range req.Messages {
		switch c := m.Content.(type) {
		case string:
			n += countWords(c)
		case []any:
			for _, part := range c {
				if p, ok := part.(map[string]any); ok {
					if t, ok := p["text"].(string); ok {
						n += countWords(t)
					}
				}
			}
		}
	}
	var prompt string
	var prompts []string
	if json.Unmarshal(req.Prompt, &prompt) == nil {
		n += countWords(prompt)
	} else if json.Unmarshal(req.Prompt, &prompts) == nil {
		for _, p := range prompts {
			n += countWords(p)
		}
	}
	return n
}

func countWords(s string) int { return len(strings.Fields(s)) }

// encodeBase64 is v as OpenAI's base64 encoding_format: little-endian
// float32s, base64 (standard, padded).
func encodeBase64(v []float64) string {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(f)))
	}
	return base64.StdEncoding.EncodeToString(b)
}
