package upstream

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/internal/await"
	"github.com/modelgate/modelgate/internal/testlog"
)

// TestCheckerBoundedBody: a model-level check reads at most MaxProbeBody
// bytes of the answer. A longer one (declared, or an endless chunked
// stream) is not ready at once, not after the check timeout, and no byte
// of any answer reaches the log.
func TestCheckerBoundedBody(t *testing.T) {
	const secret = "SECRET-PAYLOAD"
	big := `{"model_version_status":[{"state":"AVAILABLE"}],"pad":"` + strings.Repeat(secret, MaxProbeBody/len(secret)+1) + `"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/models/small":
			_, _ = w.Write([]byte(`{"model_version_status":[{"version":"1","state":"AVAILABLE"}],"note":"` + secret + `"}`))
		case "/v1/models/end":
			_, _ = w.Write([]byte(`{"model_version_status":[{"version":"1","state":"END"}],"note":"` + secret + `"}`))
		case "/v1/models/big": // Content-Length over the bound
			_, _ = w.Write([]byte(big))
		case "/v1/models/endless": // chunked, never ends while the client reads
			_, _ = w.Write([]byte(`{"model_version_status":[{"state":"AVAILABLE"}],"pad":"`))
			for r.Context().Err() == nil {
				if _, err := w.Write([]byte(strings.Repeat(secret, 256))); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	var logs testlog.Buffer
	reg, gen := newTestRegistry(t, slog.New(slog.NewTextHandler(&logs, nil)))
	cfg := func(path string) configs.HealthCheck {
		return configs.HealthCheck{Path: path, Interval: 50 * time.Millisecond, Timeout: 5 * time.Second, UnhealthyAfter: 1, HealthyAfter: 1}
	}
	eps := map[string]*Endpoint{}
	plan := map[*Endpoint]*Settings{}
	for _, m := range []string{"small", "end", "big", "endless"} {
		path := "/v1/models/" + m
		ep := reg.Get(gen, Key{URL: srv.URL, HealthPath: path})
		eps[m] = ep
		plan[ep] = &Settings{Connect: time.Second, Health: cfg(path)}
	}
	start := time.Now()
	reg.Configure(plan)
	await.Until(t, 5*time.Second, "end, big and endless to be marked down", func() bool {
		return !eps["end"].Up() && !eps["big"].Up() && !eps["endless"].Up()
	})
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("verdicts took %v: the endless answer was read until the check timeout", took)
	}
	if !eps["small"].Up() {
		t.Error("small AVAILABLE answer: endpoint down, want up")
	}
	wants := []string{
		`path=/v1/models/end probe=v1_model status=200 reason="no version in state AVAILABLE"`,
		`path=/v1/models/big probe=v1_model status=200 reason="status answer too large"`,
		`path=/v1/models/endless probe=v1_model status=200 reason="status answer too large"`,
	}
	// The verdict is stored before its log line is written: wait for the lines.
	await.Until(t, 5*time.Second, "the three unhealthy lines logged", func() bool {
		for _, want := range wants {
			if !strings.Contains(logs.String(), want) {
				return false
			}
		}
		return true
	})
	s := logs.String()
	if strings.Contains(s, secret) {
		t.Errorf("logs quote an answer:\n%s", s)
	}
}
