package llmserver

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/await"
)

func start(t *testing.T, opts Options) *Running {
	t.Helper()
	r, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func post(t *testing.T, url, body string) *http.Response {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func decode(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
}

type completion struct {
	Model             string `json:"model"`
	Object            string `json:"object"`
	SystemFingerprint string `json:"system_fingerprint"`
	Choices           []struct {
		Message      struct{ Role, Content string } `json:"message"`
		Delta        struct{ Content string }       `json:"delta"`
		Text         string                         `json:"text"`
		FinishReason *string                        `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	} `json:"usage"`
}

func TestCompletions(t *testing.T) {
	r := start(t, Options{Name: "a"})
	tests := []struct {
		desc, path, body         string
		object, text, finish     string
		prompt, completionTokens int
	}{
		{"chat", "/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hello there"}]}`,
			"chat.completion", "t0 t1 t2 t3 t4 ", "stop", 2, 5},
		{"chat capped by max_tokens", "/v1/chat/completions", `{"model":"m","max_tokens":2,"messages":[{"role":"user","content":[{"type":"text","text":"a b c"}]}]}`,
			"chat.completion", "t0 t1 ", "length", 3, 2},
		{"completion", "/v1/completions", `{"model":"m","prompt":"once upon"}`, "text_completion", "t0 t1 t2 t3 t4 ", "stop", 2, 5},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			resp := post(t, r.URL+tt.path, tt.body)
			if resp.StatusCode != 200 {
				t.Fatalf("got status %d", resp.StatusCode)
			}
			var c completion
			decode(t, resp, &c)
			text := c.Choices[0].Text + c.Choices[0].Message.Content
			if c.Object != tt.object || text != tt.text || *c.Choices[0].FinishReason != tt.finish || c.Model != "m" || c.SystemFingerprint != "a" {
				t.Errorf("got %+v, want object %s, text %q, finish %s", c, tt.object, tt.text, tt.finish)
			}
			if u := c.Usage; u == nil || u.PromptTokens != tt.prompt || u.CompletionTokens != tt.completionTokens || u.TotalTokens != tt.prompt+tt.completionTokens {
				t.Errorf("usage: got %+v, want %d prompt and %d completion tokens", c.Usage, tt.prompt, tt.completionTokens)
			}
		})
	}
	if got := r.Server.Requests(); len(got) != 3 || got[0].Path != "/v1/chat/completions" || got[0].Model != "m" {
		t.Errorf("recorded: got %+v, want the 3 requests", got)
	}
}

func TestStream(t *testing.T) {
	r := start(t, Options{ReplyTokens: 3})
	for _, tt := range []struct {
		desc  string
		usage bool
	}{{"without usage", false}, {"with usage", true}} {
		t.Run(tt.desc, func(t *testing.T) {
			body := `{"model":"m","stream":true,"messages":[{"role":"user","content":"x y"}]}`
			if tt.usage {
				body = `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x y"}]}`
			}
			resp := post(t, r.URL+"/v1/chat/completions", body)
			if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
				t.Fatalf("content type %q", ct)
			}
			events, err := ReadEvents(resp.Body, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := 3 + 1 + 1 // tokens, finish, [DONE]
			if tt.usage {
				want++
			}
			if len(events) != want || events[len(events)-1].Data != "[DONE]" {
				t.Fatalf("got %d events %v, want %d ending in [DONE]", len(events), events, want)
			}
			text := ""
			var usage int
			for i, ev := range events[:len(events)-1] {
				var c completion
				if err := json.Unmarshal([]byte(ev.Data), &c); err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
				if c.Object != "chat.completion.chunk" {
					t.Errorf("event %d: object %q", i, c.Object)
				}
				for _, ch := range c.Choices {
					text += ch.Delta.Content
				}
				if c.Usage != nil {
					usage++
					if len(c.Choices) != 0 || c.Usage.PromptTokens != 2 || c.Usage.CompletionTokens != 3 {
						t.Errorf("usage chunk %+v", c)
					}
				}
			}
			if text != "t0 t1 t2 " {
				t.Errorf("streamed text %q", text)
			}
			if want := map[bool]int{false: 0, true: 1}[tt.usage]; usage != want {
				t.Errorf("got %d usage chunks, want %d", usage, want)
			}
		})
	}
}

// TestStreamDelays: events are written as tokens are generated, spaced by
// the token delay, the first after the first-token delay.
func TestStreamDelays(t *testing.T) {
	const first, between = 80 * time.Millisecond, 40 * time.Millisecond
	r := start(t, Options{ReplyTokens: 4, FirstTokenDelay: first, TokenDelay: between})
	t0 := time.Now()
	resp := post(t, r.URL+"/v1/completions", `{"model":"m","stream":true,"prompt":"p"}`)
	events, err := ReadEvents(resp.Body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) < 4 {
		t.Fatalf("got %d events", len(events))
	}
	if got := events[0].At.Sub(t0); got < first {
		t.Errorf("first token after %v, want at least %v", got, first)
	}
	for i := 1; i < 4; i++ {
		if gap := events[i].At.Sub(events[i-1].At); gap < between*3/4 {
			t.Errorf("token %d came %v after the previous, want about %v", i, gap, between)
		}
	}
}

func TestBreakAfter(t *testing.T) {
	r := start(t, Options{ReplyTokens: 5, BreakAfter: 2})
	resp := post(t, r.URL+"/v1/chat/completions", `{"model":"m","stream":true,"messages":[]}`)
	events, err := ReadEvents(resp.Body, nil)
	if err == nil {
		t.Fatalf("got a clean end after %d events, want a broken stream", len(events))
	}
	if len(events) != 2 {
		t.Errorf("got %d events before the break, want 2", len(events))
	}
	if r.Server.Completed() != 0 {
		t.Errorf("a broken stream counted as completed")
	}
}

func TestFailures(t *testing.T) {
	r := start(t, Options{Model: "served"})
	var e struct {
		Error struct{ Message, Type, Code string } `json:"error"`
	}
	resp := post(t, r.URL+"/v1/chat/completions", `{"model":"other","messages":[]}`)
	decode(t, resp, &e)
	if resp.StatusCode != 404 || e.Error.Code != "model_not_found" || e.Error.Type != "invalid_request_error" {
		t.Errorf("unknown model: got %d %+v", resp.StatusCode, e)
	}
	r.Server.SetFailStatus(503)
	resp = post(t, r.URL+"/v1/chat/completions", `{"model":"served","stream":true,"messages":[]}`)
	decode(t, resp, &e)
	if resp.StatusCode != 503 || e.Error.Type != "server_error" || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("injected failure: got %d %+v", resp.StatusCode, e)
	}
	r.Server.SetFailStatus(0)
	if resp := post(t, r.URL+"/v1/chat/completions", `{"model":"served","messages":[]}`); resp.StatusCode != 200 {
		t.Errorf("after the failure: got %d", resp.StatusCode)
	}
}

func TestEmbeddings(t *testing.T) {
	r := start(t, Options{Dim: 16})
	type answer struct {
		Data []struct {
			Index     int       `json:"index"`
			Embedding []float64 `json:"embedding"`
		} `json:"data"`
		Usage struct{ PromptTokens int } `json:"usage"`
	}
	var one, many answer
	decode(t, post(t, r.URL+"/v1/embeddings", `{"model":"e","input":"hello world"}`), &one)
	decode(t, post(t, r.URL+"/v1/embeddings", `{"model":"e","input":["other","hello world"]}`), &many)
	if len(one.Data) != 1 || len(many.Data) != 2 || len(one.Data[0].Embedding) != 16 {
		t.Fatalf("got %+v and %+v", one, many)
	}
	if !equal(one.Data[0].Embedding, many.Data[1].Embedding) {
		t.Errorf("the same text gave different vectors")
	}
	if equal(many.Data[0].Embedding, many.Data[1].Embedding) {
		t.Errorf("different texts gave the same vector")
	}
	var norm float64
	for _, x := range one.Data[0].Embedding {
		norm += x * x
	}
	if math.Abs(norm-1) > 1e-9 {
		t.Errorf("norm² %v, want 1", norm)
	}
	if !equal(one.Data[0].Embedding, Embedding("hello world", 16)) {
		t.Errorf("answer differs from Embedding")
	}
	// encoding_format base64 (OpenAI's clients' default): little-endian
	// float32s.
	var b64 struct {
		Data []struct {
			Embedding string `json:"embedding"`
		} `json:"data"`
	}
	decode(t, post(t, r.URL+"/v1/embeddings", `{"model":"e","input":"hello world","encoding_format":"base64"}`), &b64)
	raw, err := base64.StdEncoding.DecodeString(b64.Data[0].Embedding)
	if err != nil || len(raw) != 4*16 {
		t.Fatalf("base64 embedding %q: %d bytes, %v", b64.Data[0].Embedding, len(raw), err)
	}
	for i, want := range Embedding("hello world", 16) {
		if got := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])); got != float32(want) {
			t.Errorf("base64 component %d: got %v, want %v", i, got, float32(want))
		}
	}
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestCanceledStream: a client that goes away mid-stream is counted, and
// the server stops generating.
func TestCanceledStream(t *testing.T) {
	r := start(t, Options{ReplyTokens: 100, TokenDelay: 20 * time.Millisecond})
	resp := post(t, r.URL+"/v1/chat/completions", `{"model":"m","stream":true,"messages":[]}`)
	events, _ := ReadEvents(resp.Body, func(Event) bool { return false })
	if len(events) != 1 {
		t.Fatalf("got %d events", len(events))
	}
	resp.Body.Close() // closes the connection: the stream is unread
	await.Until(t, 5*time.Second, "the server to count the cancellation", func() bool { return r.Server.Canceled() == 1 })
	if n := r.Server.TokensStreamed(); n >= 100 {
		t.Errorf("streamed %d tokens to a gone client", n)
	}
}

func TestModels(t *testing.T) {
	r := start(t, Options{Model: "llama"})
	resp, err := http.Get(r.URL + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Object string
		Data   []struct{ ID string } `json:"data"`
	}
	decode(t, resp, &list)
	if list.Object != "list" || len(list.Data) != 1 || list.Data[0].ID != "llama" {
		t.Errorf("got %+v", list)
	}
}
