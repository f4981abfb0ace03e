package observability

import "github.com/prometheus/client_golang/prometheus"

// LLM series: the tokens and token latencies of OpenAI-compatible requests,
// per tenant/model/version and role. The token counters are created by a
// version's first OpenAI answer that reports usage, the two histograms by
// its first stream (so a version serving only KServe or OIP requests
// exports none, an embeddings model no histograms); all are deleted with
// the version's other series.

// TokenLatencyBuckets are the classic buckets of the time per output
// token, 1 ms to 1 s (native histograms give the fine resolution).
var TokenLatencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}

// llmMetrics are the LLM collectors, labelled tenant, model, version, role.
type llmMetrics struct {
	prompt, completion *prometheus.CounterVec
	ttft, tpot         *prometheus.HistogramVec
}

func newLLMMetrics(reg prometheus.Registerer) *llmMetrics {
	vlabels := []string{"tenant", "model", "version", "role"}
	tpot := histogramOpts("llm_time_per_output_token_seconds",
		"Time between output tokens of streamed OpenAI answers, (stream end - first event) / (completion tokens - 1), by tenant, model, version and role.")
	tpot.Buckets = TokenLatencyBuckets
	l := &llmMetrics{
		prompt: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "modelgate", Name: "llm_prompt_tokens_total",
			Help: "Prompt tokens of OpenAI answers as their usage reports them, by tenant, model, version and role.",
		}, vlabels),
		completion: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "modelgate", Name: "llm_completion_tokens_total",
			Help: "Completion tokens of OpenAI answers as their usage reports them, by tenant, model, version and role.",
		}, vlabels),
		ttft: prometheus.NewHistogramVec(histogramOpts("llm_time_to_first_token_seconds",
			"Time from request received to the first event of a streamed OpenAI answer sent to the client, by tenant, model, version and role."), vlabels),
		tpot: prometheus.NewHistogramVec(tpot, vlabels),
	}
	reg.MustRegister(l.prompt, l.completion, l.ttft, l.tpot)
	return l
}

// llmHandles are a version's token counters; streamHandles its token
// latency histograms, made by its first stream (an embeddings model has
// none).
type llmHandles struct{ prompt, completion prometheus.Counter }

type streamHandles struct{ ttft, tpot prometheus.Observer }

var (
	discardLLM    = &llmHandles{prompt: discardCounter, completion: discardCounter}
	discardStream = &streamHandles{ttft: discardHistogram, tpot: discardHistogram}
)

func (s *Series) llmHandles() *llmHandles {
	if h := s.llm.Load(); h != nil {
		return h
	}
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if h := s.llm.Load(); h != nil {
		return h
	}
	if s.retired {
		return discardLLM
	}
	t, mo, v, r := s.labels[0], s.labels[1], s.labels[2], s.labels[3]
	h := &llmHandles{
		prompt:     m.llm.prompt.WithLabelValues(t, mo, v, r),
		completion: m.llm.completion.WithLabelValues(t, mo, v, r),
	}
	s.llm.Store(h)
	return h
}

func (s *Series) streamHandles() *streamHandles {
	if h := s.stream.Load(); h != nil {
		return h
	}
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if h := s.stream.Load(); h != nil {
		return h
	}
	if s.retired {
		return discardStream
	}
	t, mo, v, r := s.labels[0], s.labels[1], s.labels[2], s.labels[3]
	h := &streamHandles{
		ttft: m.llm.ttft.WithLabelValues(t, mo, v, r),
		tpot: m.llm.tpot.WithLabelValues(t, mo, v, r),
	}
	s.stream.Store(h)
	return h
}

// Tokens counts an answer's usage: prompt and completion tokens.
func (s *Series) Tokens(prompt, completion int) {
	h := s.llmHandles()
	h.prompt.Add(float64(prompt))
	h.completion.Add(float64(completion))
}

// TimeToFirstToken observes a stream's time to its first event, in
// seconds.
func (s *Series) TimeToFirstToken(seconds float64) { s.streamHandles().ttft.Observe(seconds) }

// TimePerOutputToken observes a stream's time per output token, in
// seconds.
func (s *Series) TimePerOutputToken(seconds float64) { s.streamHandles().tpot.Observe(seconds) }

// retireLLM deletes the LLM children s made. Called with m.mu held.
func (s *Series) retireLLM() {
	t, mo, v, r := s.labels[0], s.labels[1], s.labels[2], s.labels[3]
	m := s.m
	if h := s.llm.Load(); h != nil && h != discardLLM {
		m.llm.prompt.DeleteLabelValues(t, mo, v, r)
		m.llm.completion.DeleteLabelValues(t, mo, v, r)
	}
	if h := s.stream.Load(); h != nil && h != discardStream {
		m.llm.ttft.DeleteLabelValues(t, mo, v, r)
		m.llm.tpot.DeleteLabelValues(t, mo, v, r)
	}
	s.llm.Store(discardLLM)
	s.stream.Store(discardStream)
}
