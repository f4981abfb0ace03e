package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/testlog"
)

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", `
tenants:
  - name: acme
    api_keys: [{sha256: "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"}]
    models:
      - name: fraud
        versions:
          - {name: v1, weight: 1, endpoints: ["http://127.0.0.1:8001"]}
`)
	bad := write("bad.yaml", `
tenants:
  - name: acme
    api_keys: [{sha256: "nothex"}]
    models:
      - name: fraud
        fallback: v9
        versions:
          - {name: v1, weight: 1, endpoints: ["http://127.0.0.1:8001"]}
          - {name: v2, weight: -5, endpoints: ["127.0.0.1:8002"]}
`)
	tests := []struct {
		desc      string
		args      []string
		wantCode  int
		wantOut   string
		wantLines []string
	}{
		{desc: "valid", args: []string{"validate", "--config", good}, wantCode: 0, wantOut: "valid (1 tenants, 1 models"},
		{desc: "invalid: one line per mistake", args: []string{"validate", "--config", bad}, wantCode: 1, wantLines: []string{
			"tenants[0].api_keys[0].sha256: must be 64 hex characters (the SHA-256 of the key, never the key itself)",
			"tenants[0].models[0].versions[1].weight: must not be negative",
			`tenants[0].models[0].versions[1].endpoints[0]: must start with http:// or https://, got "127.0.0.1:8002"`,
			`tenants[0].models[0].fallback: names no version of this model: "v9"`,
		}},
		{desc: "missing file", args: []string{"validate", "--config", filepath.Join(dir, "nope.yaml")}, wantCode: 1, wantLines: []string{"reading config: open "}},
		{desc: "version", args: []string{"version"}, wantCode: 0, wantOut: "modelgate "},
		{desc: "unknown command", args: []string{"frobnicate"}, wantCode: 2, wantLines: []string{`modelgate: unknown command "frobnicate"`}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tt.args, &out, &errOut)
			if code != tt.wantCode {
				t.Errorf("got exit code %d, want %d (stderr %s)", code, tt.wantCode, errOut.String())
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("got stdout %q, want it to contain %q", out.String(), tt.wantOut)
			}
			lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
			for _, want := range tt.wantLines {
				found := false
				for _, l := range lines {
					found = found || strings.HasPrefix(l, want)
				}
				if !found {
					t.Errorf("stderr lacks a line starting %q; got:\n%s", want, errOut.String())
				}
			}
			if tt.desc == "invalid: one line per mistake" && len(lines) != len(tt.wantLines) {
				t.Errorf("got %d lines, want %d:\n%s", len(lines), len(tt.wantLines), errOut.String())
			}
		})
	}
}

// TestDemo runs the demo on free ports, then runs the curl commands it
// printed (as HTTP requests) and the CLI commands it printed (through
// run), and checks each answers.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out testlog.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"demo", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0"}, &out, io.Discard)
	}()
	var gw, admin string
	addrRe := regexp.MustCompile(`gateway:\s+http://(\S+)[\s\S]*admin:\s+http://(\S+)`)
	for deadline := time.Now().Add(10 * time.Second); gw == ""; {
		if m := addrRe.FindStringSubmatch(out.String()); m != nil {
			gw, admin = m[1], m[2]
		} else if time.Now().After(deadline) {
			t.Fatalf("demo did not print its addresses; output:\n%s", out.String())
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	printed := out.String()
	for _, want := range []string{"curl -si -H 'Authorization: Bearer demo-key'", "/v2/models/fraud/infer", "/v1/models/fraud/versions/v2:predict", "/admin/reload",
		"/openai/v1/chat/completions", "/openai/v1/embeddings", `import OpenAI from "openai"`} {
		if !strings.Contains(printed, want) {
			t.Errorf("demo help lacks %q", want)
		}
	}
	body := `{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP64","data":[1.0,0.5,-0.3,2.0]}]}`
	tests := []struct {
		desc, method, url, body string
		headers                 []string
		wantCode                int
		wantBody                string
	}{
		{desc: "infer", method: "POST", url: "http://" + gw + "/v2/models/fraud/infer", body: body, headers: []string{"Authorization", "Bearer demo-key"}, wantCode: 200, wantBody: `"outputs"`},
		{desc: "sticky", method: "POST", url: "http://" + gw + "/v2/models/fraud/infer", body: body, headers: []string{"X-API-Key", "demo-key", "X-User-ID", "alice"}, wantCode: 200, wantBody: `"outputs"`},
		{desc: "v1 pinned", method: "POST", url: "http://" + gw + "/v1/models/fraud/versions/v2:predict", body: `{"instances":[[1.0,0.5,-0.3,2.0]]}`, headers: []string{"X-API-Key", "demo-key"}, wantCode: 200, wantBody: `"predictions"`},
		{desc: "metadata", method: "GET", url: "http://" + gw + "/v2/models/fraud", headers: []string{"X-API-Key", "demo-key"}, wantCode: 200, wantBody: `"name":"fraud"`},
		{desc: "ready", method: "GET", url: "http://" + gw + "/v2/health/ready", wantCode: 200, wantBody: `"ready":true`},
		{desc: "metrics", method: "GET", url: "http://" + admin + "/metrics", wantCode: 200, wantBody: `modelgate_requests_total{code="200",model="fraud",role="primary",tenant="demo"`},
		{desc: "config", method: "GET", url: "http://" + admin + "/admin/config", headers: []string{"Authorization", "Bearer demo-admin-token"}, wantCode: 200, wantBody: `"name": "demo"`},
		{desc: "config needs a token", method: "GET", url: "http://" + admin + "/admin/config", wantCode: 401, wantBody: `"error"`},
		{desc: "shadow view", method: "GET", url: "http://" + admin + "/admin/shadow", headers: []string{"Authorization", "Bearer demo-admin-token"}, wantCode: 200, wantBody: `"version": "v2"`},
		{desc: "reload", method: "POST", url: "http://" + admin + "/admin/reload", headers: []string{"Authorization", "Bearer demo-admin-token"}, wantCode: 200, wantBody: `"status": "reloaded"`},
		{desc: "openai chat", method: "POST", url: "http://" + gw + "/openai/v1/chat/completions", body: `{"model":"chat","messages":[{"role":"user","content":"hello there"}]}`,
			headers: []string{"Authorization", "Bearer demo-key", "Content-Type", "application/json"}, wantCode: 200, wantBody: `"chat.completion"`},
		{desc: "openai stream", method: "POST", url: "http://" + gw + "/openai/v1/chat/completions", body: `{"model":"chat@v2","stream":true,"messages":[{"role":"user","content":"hello there"}]}`,
			headers: []string{"Authorization", "Bearer demo-key", "Content-Type", "application/json"}, wantCode: 200, wantBody: "data: [DONE]"},
		{desc: "openai embeddings", method: "POST", url: "http://" + gw + "/openai/v1/embeddings", body: `{"model":"embed","input":"hello there"}`,
			headers: []string{"Authorization", "Bearer demo-key", "Content-Type", "application/json"}, wantCode: 200, wantBody: `"embedding"`},
		{desc: "openai models", method: "GET", url: "http://" + gw + "/openai/v1/models", headers: []string{"Authorization", "Bearer demo-key"}, wantCode: 200, wantBody: `"id":"embed"`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, tt.url, strings.NewReader(tt.body))
			for i := 0; i+1 < len(tt.headers); i += 2 {
				req.Header.Set(tt.headers[i], tt.headers[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantCode || !strings.Contains(string(b), tt.wantBody) {
				t.Errorf("got %d %s, want %d containing %q", resp.StatusCode, b, tt.wantCode, tt.wantBody)
			}
		})
	}

	// The CLI commands it printed work when pasted: run them through run
	// with the environment they set.
	cliLines := map[string]string{}
	for _, l := range strings.Split(printed, "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "MODELGATE_ADMIN=") {
			words := shellWords(t, l)
			cmd := words[2+len(shellWords(t, selfCommand()))]
			if cmd == "rollout" {
				cmd += " " + words[3+len(shellWords(t, selfCommand()))]
			}
			cliLines[cmd] = l
		}
	}
	for _, cmd := range []string{"routes", "weights", "plan", "revisions", "rollback", "audit", "rollout status", "rollout watch", "rollout approve", "rollout explain"} {
		if cliLines[cmd] == "" {
			t.Errorf("demo help lacks a %q CLI command", cmd)
		}
	}
	for _, want := range []string{"MODELGATE_ADMIN=http://" + admin + " MODELGATE_ADMIN_TOKEN=demo-operator-token " + selfCommand() +
		` weights demo/fraud v1=50 v2=50 --reason "try 50/50"`, `rollback 1 --reason "back"`, "demo-viewer-token"} {
		if !strings.Contains(printed, want) {
			t.Errorf("demo help lacks %q", want)
		}
	}
	demoCLI := func(cmd string) string {
		t.Helper()
		words := shellWords(t, cliLines[cmd])
		for _, w := range words[:2] {
			k, v, _ := strings.Cut(w, "=")
			t.Setenv(k, v)
		}
		self := shellWords(t, selfCommand())
		if !slices.Equal(words[2:2+len(self)], self) {
			t.Fatalf("%s: does not run %q", cliLines[cmd], selfCommand())
		}
		var out, errOut bytes.Buffer
		if code := run(ctx, words[2+len(self):], &out, &errOut); code != 0 {
			t.Errorf("%s: exit %d, stderr %s", cliLines[cmd], code, errOut.String())
		}
		return out.String()
	}
	weights := func() string {
		req, _ := http.NewRequest("GET", "http://"+admin+"/admin/routes", nil)
		req.Header.Set("Authorization", "Bearer "+demoAdminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var rb routesBody
		if err := json.NewDecoder(resp.Body).Decode(&rb); err != nil {
			t.Fatal(err)
		}
		return rb.weights("demo", "fraud")
	}
	if out := demoCLI("routes"); !strings.Contains(out, "v1 (fallback)  90") {
		t.Errorf("demo routes:\n%s", out)
	}
	demoCLI("weights")
	if got := weights(); got != "v1=50(api) v2=50(api)" {
		t.Errorf("after the demo's weights command: %s, want v1=50 v2=50", got)
	}
	if out := demoCLI("plan"); !strings.Contains(out, "demo/fraud: 40.0% of sticky users would switch version (v2→v1 40.0%)") {
		t.Errorf("demo plan:\n%s", out)
	}
	demoCLI("revisions")
	demoCLI("rollback")
	if got := weights(); got != "v1=90(file) v2=10(file)" {
		t.Errorf("after the demo's rollback command: %s, want the file's v1=90 v2=10", got)
	}
	if out := demoCLI("audit"); !strings.Contains(out, "try 50/50") || !strings.Contains(out, "back") {
		t.Errorf("demo audit:\n%s", out)
	}
	// The demo's rollout of churn v2 runs: its shadow step waits for
	// compared answers.
	if out := demoCLI("rollout status"); !strings.Contains(out, "rollout demo/churn: canary v2, baseline v1") || !strings.Contains(out, "0/5 shadow") {
		t.Errorf("demo rollout status:\n%s", out)
	}
	if out := demoCLI("rollout explain"); !strings.Contains(out, "started") {
		t.Errorf("demo rollout explain:\n%s", out)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("demo exited %d after cancel, want 0", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("demo did not stop after cancel")
	}
}

// shellWords splits a command line as a POSIX shell would, for the
// quoting the demo help uses: words apart by spaces, '…' literal, "…" with
// \" and \\ escapes, \ escaping outside quotes.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == ' ' || c == '\t':
			if inWord {
				words, inWord = append(words, w.String()), false
				w.Reset()
			}
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				t.Fatalf("unterminated ' in %s", line)
			}
			w.WriteString(line[i+1 : i+1+j])
			i, inWord = i+1+j, true
		case c == '"':
			for i++; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) && (line[i+1] == '"' || line[i+1] == '\\') {
					i++
				}
				w.WriteByte(line[i])
			}
			if i >= len(line) {
				t.Fatalf("unterminated \" in %s", line)
			}
			inWord = true
		case c == '\\' && i+1 < len(line):
			i++
			w.WriteByte(line[i])
			inWord = true
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}
