package openai

import (
	"encoding/json"
	"testing"
)

func TestScanEstimateFields(t *testing.T) {
	tests := []struct {
		desc        string
		body        string
		maxTokens   int
		promptBytes int
	}{
		{desc: "chat", body: `{"model":"m","messages":[{"role":"user","content":"hello"}],"max_tokens":16}`, maxTokens: 16, promptBytes: len(`[{"role":"user","content":"hello"}]`)},
		{desc: "no max_tokens", body: `{"model":"m","prompt":"abcd"}`, maxTokens: -1, promptBytes: 6},
		{desc: "max_completion_tokens", body: `{"model":"m","max_completion_tokens":7,"input":["ab","c"]}`, maxTokens: 7, promptBytes: len(`["ab","c"]`)},
		{desc: "the larger of both", body: `{"model":"m","max_tokens":9,"max_completion_tokens":3}`, maxTokens: 9},
		{desc: "not an integer", body: `{"model":"m","max_tokens":1.5}`, maxTokens: -1},
		{desc: "negative", body: `{"model":"m","max_tokens":-3}`, maxTokens: -1},
		{desc: "null", body: `{"model":"m","max_tokens":null}`, maxTokens: -1},
		{desc: "huge", body: `{"model":"m","max_tokens":99999999999999999999}`, maxTokens: -1},
		{desc: "duplicate messages add up", body: `{"model":"m","messages":[],"messages":[1]}`, maxTokens: -1, promptBytes: 5},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			r, err := Scan([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if r.MaxTokens != tt.maxTokens || r.PromptBytes != tt.promptBytes {
				t.Errorf("got max_tokens %d, prompt bytes %d; want %d, %d", r.MaxTokens, r.PromptBytes, tt.maxTokens, tt.promptBytes)
			}
			if tt.body[r.End] != '}' || r.End != len(tt.body)-1 {
				t.Errorf("End %d, want the closing brace at %d", r.End, len(tt.body)-1)
			}
		})
	}
}

func TestEstimate(t *testing.T) {
	tests := []struct {
		desc      string
		r         Request
		completes bool
		want      int
	}{
		{desc: "prompt and max_tokens", r: Request{PromptBytes: 40, MaxTokens: 16}, completes: true, want: 26},
		{desc: "default max_tokens", r: Request{PromptBytes: 8, MaxTokens: -1}, completes: true, want: 2 + DefaultMaxTokens},
		{desc: "max_tokens 0", r: Request{PromptBytes: 8, MaxTokens: 0}, completes: true, want: 2},
		{desc: "embeddings: prompt only", r: Request{PromptBytes: 400, MaxTokens: -1}, want: 100},
		{desc: "at least 1", r: Request{MaxTokens: -1}, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if got := tt.r.Estimate(tt.completes); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestAddIncludeUsage(t *testing.T) {
	tests := []struct {
		desc, body, want string
	}{
		{desc: "model last", body: `{"stream":true,"model":"m"}`, want: `{"stream":true,"model":"m","stream_options":{"include_usage":true}}`},
		{desc: "no options", body: `{"model":"m","stream":true}`, want: `{"model":"m","stream":true,"stream_options":{"include_usage":true}}`},
		{desc: "options before the model", body: `{"stream_options":{},"model":"m"}`, want: `{"stream_options":{"include_usage":true},"model":"m"}`},
		{desc: "other options", body: `{"stream_options":{"continuous_usage_stats":true},"model":"m"}`, want: `{"stream_options":{"include_usage":true,"continuous_usage_stats":true},"model":"m"}`},
		{desc: "include_usage false", body: `{"stream_options":{"include_usage":false},"model":"m"}`, want: `{"stream_options":{"include_usage":true},"model":"m"}`},
		{desc: "include_usage null", body: `{"stream_options":{"include_usage" : null , "x":1},"model":"m"}`, want: `{"stream_options":{"include_usage" : true , "x":1},"model":"m"}`},
		{desc: "options null", body: `{"model":"m","stream_options":null }`, want: `{"model":"m","stream_options":{"include_usage":true} }`},
		{desc: "asked already", body: `{"model":"m","stream_options":{"include_usage":true}}`, want: `{"model":"m","stream_options":{"include_usage":true}}`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			r, err := Scan([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			got := AddIncludeUsage(nil, []byte(tt.body), &r)
			if string(got) != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
			if !r.IncludeUsage || string(got[r.ModelStart:r.ModelEnd]) != `"m"` || got[r.End] != '}' {
				t.Errorf("spans not updated: model %q, end %q", got[r.ModelStart:r.ModelEnd], got[r.End])
			}
			if !json.Valid(got) {
				t.Errorf("not valid JSON: %s", got)
			}
		})
	}
}

func TestScanUsage(t *testing.T) {
	tests := []struct {
		desc         string
		body         string
		want         Usage
		found, empty bool
	}{
		{desc: "chat answer", body: `{"id":"x","choices":[{"message":{"content":"\"usage\": {}"}}],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}}`,
			want: Usage{12, 5}, found: true},
		{desc: "embeddings", body: `{"object":"list","data":[],"usage":{"prompt_tokens":3,"total_tokens":3}}`, want: Usage{PromptTokens: 3}, found: true},
		{desc: "usage chunk", body: `{"choices":[ ],"usage":{"completion_tokens":4,"prompt_tokens":2}}`, want: Usage{2, 4}, found: true, empty: true},
		{desc: "token chunk", body: `{"choices":[{"delta":{"content":"t0 "}}]}`},
		{desc: "usage null", body: `{"choices":[],"usage":null}`, empty: true},
		{desc: "nested usage ignored", body: `{"choices":[{"usage":{"prompt_tokens":9}}]}`},
		{desc: "not JSON", body: `[DONE]`},
		{desc: "broken", body: `{"usage":{"prompt_tokens":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			u, found, empty := ScanUsage([]byte(tt.body))
			if u != tt.want || found != tt.found || empty != tt.empty {
				t.Errorf("got %+v %v %v, want %+v %v %v", u, found, empty, tt.want, tt.found, tt.empty)
			}
		})
	}
}

func TestEvents(t *testing.T) {
	b := []byte("data: {\"a\":1}\n\n: comment\r\ndata:[DONE]\r\n\r\nevent: x\ndata: 1\ndata: 2\n\ntail")
	var datas []string
	for len(b) > 0 {
		var ev []byte
		ev, b = NextEvent(b)
		datas = append(datas, string(EventData(ev)))
	}
	want := []string{`{"a":1}`, "[DONE]", "", ""}
	if len(datas) != len(want) {
		t.Fatalf("got %q, want %q", datas, want)
	}
	for i := range want {
		if datas[i] != want[i] {
			t.Errorf("event %d: got %q, want %q", i, datas[i], want[i])
		}
	}
}

func TestUsageAllocs(t *testing.T) {
	body := []byte(`{"id":"x","choices":[{"message":{"content":"t0 t1"}}],"usage":{"prompt_tokens":12,"completion_tokens":5}}`)
	chunk := []byte("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}}\n\n")
	req := []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true}`)
	dst := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() {
		ScanUsage(body)
		ev, _ := NextEvent(chunk)
		ScanUsage(EventData(ev))
		r, _ := Scan(req)
		AddIncludeUsage(dst, req, &r)
	}); n != 0 {
		t.Errorf("got %v allocations, want 0", n)
	}
}

// FuzzAddIncludeUsage: for any body Scan accepts, the body AddIncludeUsage
// builds is valid JSON that Scan reads as asking for usage, with the same
// model, the model span and End updated.
func FuzzAddIncludeUsage(f *testing.F) {
	for _, seed := range []string{
		`{"model":"m","stream":true}`,
		`{"stream_options":{},"model":"m"}`,
		`{"stream_options":{"x":1,"include_usage":false},"model":"m","messages":[{"a":"b"}]}`,
		`{"model":"m","stream_options":null}`,
		` { "model" : "m" , "stream_options" : { "include_usage" : null } } `,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r, err := Scan([]byte(body))
		if err != nil {
			return
		}
		model := string(r.Model)
		got := AddIncludeUsage(nil, []byte(body), &r)
		if !json.Valid(got) {
			t.Fatalf("%s → %s: not valid JSON", body, got)
		}
		r2, err := Scan(got)
		if err != nil {
			t.Fatalf("%s → %s: Scan: %v", body, got, err)
		}
		if !r2.IncludeUsage || string(r2.Model) != model || string(got[r.ModelStart:r.ModelEnd]) != `"`+model+`"` || r.End != r2.End {
			t.Fatalf("%s → %s: include_usage %v, model %q, span %q, end %d/%d", body, got, r2.IncludeUsage, r2.Model, got[r.ModelStart:r.ModelEnd], r.End, r2.End)
		}
	})
}
