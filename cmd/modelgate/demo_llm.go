package main

import (
	"fmt"
	"io"
	"time"

	"github.com/modelgate/modelgate/internal/llmserver"
)

// The demo's OpenAI-compatible models, on internal/llmserver stand-ins:
// "chat" (v1 at weight 90, v2 at 10, a token budget) streams its tokens
// at a readable pace; "embed" answers embeddings.
var demoLLMs = []struct {
	model, version string
	opts           llmserver.Options
}{
	{"chat", "v1", llmserver.Options{Name: "chat-v1", ReplyTokens: 12, FirstTokenDelay: 80 * time.Millisecond, TokenDelay: 40 * time.Millisecond}},
	{"chat", "v2", llmserver.Options{Name: "chat-v2", ReplyTokens: 12, FirstTokenDelay: 60 * time.Millisecond, TokenDelay: 30 * time.Millisecond}},
	{"embed", "v1", llmserver.Options{Name: "embed-v1", Dim: 16}},
}

// demoLLMConfig is the demo tenant's LLM models, appended to demoConfig's
// model list; %q are the stand-ins' URLs in demoLLMs' order.
const demoLLMConfig = `      - name: chat
        # OpenAI-compatible: POST /openai/v1/chat/completions with "model": "chat"
        # ("chat@v2" pins v2); tokens_per_minute is reserved before each call
        # and settled with the answer's usage.
        timeout: 1m
        limits: {tokens_per_minute: 200000}
        versions:
          - {name: v1, weight: 90, endpoints: [%q]}
          - {name: v2, weight: 10, endpoints: [%q]}
      - name: embed
        versions:
          - {name: v1, weight: 100, endpoints: [%q]}
`

// startDemoLLMs starts the stand-ins of demoLLMs and returns their URLs
// and a function that stops them all.
func startDemoLLMs() ([]string, func(), error) {
	var urls []string
	var running []*llmserver.Running
	stop := func() {
		for _, r := range running {
			r.Close()
		}
	}
	for _, l := range demoLLMs {
		r, err := llmserver.Start(l.opts)
		if err != nil {
			stop()
			return nil, nil, fmt.Errorf("starting LLM stand-in %s %s: %w", l.model, l.version, err)
		}
		running = append(running, r)
		urls = append(urls, r.URL)
	}
	return urls, stop, nil
}

// printDemoLLMHelp prints the OpenAI-compatible commands of the demo.
func printDemoLLMHelp(w io.Writer, traffic, admin string) {
	fmt.Fprintf(w, `
  # OpenAI-compatible LLM endpoints (stand-in model servers): chat (v1 90%%, v2 10%%), embed
  curl -s -H 'Authorization: Bearer %[2]s' -H 'Content-Type: application/json' \
    -d '{"model":"chat","messages":[{"role":"user","content":"hello there"}]}' \
    http://%[1]s/openai/v1/chat/completions
  curl -sN -H 'Authorization: Bearer %[2]s' -H 'Content-Type: application/json' \
    -d '{"model":"chat","stream":true,"messages":[{"role":"user","content":"hello there"}]}' \
    http://%[1]s/openai/v1/chat/completions
  curl -s -H 'Authorization: Bearer %[2]s' -H 'Content-Type: application/json' \
    -d '{"model":"embed","input":"hello there"}' http://%[1]s/openai/v1/embeddings
  curl -s -H 'Authorization: Bearer %[2]s' http://%[1]s/openai/v1/models
  curl -s http://%[3]s/metrics | grep '^modelgate_llm_'
  # with OpenAI's own client (npm install openai), streaming:
  node --input-type=module -e 'import OpenAI from "openai";
    const c = new OpenAI({baseURL: "http://%[1]s/openai/v1", apiKey: "%[2]s"});
    const s = await c.chat.completions.create({model: "chat", stream: true, messages: [{role: "user", content: "hi"}]});
    for await (const e of s) process.stdout.write(e.choices[0]?.delta?.content ?? "");'
`, traffic, demoKey, admin)
}
