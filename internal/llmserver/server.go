// Package llmserver is a stand-in for an OpenAI-compatible model server
// (vLLM, TGI, Triton's OpenAI frontend) for tests: chat completions,
// completions, embeddings and the model list in OpenAI's JSON shapes, with
// server-sent-event streaming at controllable speeds, usage, and fault
// injection before the first byte and in the middle of a stream. Every
// request is recorded, and a stream its client abandoned is counted.
//
// Answers are deterministic: a completion's tokens are "t0 ", "t1 ", …
// (Options.ReplyTokens of them, capped by the request's max_tokens), an
// embedding is a unit vector derived from a hash of its input text.
package llmserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// MaxRecorded is the number of most recent requests kept by [Server.Requests].
const MaxRecorded = 1000

// MaxBodyBytes is the largest request body read; larger ones get 413.
const MaxBodyBytes = 10 << 20

// Options configures a [Server]. The zero value serves any model name,
// answers at once with 5 tokens and 8-dimensional embeddings.
type Options struct {
	// Model is the model name served; a request naming another gets 404
	// in OpenAI's error shape (as vLLM answers). Default "": any name.
	Model string
	// Name identifies this server in its answers (the
	// "system_fingerprint" field), so a test can tell which of several
	// served a request. Default "llmserver".
	Name string
	// ReplyTokens is the number of tokens of every completion, before the
	// request's max_tokens caps it. Default 5.
	ReplyTokens int
	// FirstTokenDelay is the wait before the first token (before the
	// answer's headers, streaming or not). Default 0.
	FirstTokenDelay time.Duration
	// TokenDelay is the wait between two tokens. Default 0.
	TokenDelay time.Duration
	// Dim is the embeddings' dimension. Default 8.
	Dim int
	// FailStatus, when nonzero, makes completions and embeddings answer it
	// (400–599, else 500) with an OpenAI error body, before any byte of an
	// answer (fault injection).
	FailStatus int
	// BreakAfter, when positive, makes a stream break after that many
	// token events: the connection is closed without the stream's end
	// (fault injection).
	BreakAfter int
}

// Recorded is a copy of one request received.
type Recorded struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
	Model  string // the body's "model", "" if none
	Stream bool   // the body's "stream"
}

// Server is an [http.Handler] for the OpenAI API paths (/v1/...). All
// methods are safe for concurrent use.
type Server struct {
	model, name string
	replyTokens int
	dim         int

	firstDelay atomic.Int64 // time.Duration
	tokenDelay atomic.Int64 // time.Duration
	failStatus atomic.Int32
	breakAfter atomic.Int32

	canceled  atomic.Int64
	completed atomic.Int64
	tokens    atomic.Int64 // token events written to streams

	mu   sync.Mutex
	reqs []Recorded
}

// NewHandler returns a Server for opts.
func NewHandler(opts Options) *Server {
	s := &Server{model: opts.Model, name: opts.Name, replyTokens: opts.ReplyTokens, dim: opts.Dim}
	if s.name == "" {
		s.name = "llmserver"
	}
	if s.replyTokens <= 0 {
		s.replyTokens = 5
	}
	if s.dim <= 0 {
		s.dim = 8
	}
	s.SetDelays(opts.FirstTokenDelay, opts.TokenDelay)
	s.SetFailStatus(opts.FailStatus)
	s.SetBreakAfter(opts.BreakAfter)
	return s
}

// SetDelays sets the wait before the first token and between tokens
// (negative: 0), for requests arriving afterwards.
func (s *Server) SetDelays(first, between time.Duration) {
	s.firstDelay.Store(int64(max(first, 0)))
	s.tokenDelay.Store(int64(max(between, 0)))
}

// SetFailStatus makes completions and embeddings answer status (400–599,
// any other nonzero value 500) before any byte; 0 turns it off.
func (s *Server) SetFailStatus(status int) {
	switch {
	case status <= 0:
		status = 0
	case status < 400 || status > 599:
		status = http.StatusInternalServerError
	}
	s.failStatus.Store(int32(status))
}

// SetBreakAfter makes streams break after n token events; 0 turns it off.
func (s *Server) SetBreakAfter(n int) { s.breakAfter.Store(int32(max(n, 0))) }

// Canceled counts the streams whose client went away before their end.
func (s *Server) Canceled() int64 { return s.canceled.Load() }

// Completed counts the answers written in full (streams to their [DONE]).
func (s *Server) Completed() int64 { return s.completed.Load() }

// TokensStreamed counts the token events written to streams.
func (s *Server) TokensStreamed() int64 { return s.tokens.Load() }

// Requests returns copies of the most recent requests (at most
// MaxRecorded), oldest first.
func (s *Server) Requests() []Recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Recorded(nil), s.reqs...)
}

func (s *Server) record(r *http.Request, body []byte, req *request) {
	rec := Recorded{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Body: body}
	if req != nil {
		rec.Model, rec.Stream = req.Model, req.Stream
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reqs) == MaxRecorded {
		s.reqs = append(s.reqs[:0], s.reqs[1:]...)
	}
	s.reqs = append(s.reqs, rec)
}

// request is what the server reads of a request body.
type request struct {
	Model     string          `json:"model"`
	Stream    bool            `json:"stream"`
	MaxTokens int             `json:"max_tokens"`
	Messages  []message       `json:"messages"`
	Prompt    json.RawMessage `json:"prompt"`
	Input     json.RawMessage `json:"input"`
	// EncodingFormat of embeddings: "float" (default) or "base64" (what
	// OpenAI's clients ask for by default).
	EncodingFormat string `json:"encoding_format"`
	StreamOptions  *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

type message struct {
	Role    string `json:"role"`
	Content any    `json:"content"`
}

// ServeHTTP serves POST /v1/chat/completions, /v1/completions,
// /v1/embeddings and GET /v1/models; GET /health and /v2/health/ready
// answer 200 (health checks).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && (r.URL.Path == "/health" || r.URL.Path == "/v2/health/ready"):
		w.WriteHeader(http.StatusOK)
		return
	case r.Method == http.MethodGet && r.URL.Path == "/v1/models":
		s.record(r, nil, nil)
		s.models(w)
		return
	}
	kind, ok := map[string]string{"/v1/chat/completions": "chat", "/v1/completions": "completion", "/v1/embeddings": "embedding"}[r.URL.Path]
	if !ok {
		writeError(w, http.StatusNotFound, "no such path", "not_found")
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "method not allowed", "method_not_allowed")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil || len(body) > MaxBodyBytes {
		writeError(w, http.StatusRequestEntityTooLarge, "body too large or unreadable", "bad_body")
		return
	}
	var req request
	if err := json.Unmarshal(body, &req); err != nil {
		s.record(r, body, nil)
		writeError(w, http.StatusBadRequest, "body is not valid JSON", "invalid_json")
		return
	}
	s.record(r, body, &req)
	if st := int(s.failStatus.Load()); st != 0 {
		writeError(w, st, "injected failure", "injected")
		return
	}
	if s.model != "" && req.Model != s.model {
		writeError(w, http.StatusNotFound, fmt.Sprintf("The model `%s` does not exist.", req.Model), "model_not_found")
		return
	}
	if kind == "embedding" {
		s.embeddings(w, &req)
		return
	}
	if !s.wait(r, time.Duration(s.firstDelay.Load())) {
		s.canceled.Add(1)
		return
	}
	if req.Stream {
		s.stream(w, r, kind, &req)
		return
	}
	s.complete(w, kind, &req)
}

// wait sleeps d unless the client goes away first (false).
func (s *Server) wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return r.Context().Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// tokenCount is the number of tokens to generate for req.
func (s *Server) tokenCount(req *request) (n int, finish string) {
	n, finish = s.replyTokens, "stop"
	if req.MaxTokens > 0 && req.MaxTokens < n {
		n, finish = req.MaxTokens, "length"
	}
	return n, finish
}

// Token is the i-th token of every completion.
func Token(i int) string { return fmt.Sprintf("t%d ", i) }

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

func newUsage(prompt, completion int) *usage {
	return &usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}
}

var ids atomic.Int64

func (s *Server) complete(w http.ResponseWriter, kind string, req *request) {
	n, finish := s.tokenCount(req)
	text := ""
	for i := range n {
		text += Token(i)
	}
	choice := map[string]any{"index": 0, "finish_reason": finish, "logprobs": nil}
	object := "text_completion"
	if kind == "chat" {
		object = "chat.completion"
		choice["message"] = map[string]any{"role": "assistant", "content": text}
	} else {
		choice["text"] = text
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": fmt.Sprintf("cmpl-%d", ids.Add(1)), "object": object, "created": time.Now().Unix(),
		"model": req.Model, "system_fingerprint": s.name, "choices": []any{choice},
		"usage": newUsage(promptTokens(req), n),
	})
	s.completed.Add(1)
}

// stream writes req's completion as server-sent events: one chunk per
// token, a last chunk with the finish reason, the usage chunk when
// stream_options.include_usage is set, then "data: [DONE]".
func (s *Server) stream(w http.ResponseWriter, r *http.Request, kind string, req *request) {
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	id := fmt.Sprintf("cmpl-%d", ids.Add(1))
	created := time.Now().Unix()
	object := "text_completion"
	if kind == "chat" {
		object = "chat.completion.chunk"
	}
	event := func(choices []any, u *usage) bool {
		chunk := map[string]any{"id": id, "object": object, "created": created, "model": req.Model,
			"system_fingerprint": s.name, "choices": choices}
		if u != nil {
			chunk["usage"] = u
		}
		b, _ := json.Marshal(chunk)
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		flusher.Flush()
		return true
	}
	choice := func(text string, finish any) []any {
		c := map[string]any{"index": 0, "finish_reason": finish, "logprobs": nil}
		if kind == "chat" {
			delta := map[string]any{}
			if text != "" {
				delta["content"] = text
			}
			c["delta"] = delta
		} else {
			c["text"] = text
		}
		return []any{c}
	}
	n, finish := s.tokenCount(req)
	breakAfter := int(s.breakAfter.Load())
	for i := range n {
		if i > 0 && !s.wait(r, time.Duration(s.tokenDelay.Load())) {
			s.canceled.Add(1)
			return
		}
		if breakAfter > 0 && i == breakAfter {
			panic(http.ErrAbortHandler) // closes the connection mid-stream
		}
		if !event(choice(Token(i), nil), nil) {
			s.canceled.Add(1)
			return
		}
		s.tokens.Add(1)
	}
	if !event(choice("", finish), nil) {
		s.canceled.Add(1)
		return
	}
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		if !event([]any{}, newUsage(promptTokens(req), n)) {
			s.canceled.Add(1)
			return
		}
	}
	if _, err := io.WriteString(w, "data: [DONE]\n\n"); err != nil {
		s.canceled.Add(1)
		return
	}
	flusher.Flush()
	s.completed.Add(1)
}

func (s *Server) embeddings(w http.ResponseWriter, req *request) {
	var inputs []string
	var one string
	if err := json.Unmarshal(req.Input, &one); err == nil {
		inputs = []string{one}
	} else if err := json.Unmarshal(req.Input, &inputs); err != nil || len(inputs) == 0 {
		writeError(w, http.StatusBadRequest, "input must be a string or an array of strings", "invalid_input")
		return
	}
	data := make([]any, len(inputs))
	words := 0
	for i, in := range inputs {
		var emb any = Embedding(in, s.dim)
		if req.EncodingFormat == "base64" {
			emb = encodeBase64(Embedding(in, s.dim))
		}
		data[i] = map[string]any{"object": "embedding", "index": i, "embedding": emb}
		words += countWords(in)
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": data, "model": req.Model,
		"usage": map[string]int{"prompt_tokens": words, "total_tokens": words}})
	s.completed.Add(1)
}

func (s *Server) models(w http.ResponseWriter) {
	id := s.model
	if id == "" {
		id = s.name
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "list", "data": []any{
		map[string]any{"id": id, "object": "model", "created": 0, "owned_by": s.name},
	}})
}

func writeError(w http.ResponseWriter, status int, msg, code string) {
	typ := "invalid_request_error"
	if status >= 500 {
		typ = "server_error"
	}
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": code}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// Running is a server started by [Start].
type Running struct {
	// URL is "http://127.0.0.1:<port>", without a trailing slash.
	URL string
	// Server is the handler, for fault injection and inspection.
	Server *Server
	// Close stops the server at once (streams in progress are cut) and
	// waits for it; later calls return the first call's result.
	Close func() error
}

// Start serves NewHandler(opts) on an ephemeral loopback port until Close.
func Start(opts Options) (*Running, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("llmserver: listen: %w", err)
	}
	h := NewHandler(opts)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	var once sync.Once
	var closeErr error
	return &Running{URL: "http://" + ln.Addr().String(), Server: h, Close: func() error {
		once.Do(func() {
			closeErr = srv.Close()
			if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) && closeErr == nil {
				closeErr = err
			}
		})
		return closeErr
	}}, nil
}
