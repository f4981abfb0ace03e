package gateway

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/testlog"
)

// accessLines returns the decoded "access" lines logged so far.
func accessLines(t *testing.T, s *testlog.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(s.String()), "\n") {
		var m map[string]any
		if line == "" {
			continue
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		if m["msg"] == "access" {
			out = append(out, m)
		}
	}
	return out
}

// waitLines polls until n access lines were logged (generous deadline).
func waitLines(t *testing.T, s *testlog.Buffer, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		lines := accessLines(t, s)
		if len(lines) >= n || time.Now().After(deadline) {
			return lines
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAccessLog checks the one-line-per-request access log: its fields, the
// cause on upstream failures, no secrets, and sampling that keeps errors.
func TestAccessLog(t *testing.T) {
	model := startModel(t, "fraud", "v1")
	down := startModel(t, "fraud", "v2")
	down.Close() // connections refused
	var logs testlog.Buffer
	base := "tenants:\n" + tenantYAML("acme", "fraud", "", "v1:1:"+model.URL, "v2:0:"+down.URL)
	h := startGateway(t, "logging:\n  access_log: true\n"+base, &logs)
	key, _ := testKey("acme")

	h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key, "X-Request-ID", "req-123")
	h.do("POST", "/v2/models/fraud/versions/v2/infer", inferBody, "X-API-Key", key, "X-Request-ID", "req-456")
	h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", "wrong-key")
	h.do("GET", "/v2/health/live", "")
	lines := waitLines(t, &logs, 3)
	if len(lines) != 3 {
		t.Fatalf("got %d access lines, want 3 (health probes are not logged): %v", len(lines), lines)
	}
	ok, failed, rejected := lines[0], lines[1], lines[2]
	for k, want := range map[string]any{
		"level": "INFO", "request_id": "req-123", "tenant": "acme", "model": "fraud", "version": "v1",
		"role": "primary", "status": 200.0, "method": "POST", "attempts": 1.0, "request_bytes": float64(len(inferBody)),
	} {
		if ok[k] != want {
			t.Errorf("200 line %s: got %v, want %v", k, ok[k], want)
		}
	}
	total, _ := ok["duration_seconds"].(float64)
	upstream, _ := ok["upstream_seconds"].(float64)
	if !(upstream > 0 && total >= upstream) {
		t.Errorf("durations: total %v, upstream %v; want 0 < upstream <= total", total, upstream)
	}
	if rb, _ := ok["response_bytes"].(float64); rb < 10 {
		t.Errorf("response_bytes: got %v", ok["response_bytes"])
	}
	if _, has := ok["error"]; has {
		t.Errorf("200 line has an error: %v", ok["error"])
	}
	if failed["level"] != "WARN" || failed["status"] != 502.0 || failed["version"] != "v2" || failed["request_id"] != "req-456" {
		t.Errorf("502 line: %v", failed)
	}
	if cause, _ := failed["error"].(string); !strings.Contains(cause, "refused") {
		t.Errorf("502 line cause: got %q, want the connection error", cause)
	}
	if rejected["status"] != 401.0 || rejected["tenant"] != "" || rejected["error"] != errUnauthorized.msg {
		t.Errorf("401 line: %v", rejected)
	}
	all := logs.String()
	for _, secret := range []string{key, "wrong-key", `"inputs"`} {
		if strings.Contains(all, secret) {
			t.Errorf("log contains %q", secret)
		}
	}

	// Sampling ratio 0 keeps only 5xx lines; access_log false logs nothing.
	if err := h.reload("logging:\n  access_log: true\n  access_log_sample_ratio: 0\n" + base); err != nil {
		t.Fatal(err)
	}
	n := len(accessLines(t, &logs))
	for range 5 {
		h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key)
	}
	h.do("POST", "/v2/models/fraud/versions/v2/infer", inferBody, "X-API-Key", key)
	lines = waitLines(t, &logs, n+1)
	if got := lines[n:]; len(got) != 1 || got[0]["status"] != 502.0 {
		t.Errorf("ratio 0: got lines %v, want only the 502", got)
	}
	if err := h.reload(base); err != nil {
		t.Fatal(err)
	}
	n = len(accessLines(t, &logs))
	h.do("POST", "/v2/models/fraud/versions/v2/infer", inferBody, "X-API-Key", key)
	h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key)
	if got := len(accessLines(t, &logs)); got != n {
		t.Errorf("access_log off: got %d new lines, want 0", got-n)
	}
}

// TestAccessLogRateLimited: a request refused by the tenant's limits is
// logged with its tenant and model, so an operator sees who was throttled.
func TestAccessLogRateLimited(t *testing.T) {
	m := startModel(t, "fraud", "v1")
	var logs testlog.Buffer
	tenant := strings.Replace(tenantYAML("acme", "fraud", "", "v1:1:"+m.URL),
		"    models:\n", "    limits: {requests_per_second: 0.01, burst: 1}\n    models:\n", 1)
	h := startGateway(t, "logging: {access_log: true}\ntenants:\n"+tenant, &logs)
	key, _ := testKey("acme")
	if r := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key); r.code != 200 {
		t.Fatalf("first request: got %d, want 200", r.code)
	}
	if r := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key); r.code != 429 {
		t.Fatalf("second request: got %d, want 429", r.code)
	}
	lines := waitLines(t, &logs, 2)
	if len(lines) != 2 {
		t.Fatalf("got %d access lines, want 2", len(lines))
	}
	got := lines[1]
	if got["status"] != float64(429) || got["tenant"] != "acme" || got["model"] != "fraud" {
		t.Errorf("429 line: got status %v tenant %v model %v, want 429 acme fraud", got["status"], got["tenant"], got["model"])
	}
}
