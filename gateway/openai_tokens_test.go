package gateway

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/await"
	"github.com/modelgate/modelgate/internal/llmserver"
)

// llmMetric is the value of one acme/chat LLM series of version in the
// admin /metrics, -1 when absent.
func (h *harness) llmMetric(name, version string) float64 {
	h.t.Helper()
	return h.metricLine(fmt.Sprintf(`%s{model="chat",role="primary",tenant="acme",version=%q} `, name, version))
}

// TestOpenAITokenMetrics: buffered chat, completion and embeddings answers
// count the tokens their usage reports, per version, exactly; a version
// without OpenAI traffic exports no LLM series.
func TestOpenAITokenMetrics(t *testing.T) {
	a := startLLM(t, llmserver.Options{ReplyTokens: 5})
	b := startLLM(t, llmserver.Options{ReplyTokens: 3})
	h := startGateway(t, llmYAML("", llmVersion{name: "v1", weight: 1, urls: []string{a.URL}}, llmVersion{name: "v2", weight: 0, urls: []string{b.URL}}))
	for range 3 {
		if r := h.do("POST", "/openai/v1/chat/completions", chatBody("chat"), acmeAuth...); r.code != 200 { // prompt "hello there": 2
			t.Fatalf("chat: got %d %s", r.code, r.body)
		}
	}
	if r := h.do("POST", "/v1/completions", `{"model":"chat","prompt":"one two three","max_tokens":4}`, acmeAuth...); r.code != 200 {
		t.Fatalf("completion: got %d %s", r.code, r.body)
	}
	if r := h.do("POST", "/openai/v1/embeddings", `{"model":"chat","input":["a b","c d e f"]}`, acmeAuth...); r.code != 200 {
		t.Fatalf("embeddings: got %d %s", r.code, r.body)
	}
	if r := h.do("POST", "/openai/v1/chat/completions", chatBody("chat@v2", `"max_tokens":2`), acmeAuth...); r.code != 200 {
		t.Fatalf("pinned chat: got %d %s", r.code, r.body)
	}
	for _, tt := range []struct {
		name, version string
		want          float64
	}{
		{"modelgate_llm_prompt_tokens_total", "v1", 3*2 + 3 + 6},
		{"modelgate_llm_completion_tokens_total", "v1", 3*5 + 4},
		{"modelgate_llm_prompt_tokens_total", "v2", 2},
		{"modelgate_llm_completion_tokens_total", "v2", 2},
		// Buffered answers have no time to first token: no histogram.
		{"modelgate_llm_time_to_first_token_seconds_count", "v1", -1},
	} {
		if got := h.llmMetric(tt.name, tt.version); got != tt.want {
			t.Errorf("%s of %s: got %v, want %v", tt.name, tt.version, got, tt.want)
		}
	}
	if got := h.metricLines("modelgate_llm_", `tenant="other"`); len(got) != 0 {
		t.Errorf("tenant other served no OpenAI request, yet exports %v", got)
	}
}

// TestOpenAIStreamUsage: a stream whose client did not ask for usage gets
// no usage chunk, while the container was asked for it and the gateway
// counted it; a client that asked gets it. Both count the time to the
// first event (at least the stand-in's first-token delay) and the time
// per output token (about its inter-token delay).
func TestOpenAIStreamUsage(t *testing.T) {
	const first, between, tokens = 80 * time.Millisecond, 20 * time.Millisecond, 6
	srv := startLLM(t, llmserver.Options{ReplyTokens: tokens, FirstTokenDelay: first, TokenDelay: between})
	h := startGateway(t, llmYAML("timeout: 30s", llmVersion{name: "v1", weight: 1, urls: []string{srv.URL}}))

	resp := streamChat(t, h, `{"model":"chat","stream":true,"messages":[{"role":"user","content":"one two three"}]}`)
	events, err := llmserver.ReadEvents(resp.Body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(events); n != tokens+2 || events[n-1].Data != "[DONE]" {
		t.Fatalf("got %d events %v, want %d tokens, the finish and [DONE]", n, events, tokens)
	}
	for _, ev := range events {
		if strings.Contains(ev.Data, `"usage"`) {
			t.Errorf("the client did not ask for usage, yet got %s", ev.Data)
		}
	}
	var sent struct {
		StreamOptions struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	if err := json.Unmarshal(srv.Server.Requests()[0].Body, &sent); err != nil || !sent.StreamOptions.IncludeUsage {
		t.Errorf("the container was not asked for usage: %s (%v)", srv.Server.Requests()[0].Body, err)
	}
	await.Until(t, 5*time.Second, "the stream's tokens to be counted", func() bool {
		return h.llmMetric("modelgate_llm_completion_tokens_total", "v1") == tokens
	})
	if got := h.llmMetric("modelgate_llm_prompt_tokens_total", "v1"); got != 3 {
		t.Errorf("prompt tokens: got %v, want 3", got)
	}

	resp = streamChat(t, h, streamBody) // asks for usage; prompt "hi"
	events, err = llmserver.ReadEvents(resp.Body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(events); n != tokens+3 || !strings.Contains(events[n-2].Data, `"usage"`) {
		t.Fatalf("got %d events %v, want the usage chunk the client asked for", n, events)
	}
	await.Until(t, 5*time.Second, "the second stream's tokens to be counted", func() bool {
		return h.llmMetric("modelgate_llm_completion_tokens_total", "v1") == 2*tokens
	})
	if got := h.llmMetric("modelgate_llm_prompt_tokens_total", "v1"); got != 4 {
		t.Errorf("prompt tokens: got %v, want 4", got)
	}
	if n := h.llmMetric("modelgate_llm_time_to_first_token_seconds_count", "v1"); n != 2 {
		t.Errorf("time to first token: %v observations, want 2", n)
	}
	if sum := h.llmMetric("modelgate_llm_time_to_first_token_seconds_sum", "v1"); sum < 2*first.Seconds() || sum > 2*(first+2*time.Second).Seconds() {
		t.Errorf("time to first token: sum %vs, want at least 2 × %v", sum, first)
	}
	if n := h.llmMetric("modelgate_llm_time_per_output_token_seconds_count", "v1"); n != 2 {
		t.Errorf("time per output token: %v observations, want 2", n)
	}
	if avg := h.llmMetric("modelgate_llm_time_per_output_token_seconds_sum", "v1") / 2; avg < between.Seconds()/2 || avg > between.Seconds()*20 {
		t.Errorf("time per output token: average %vs, want about %v", avg, between)
	}
}

// TestOpenAITokenLimitConcurrent: concurrent requests whose estimates
// together exceed the model's tokens_per_minute are admitted only up to
// the budget; the rest get 429 in OpenAI's shape with Retry-After and are
// counted. Settling with the real usage gives the unused estimate back.
func TestOpenAITokenLimitConcurrent(t *testing.T) {
	const budget, n = 1000, 20
	srv := startLLM(t, llmserver.Options{ReplyTokens: 5, FirstTokenDelay: 300 * time.Millisecond})
	h := startGateway(t, llmYAML(fmt.Sprintf("limits: {tokens_per_minute: %d}", budget), llmVersion{name: "v1", weight: 1, urls: []string{srv.URL}}))
	body := chatBody("chat", `"max_tokens":100`)
	estimate := len(`[{"role":"user","content":"hello there"}]`)/4 + 100 // 110

	start := time.Now()
	var wg sync.WaitGroup
	results := make([]response, n)
	gate := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			results[i] = h.do("POST", "/openai/v1/chat/completions", body, acmeAuth...)
		}()
	}
	close(gate)
	wg.Wait()
	elapsed := time.Since(start)
	admitted, refused := 0, 0
	for _, r := range results {
		switch r.code {
		case 200:
			admitted++
		case 429:
			refused++
			e := parseOpenAIError(t, r.body)
			if e.Error.Type != "rate_limit_error" || e.Error.Code != "rate_limit_exceeded" {
				t.Errorf("429 body %s", r.body)
			}
			if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
				t.Errorf("Retry-After %q, want 1 to 60 seconds", r.header.Get("Retry-After"))
			}
		default:
			t.Errorf("got %d %s", r.code, r.body)
		}
	}
	if admitted*estimate > budget {
		t.Errorf("admitted %d requests of %d estimated tokens: %d, over the budget of %d", admitted, estimate, admitted*estimate, budget)
	}
	// The bucket refills 110 tokens in 6.6 s: a faster run admits exactly
	// what the full bucket holds.
	if elapsed < 5*time.Second && admitted != budget/estimate {
		t.Errorf("admitted %d, want %d (the budget over the estimate)", admitted, budget/estimate)
	}
	if got := h.metricLine(`modelgate_rejected_requests_total{model="chat",reason="tokens_per_minute",tenant="acme"} `); got != float64(refused) {
		t.Errorf("rejections counted: %v, want %d", got, refused)
	}
	// Each admitted request used 2 + 5 tokens of its 110: settled, the
	// budget has room for a next request at once.
	if r := h.do("POST", "/openai/v1/chat/completions", body, acmeAuth...); r.code != 200 {
		t.Errorf("after the admitted requests settled: got %d %s, want 200", r.code, r.body)
	}
}

// TestOpenAITokenLimitBrokenStream: a stream the upstream breaks settles
// what was counted (the prompt's estimate and the events relayed), not its
// whole estimate, and a buffered answer without usage keeps its estimate.
func TestOpenAITokenLimitBrokenStream(t *testing.T) {
	srv := startLLM(t, llmserver.Options{ReplyTokens: 5, BreakAfter: 2})
	h := startGateway(t, llmYAML("limits: {tokens_per_minute: 200}", llmVersion{name: "v1", weight: 1, urls: []string{srv.URL}}))
	body := `{"model":"chat","stream":true,"max_tokens":90,"messages":[{"role":"user","content":"hi"}]}` // estimate 9 + 90
	for round := range 3 {
		resp := streamChat(t, h, body)
		if resp.StatusCode != 200 {
			t.Fatalf("round %d: got %d, want 200: the broken stream before settled only what it relayed", round, resp.StatusCode)
		}
		events, _ := llmserver.ReadEvents(resp.Body, nil)
		if len(events) != 3 {
			t.Fatalf("round %d: got %d events, want 2 tokens and the error", round, len(events))
		}
		await.Until(t, 5*time.Second, "the stream to be counted", func() bool {
			return h.metrics.VersionCounts("acme", "chat", "v1").Requests == uint64(round+1)
		})
	}
}

// TestOpenAIStreamAskUsageWithRetarget: the usage request added to a
// streamed body and the upstream_model rewrite compose, whatever the
// members' order: the container gets valid JSON naming its model and
// asking for usage, the rest of the body unchanged.
func TestOpenAIStreamAskUsageWithRetarget(t *testing.T) {
	srv := startLLM(t, llmserver.Options{ReplyTokens: 2})
	h := startGateway(t, llmYAML("", llmVersion{name: "v1", weight: 1, urls: []string{srv.URL}},
		llmVersion{name: "v2", weight: 0, urls: []string{srv.URL}, upstream: "meta-llama/Llama-3.1-8B-Instruct"}))
	for i, body := range []string{
		`{"stream":true,"messages":[{"role":"user","content":"a b"}],"model":"chat@v2"}`,
		`{"model":"chat@v2","stream_options":{"continuous_usage_stats":false},"stream":true,"messages":[]}`,
		`{"stream_options":{"include_usage":false},"model":"chat","stream":true,"messages":[]}`,
	} {
		resp := streamChat(t, h, body)
		events, err := llmserver.ReadEvents(resp.Body, nil)
		if err != nil || len(events) != 4 {
			t.Fatalf("body %d: got %d events (%v), want 2 tokens, the finish and [DONE]", i, len(events), err)
		}
		var sent map[string]any
		got := srv.Server.Requests()[i].Body
		if err := json.Unmarshal(got, &sent); err != nil {
			t.Fatalf("body %d: the container got invalid JSON %s", i, got)
		}
		want := "chat"
		if strings.Contains(body, "chat@v2") {
			want = "meta-llama/Llama-3.1-8B-Instruct"
		}
		opts, _ := sent["stream_options"].(map[string]any)
		if sent["model"] != want || opts["include_usage"] != true || sent["stream"] != true {
			t.Errorf("body %d: the container got %s, want model %q asking for usage", i, got, want)
		}
	}
}
