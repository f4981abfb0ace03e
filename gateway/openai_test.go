package gateway

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/await"
	"github.com/modelgate/modelgate/internal/llmserver"
	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/router/openai"
	"github.com/valyala/fasthttp"
)

// startLLM starts a stand-in OpenAI server on loopback.
func startLLM(t testing.TB, opts llmserver.Options) *llmserver.Running {
	t.Helper()
	r, err := llmserver.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// llmVersion is one version of llmYAML's model.
type llmVersion struct {
	name     string
	weight   int
	urls     []string
	upstream string // upstream_model, "" for none
}

// llmYAML renders tenant acme with model "chat" (extra lines under it) and
// tenant "other" with its own model "secret" on the same stand-ins.
func llmYAML(extra string, versions ...llmVersion) string {
	_, acme := testKey("acme")
	_, other := testKey("other")
	var b strings.Builder
	fmt.Fprintf(&b, "tenants:\n  - name: acme\n    api_keys:\n      - sha256: %q\n    models:\n      - name: chat\n        health_check: {disabled: true}\n", acme)
	for _, line := range strings.Split(strings.TrimSpace(extra), "\n") {
		if line != "" {
			fmt.Fprintf(&b, "        %s\n", line)
		}
	}
	b.WriteString("        versions:\n")
	for _, v := range versions {
		fmt.Fprintf(&b, "          - name: %s\n            weight: %d\n            endpoints: [%s]\n", v.name, v.weight, quoteAll(v.urls))
		if v.upstream != "" {
			fmt.Fprintf(&b, "            upstream_model: %q\n", v.upstream)
		}
	}
	fmt.Fprintf(&b, "  - name: other\n    api_keys:\n      - sha256: %q\n    models:\n      - name: secret\n        health_check: {disabled: true}\n"+
		"        versions:\n          - {name: v1, weight: 1, endpoints: [%s]}\n", other, quoteAll(versions[0].urls))
	return b.String()
}

func quoteAll(urls []string) string {
	q := make([]string, len(urls))
	for i, u := range urls {
		q[i] = fmt.Sprintf("%q", u)
	}
	return strings.Join(q, ", ")
}

var acmeAuth = []string{"Authorization", "Bearer key-acme", "Content-Type", "application/json"}

// openAIError is OpenAI's error shape.
type openAIError struct {
	Error *struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Code    string  `json:"code"`
		Param   *string `json:"param"`
	} `json:"error"`
}

func parseOpenAIError(t *testing.T, body string) openAIError {
	t.Helper()
	var e openAIError
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == nil || e.Error.Message == "" || e.Error.Type == "" || e.Error.Code == "" {
		t.Fatalf("body %s is not an OpenAI error: %v", body, err)
	}
	return e
}

type chatAnswer struct {
	Model             string `json:"model"`
	SystemFingerprint string `json:"system_fingerprint"`
	Choices           []struct {
		Message struct{ Content string } `json:"message"`
	} `json:"choices"`
	Usage struct {
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
}

func chatBody(model string, fields ...string) string {
	extra := ""
	for _, f := range fields {
		extra += "," + f
	}
	return fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"hello there"}]%s}`, model, extra)
}

// TestOpenAIRouting: OpenAI requests are routed by the body's model within
// the caller's tenant, on the prefixed and unprefixed paths, to the
// version's endpoints on OpenAI's paths; pins choose a version; errors
// take OpenAI's shape and say nothing of other tenants' models.
func TestOpenAIRouting(t *testing.T) {
	a := startLLM(t, llmserver.Options{Name: "a"})
	b := startLLM(t, llmserver.Options{Name: "b"})
	h := startGateway(t, llmYAML("", llmVersion{name: "v1", weight: 1, urls: []string{a.URL}}, llmVersion{name: "v2", weight: 0, urls: []string{b.URL}}))

	for _, tt := range []struct {
		desc, path, body, container, served string
	}{
		{"chat under /openai", "/openai/v1/chat/completions", chatBody("chat"), "/v1/chat/completions", "a"},
		{"chat without the prefix", "/v1/chat/completions", chatBody("chat"), "/v1/chat/completions", "a"},
		{"completions", "/openai/v1/completions", `{"model":"chat","prompt":"once"}`, "/v1/completions", "a"},
		{"pinned to v2", "/openai/v1/chat/completions", chatBody("chat@v2"), "/v1/chat/completions", "b"},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			before := len(a.Server.Requests()) + len(b.Server.Requests())
			resp := h.do("POST", tt.path, tt.body, acmeAuth...)
			if resp.code != 200 {
				t.Fatalf("got %d: %s", resp.code, resp.body)
			}
			var ans chatAnswer
			if err := json.Unmarshal([]byte(resp.body), &ans); err != nil {
				t.Fatal(err)
			}
			if ans.SystemFingerprint != tt.served {
				t.Errorf("served by %q, want %q", ans.SystemFingerprint, tt.served)
			}
			if want := map[string]string{"a": "v1", "b": "v2"}[tt.served]; resp.header.Get(HeaderVersion) != want {
				t.Errorf("%s: got %q, want %q", HeaderVersion, resp.header.Get(HeaderVersion), want)
			}
			srv := map[string]*llmserver.Running{"a": a, "b": b}[tt.served]
			reqs := srv.Server.Requests()
			if len(a.Server.Requests())+len(b.Server.Requests()) != before+1 {
				t.Fatalf("the stand-ins got %d requests, want 1", len(a.Server.Requests())+len(b.Server.Requests())-before)
			}
			got := reqs[len(reqs)-1]
			if got.Path != tt.container || got.Model != "chat" {
				t.Errorf("container got %s with model %q, want %s with model \"chat\" (no pin)", got.Path, got.Model, tt.container)
			}
			if got.Header.Get("Authorization") != "" || got.Header.Get(HeaderTenant) != "acme" {
				t.Errorf("container headers: Authorization %q, tenant %q", got.Header.Get("Authorization"), got.Header.Get(HeaderTenant))
			}
		})
	}

	t.Run("embeddings", func(t *testing.T) {
		resp := h.do("POST", "/openai/v1/embeddings", `{"model":"chat","input":"hello"}`, acmeAuth...)
		var e struct {
			Data []struct{ Embedding []float64 } `json:"data"`
		}
		if err := json.Unmarshal([]byte(resp.body), &e); resp.code != 200 || err != nil || len(e.Data) != 1 || len(e.Data[0].Embedding) != 8 {
			t.Fatalf("got %d: %s", resp.code, resp.body)
		}
	})

	unknown := h.do("POST", "/openai/v1/chat/completions", chatBody("nope"), acmeAuth...)
	foreign := h.do("POST", "/openai/v1/chat/completions", chatBody("secret"), acmeAuth...)
	for _, resp := range []response{unknown, foreign} {
		if e := parseOpenAIError(t, resp.body); resp.code != 404 || e.Error.Code != "model_not_found" || e.Error.Type != "invalid_request_error" {
			t.Errorf("unknown or foreign model: got %d %s", resp.code, resp.body)
		}
	}
	if unknown.body != foreign.body {
		t.Errorf("a foreign model's 404 differs from an unknown one's: %s vs %s", foreign.body, unknown.body)
	}
	if resp := h.do("POST", "/openai/v1/chat/completions", chatBody("secret"), "Authorization", "Bearer key-other"); resp.code != 200 {
		t.Errorf("the owner of secret: got %d %s", resp.code, resp.body)
	}

	for _, tt := range []struct {
		desc, body string
		headers    []string
		code       int
		errCode    string
	}{
		{"unknown pin", chatBody("chat@v9"), acmeAuth, 404, "model_not_found"},
		{"no key", chatBody("chat"), nil, 401, "invalid_api_key"},
		{"no model", `{"messages":[]}`, acmeAuth, 400, "invalid_request"},
		{"not JSON", `{"model":"chat",`, acmeAuth, 400, "invalid_request"},
		{"model twice", `{"model":"chat","model":"secret"}`, acmeAuth, 400, "invalid_request"},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			resp := h.do("POST", "/v1/chat/completions", tt.body, tt.headers...)
			if e := parseOpenAIError(t, resp.body); resp.code != tt.code || e.Error.Code != tt.errCode || e.Error.Param != nil {
				t.Errorf("got %d %s, want %d with code %s", resp.code, resp.body, tt.code, tt.errCode)
			}
		})
	}
	if resp := h.do("GET", "/openai/v1/chat/completions", "", acmeAuth...); resp.code != 405 || resp.header.Get("Allow") != "POST" {
		t.Errorf("GET chat: got %d %s", resp.code, resp.body)
	} else {
		parseOpenAIError(t, resp.body)
	}
	// The REST paths keep their own error shape.
	if resp := h.do("POST", "/v2/models/nope/infer", inferBody, acmeAuth...); resp.code != 404 || !strings.HasPrefix(resp.body, `{"error":"`) {
		t.Errorf("REST 404: got %d %s", resp.code, resp.body)
	}
}

// TestOpenAIUpstreamModel: a version's upstream_model replaces the body's
// model for its containers, longer, shorter or of the same length, and the
// rest of the body arrives unchanged.
func TestOpenAIUpstreamModel(t *testing.T) {
	srv := startLLM(t, llmserver.Options{})
	h := startGateway(t, llmYAML("",
		llmVersion{name: "v1", weight: 1, urls: []string{srv.URL}, upstream: "meta-llama/Llama-3.1-8B-Instruct"},
		llmVersion{name: "v2", weight: 0, urls: []string{srv.URL}, upstream: "tiny"},
		llmVersion{name: "v3", weight: 0, urls: []string{srv.URL}, upstream: "q"}))
	for _, tt := range []struct{ model, want string }{
		{"chat", "meta-llama/Llama-3.1-8B-Instruct"}, {"chat@v2", "tiny"}, {"chat@v3", "q"},
	} {
		body := chatBody(tt.model, `"temperature":0.5`, `"user":"u\"1"`)
		if resp := h.do("POST", "/openai/v1/chat/completions", body, acmeAuth...); resp.code != 200 {
			t.Fatalf("%s: got %d %s", tt.model, resp.code, resp.body)
		}
		reqs := srv.Server.Requests()
		got := reqs[len(reqs)-1]
		if got.Model != tt.want {
			t.Errorf("%s: the container got model %q, want %q", tt.model, got.Model, tt.want)
		}
		if want := strings.Replace(body, fmt.Sprintf("%q", tt.model), fmt.Sprintf("%q", tt.want), 1); string(got.Body) != want {
			t.Errorf("%s: the container got body\n%s\nwant\n%s", tt.model, got.Body, want)
		}
	}
}

// TestOpenAISplitAndSticky: unpinned requests follow the weights; the
// body's "user" keeps a user on one version; the model's sticky_header
// takes precedence over it.
func TestOpenAISplitAndSticky(t *testing.T) {
	a := startLLM(t, llmserver.Options{Name: "a"})
	b := startLLM(t, llmserver.Options{Name: "b"})
	h := startGateway(t, llmYAML("sticky_header: X-Session", llmVersion{name: "v1", weight: 1, urls: []string{a.URL}}, llmVersion{name: "v2", weight: 1, urls: []string{b.URL}}))
	served := func(body string, headers ...string) string {
		t.Helper()
		resp := h.do("POST", "/v1/chat/completions", body, append(append([]string{}, acmeAuth...), headers...)...)
		if resp.code != 200 {
			t.Fatalf("got %d %s", resp.code, resp.body)
		}
		return resp.header.Get(HeaderVersion)
	}
	counts := map[string]int{}
	for range 200 {
		counts[served(chatBody("chat"))]++
	}
	if counts["v1"] < 50 || counts["v2"] < 50 {
		t.Errorf("a 50/50 split sent %v", counts)
	}
	users := map[string]int{}
	for u := range 40 {
		user := fmt.Sprintf(`"user":"user-%d"`, u)
		first := served(chatBody("chat", user))
		users[first]++
		for range 5 {
			if got := served(chatBody("chat", user)); got != first {
				t.Fatalf("user-%d went to %s, then %s", u, first, got)
			}
		}
	}
	if users["v1"] == 0 || users["v2"] == 0 {
		t.Errorf("40 users all on one version: %v", users)
	}
	// The sticky header wins over the body's user.
	for s := range 20 {
		session := fmt.Sprintf("s-%d", s)
		first := served(chatBody("chat", `"user":"a"`), "X-Session", session)
		for u := range 5 {
			if got := served(chatBody("chat", fmt.Sprintf(`"user":"u%d"`, u)), "X-Session", session); got != first {
				t.Fatalf("session %s went to %s, then %s with another user", session, first, got)
			}
		}
	}
}

// TestOpenAIModelList: GET /openai/v1/models lists the caller's tenant's
// models only, in OpenAI's shape; GET /v1/models stays KServe's list.
func TestOpenAIModelList(t *testing.T) {
	srv := startLLM(t, llmserver.Options{})
	h := startGateway(t, llmYAML("", llmVersion{name: "v1", weight: 1, urls: []string{srv.URL}}))
	var list struct {
		Object string `json:"object"`
		Data   []struct {
			ID      string `json:"id"`
			Object  string `json:"object"`
			OwnedBy string `json:"owned_by"`
		} `json:"data"`
	}
	resp := h.do("GET", "/openai/v1/models", "", acmeAuth...)
	if err := json.Unmarshal([]byte(resp.body), &list); resp.code != 200 || err != nil {
		t.Fatalf("got %d %s", resp.code, resp.body)
	}
	if list.Object != "list" || len(list.Data) != 1 || list.Data[0].ID != "chat" || list.Data[0].Object != "model" || list.Data[0].OwnedBy != "acme" {
		t.Errorf("acme's list: got %s", resp.body)
	}
	if resp := h.do("GET", "/openai/v1/models", "", "Authorization", "Bearer key-other"); !strings.Contains(resp.body, `"id":"secret"`) || strings.Contains(resp.body, `"chat"`) {
		t.Errorf("other's list: got %s", resp.body)
	}
	if resp := h.do("GET", "/openai/v1/models", ""); resp.code != 401 {
		t.Errorf("without a key: got %d", resp.code)
	} else {
		parseOpenAIError(t, resp.body)
	}
	if resp := h.do("GET", "/v1/models", "", acmeAuth...); resp.body != `{"models":["chat"]}` {
		t.Errorf("KServe list: got %s", resp.body)
	}
	if srv.Server.Requests() != nil {
		t.Errorf("the list was answered by a container")
	}
}

// streamChat sends a streamed chat request through the gateway and
// returns the answer, its body unread.
func streamChat(t *testing.T, h *harness, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("POST", h.url+"/openai/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(acmeAuth); i += 2 {
		req.Header.Set(acmeAuth[i], acmeAuth[i+1])
	}
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

const streamBody = `{"model":"chat","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`

// TestOpenAIStreamIsIncremental: a streamed answer reaches the client
// event by event as the stand-in generates them: the client's arrival
// times are spaced by the stand-in's inter-token delay, not bunched at
// the end, and the usage chunk and [DONE] come through.
func TestOpenAIStreamIsIncremental(t *testing.T) {
	const between = 60 * time.Millisecond
	const tokens = 6
	srv := startLLM(t, llmserver.Options{ReplyTokens: tokens, TokenDelay: between})
	h := startGateway(t, llmYAML("timeout: 30s", llmVersion{name: "v1", weight: 1, urls: []string{srv.URL}}))
	resp := streamChat(t, h, streamBody)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get(HeaderVersion) != "v1" || resp.Header.Get(HeaderRequestID) == "" {
		t.Fatalf("got %d, headers %v", resp.StatusCode, resp.Header)
	}
	events, err := llmserver.ReadEvents(resp.Body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(events); n != tokens+3 || events[n-1].Data != "[DONE]" || !strings.Contains(events[n-2].Data, `"usage"`) {
		t.Fatalf("got %d events %v, want %d tokens, the finish, the usage and [DONE]", n, events, tokens)
	}
	for i := 1; i < tokens; i++ {
		if gap := events[i].At.Sub(events[i-1].At); gap < between/2 {
			t.Errorf("token %d reached the client %v after token %d: bunched, want about %v apart", i, gap, i-1, between)
		}
	}
	if spread := events[tokens-1].At.Sub(events[0].At); spread < (tokens-1)*between/2 {
		t.Errorf("tokens reached the client within %v, want them spread over about %v", spread, (tokens-1)*between)
	}
	if got := srv.Server.Requests()[0]; !got.Stream || got.Model != "chat" {
		t.Errorf("the container got %+v", got)
	}
	await.Until(t, 5*time.Second, "the stream's request to be counted", func() bool {
		return h.metrics.VersionCounts("acme", "chat", "v1").Requests == 1
	})
}

// TestOpenAIStreamBreaks: a stream the upstream breaks after its first
// byte ends, for the client, with a well-formed error event, and counts
// against the endpoint's breaker.
func TestOpenAIStreamBreaks(t *testing.T) {
	srv := startLLM(t, llmserver.Options{ReplyTokens: 5, BreakAfter: 2})
	h := startGateway(t, llmYAML("breaker: {consecutive_failures: 2, open_for: 1m}", llmVersion{name: "v1", weight: 1, urls: []string{srv.URL}}))
	for round := range 2 {
		resp := streamChat(t, h, streamBody)
		events, err := llmserver.ReadEvents(resp.Body, nil)
		if err != nil {
			t.Fatalf("round %d: the client's stream did not end cleanly: %v", round, err)
		}
		if len(events) != 3 {
			t.Fatalf("round %d: got %d events %v, want 2 tokens and the error", round, len(events), events)
		}
		e := parseOpenAIError(t, events[2].Data)
		if e.Error.Type != "server_error" || e.Error.Code != "upstream_stream_failed" {
			t.Errorf("round %d: error event %s", round, events[2].Data)
		}
	}
	ep := h.endpoint(srv.URL)
	await.Until(t, 5*time.Second, "the breaker to open after two broken streams", func() bool {
		return ep.BreakerState() == observability.BreakerOpen
	})
}

// TestOpenAIStreamRetriesBeforeFirstByte: an endpoint that fails before
// the stream's first byte is retried on another, and the client sees only
// the good stream.
func TestOpenAIStreamRetriesBeforeFirstByte(t *testing.T) {
	bad := startLLM(t, llmserver.Options{Name: "bad", FailStatus: 503})
	good := startLLM(t, llmserver.Options{Name: "good", ReplyTokens: 3})
	h := startGateway(t, llmYAML("retry: {attempts: 2}", llmVersion{name: "v1", weight: 1, urls: []string{bad.URL, good.URL}}))
	for range 6 {
		resp := streamChat(t, h, streamBody)
		events, err := llmserver.ReadEvents(resp.Body, nil)
		if err != nil || resp.StatusCode != 200 || len(events) != 6 || !strings.Contains(events[0].Data, `"system_fingerprint":"good"`) {
			t.Fatalf("got %d, %v, %v", resp.StatusCode, events, err)
		}
	}
	// Both endpoints failing: the 503 is relayed in full, before any stream.
	good.Server.SetFailStatus(503)
	resp := streamChat(t, h, streamBody)
	var body strings.Builder
	if _, err := fmt.Fprint(&body, readAll(t, resp)); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 503 {
		t.Errorf("got %d %s, want the upstream's 503", resp.StatusCode, body.String())
	}
	parseOpenAIError(t, body.String())
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

// TestOpenAIStreamClientDisconnect: a client that goes away mid-stream
// cancels the upstream call (the stand-in sees its client leave), and the
// request's admission slot is released.
func TestOpenAIStreamClientDisconnect(t *testing.T) {
	srv := startLLM(t, llmserver.Options{ReplyTokens: 500, TokenDelay: 10 * time.Millisecond})
	h := startGateway(t, llmYAML("timeout: 1m\nlimits: {max_in_flight: 1}", llmVersion{name: "v1", weight: 1, urls: []string{srv.URL}}))
	resp := streamChat(t, h, streamBody)
	events, _ := llmserver.ReadEvents(resp.Body, func(llmserver.Event) bool { return false })
	if len(events) != 1 {
		t.Fatalf("got %d events", len(events))
	}
	resp.Body.Close() // the client goes away
	await.Until(t, 10*time.Second, "the stand-in to see the stream cancelled", func() bool { return srv.Server.Canceled() == 1 })
	if n := srv.Server.TokensStreamed(); n >= 500 {
		t.Errorf("all %d tokens were generated for a client that left", n)
	}
	// The slot is free again: a next request is admitted.
	srv.Server.SetDelays(0, 0)
	await.Until(t, 5*time.Second, "the admission slot to be released", func() bool {
		return h.do("POST", "/openai/v1/chat/completions", chatBody("chat"), acmeAuth...).code == 200
	})
}

// TestOpenAIChatAllocs: a non-streamed chat completion allocates nothing
// on the request path: routed by the body's model, with the model left as
// it is, rewritten in place, or rebuilt at another length (pinned, or an
// upstream_model of another length), its tokens reserved from a
// tokens_per_minute budget, its answer's usage read, counted and settled.
func TestOpenAIChatAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	answer := []byte(`{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"t0 "},"finish_reason":"stop"}],"usage":{"prompt_tokens":2,"completion_tokens":1,"total_tokens":3}}`)
	var lastModel atomic.Pointer[string]
	lastModel.Store(new(string))
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if r, err := openai.Scan(ctx.PostBody()); err == nil && string(r.Model) != *lastModel.Load() {
			m := string(r.Model) // allocates in the backend only, and only on change
			lastModel.Store(&m)
		}
		ctx.SetContentType("application/json")
		ctx.SetBody(answer)
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	u := "http://" + ln.Addr().String()
	g := newQuietGateway(t, parseConfig(t, "server:\n  listen: 127.0.0.1:0\n  admin_listen: 127.0.0.1:0\n"+llmYAML("limits: {tokens_per_minute: 1000000000}",
		llmVersion{name: "v1", weight: 1, urls: []string{u}},
		llmVersion{name: "v2", weight: 0, urls: []string{u}, upstream: "tiny"},
		llmVersion{name: "v3", weight: 0, urls: []string{u}, upstream: "meta-llama/Llama-3.1-8B-Instruct"})))
	for _, tt := range []struct{ model, container string }{
		{"chat", "chat"}, {"chat@v1", "chat"}, {"chat@v2", "tiny"}, {"chat@v3", "meta-llama/Llama-3.1-8B-Instruct"},
	} {
		serve := inProcessBody(t, g, "acme", "/openai/v1/chat/completions", chatBody(tt.model, `"user":"u-7"`))
		for range 50 {
			serve()
		}
		if got := *lastModel.Load(); got != tt.container {
			t.Errorf("%s: the container got model %q, want %q", tt.model, got, tt.container)
		}
		if n := testing.AllocsPerRun(200, serve); n != 0 {
			t.Errorf("%s: got %v allocations per chat completion, want 0", tt.model, n)
		}
	}
}

// inProcessBody is inProcess with another body.
func inProcessBody(tb testing.TB, g *Gateway, tenant, path, body string) func() {
	handler := g.app.Handler()
	key, _ := testKey(tenant)
	var req fasthttp.Request
	req.Header.SetMethod("POST")
	req.SetRequestURI(path)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.SetContentType("application/json")
	req.SetBodyString(body)
	ctx := new(fasthttp.RequestCtx)
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5555}, nil)
	return func() {
		req.CopyTo(&ctx.Request)
		ctx.Response.Reset()
		handler(ctx)
		if ctx.Response.StatusCode() != 200 {
			tb.Fatalf("%s: got %d: %s", path, ctx.Response.StatusCode(), ctx.Response.Body())
		}
	}
}
