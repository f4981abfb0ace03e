package observability

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

var llmNames = []string{"modelgate_llm_prompt_tokens_total", "modelgate_llm_completion_tokens_total",
	"modelgate_llm_time_to_first_token_seconds", "modelgate_llm_time_per_output_token_seconds"}

// TestLLMSeriesLifecycle: a version's token counters appear with its first
// usage (not with its other series), its histograms with its first
// stream; they count exactly and go with Forget; a forgotten handle
// records into nothing.
func TestLLMSeriesLifecycle(t *testing.T) {
	m := NewMetrics()
	s := m.Series("acme", "chat", "v1", RolePrimary)
	s.Request(200)
	for _, name := range llmNames {
		if got := testutil.CollectAndCount(m.Registry, name); got != 0 {
			t.Errorf("before any usage: %d %s series, want 0", got, name)
		}
	}
	s.Tokens(12, 5)
	s.Tokens(3, 0)
	for _, name := range llmNames[2:] {
		if got := testutil.CollectAndCount(m.Registry, name); got != 0 {
			t.Errorf("before any stream: %d %s series, want 0", got, name)
		}
	}
	s.TimeToFirstToken(0.02)
	s.TimePerOutputToken(0.005)
	for _, name := range llmNames {
		if got := testutil.CollectAndCount(m.Registry, name); got != 1 {
			t.Errorf("after usage: %d %s series, want 1", got, name)
		}
	}
	if got := testutil.ToFloat64(m.llm.prompt.WithLabelValues("acme", "chat", "v1", RolePrimary)); got != 15 {
		t.Errorf("prompt tokens: got %v, want 15", got)
	}
	if got := testutil.ToFloat64(m.llm.completion.WithLabelValues("acme", "chat", "v1", RolePrimary)); got != 5 {
		t.Errorf("completion tokens: got %v, want 5", got)
	}
	m.Forget("acme", "chat", "v1")
	s.Tokens(1, 1)
	s.TimeToFirstToken(1)
	for _, name := range llmNames {
		if got := testutil.CollectAndCount(m.Registry, name); got != 0 {
			t.Errorf("after Forget: %d %s series, want 0", got, name)
		}
	}
}

// TestLLMSeriesAllocs: recording into warm LLM series allocates nothing.
func TestLLMSeriesAllocs(t *testing.T) {
	m := NewMetrics()
	s := m.Series("acme", "chat", "v1", RolePrimary)
	s.Tokens(1, 1)
	s.TimeToFirstToken(0.01)
	if n := testing.AllocsPerRun(100, func() {
		s.Tokens(12, 5)
		s.TimeToFirstToken(0.02)
		s.TimePerOutputToken(0.005)
	}); n != 0 {
		t.Errorf("got %v allocations, want 0", n)
	}
}
