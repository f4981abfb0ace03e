package webhook

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/modelgate/modelgate/internal/await"
	"github.com/modelgate/modelgate/internal/testlog"
)

// deadline bounds every wait for a condition.
const deadline = 10 * time.Second

// leakCheck fails t if goroutines started during it outlive its cleanups.
// Call it first, so its cleanup runs last.
func leakCheck(t *testing.T) {
	t.Helper()
	existing := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, existing) })
}

// harness is a Sender with its own registry and captured debug log.
type harness struct {
	*Sender
	reg *prometheus.Registry
	log *testlog.Buffer
}

// newSender fills o's unset fields for fast tests (Backoff 1ms, MaxBackoff
// 5ms), registers on a fresh registry, logs to a buffer, and closes the
// Sender at cleanup (wanting no error).
func newSender(t *testing.T, o Options) *harness {
	t.Helper()
	h := &harness{reg: prometheus.NewRegistry(), log: &testlog.Buffer{}}
	if o.Backoff == 0 {
		o.Backoff = time.Millisecond
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 5 * time.Millisecond
	}
	o.Registerer = h.reg
	o.Log = slog.New(slog.NewJSONHandler(h.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.Sender = New(o)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		if err := h.Close(ctx); err != nil {
			t.Errorf("Close at cleanup: %v", err)
		}
	})
	return h
}

// value is the current value of a webhook metric: the deliveries counter
// of result, or the queue gauge for result "".
func (h *harness) value(t *testing.T, result string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, mf := range mfs {
		switch {
		case result == "" && mf.GetName() == "modelgate_rollout_webhook_queue":
			return mf.GetMetric()[0].GetGauge().GetValue()
		case result != "" && mf.GetName() == "modelgate_rollout_webhook_deliveries_total":
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == result {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no metric for result %q", result)
	return 0
}

// waitValue waits until metric result (see value) is want.
func (h *harness) waitValue(t *testing.T, result string, want float64) {
	t.Helper()
	await.Until(t, deadline, fmt.Sprintf("metric %q to be %g", result, want),
		func() bool { return h.value(t, result) == want })
}

// waitLog waits until the log holds substr at least n times (results are
// counted just before they are logged), and returns the log.
func (h *harness) waitLog(t *testing.T, substr string, n int) string {
	t.Helper()
	await.Until(t, deadline, fmt.Sprintf("%d× %s in the log", n, substr),
		func() bool { return strings.Count(h.log.String(), substr) >= n })
	return h.log.String()
}

// request is what a receiver got.
type request struct {
	n                    int64 // 1-based arrival number at this receiver
	method, path, query  string
	contentType, ua      string
	event, delivery, sig string
	body                 string
	arrived              time.Time
}

// receiver is a loopback webhook endpoint recording every request before
// respond answers it.
type receiver struct {
	srv  *httptest.Server
	got  chan request
	hits atomic.Int64
}

// newReceiver starts a receiver; respond (nil: 204) writes the answer for
// the n-th request. At cleanup it cuts every connection (so handlers
// waiting on the request's context return) and closes.
func newReceiver(t *testing.T, respond func(n int64, w http.ResponseWriter, r *http.Request)) *receiver {
	t.Helper()
	rc := &receiver{got: make(chan request, 4096)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n := rc.hits.Add(1)
		rq := request{n: n, method: r.Method, path: r.URL.Path, query: r.URL.RawQuery,
			contentType: r.Header.Get("Content-Type"), ua: r.Header.Get("User-Agent"),
			event: r.Header.Get(headerEvent), delivery: r.Header.Get(headerDelivery),
			sig: r.Header.Get(headerSignature), body: string(body), arrived: time.Now()}
		select {
		case rc.got <- rq:
		default:
			t.Errorf("receiver: more than %d requests", cap(rc.got))
		}
		if respond == nil {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		respond(n, w, r)
	}))
	t.Cleanup(func() {
		rc.srv.CloseClientConnections()
		rc.srv.Close()
	})
	return rc
}

// next waits for the receiver's next request.
func (rc *receiver) next(t *testing.T) request {
	t.Helper()
	select {
	case r := <-rc.got:
		return r
	case <-time.After(deadline):
		t.Fatalf("no request within %s", deadline)
		return request{}
	}
}

// hang blocks a handler until rel is closed (nil: never) or the client
// gives up (receivers cut their connections at cleanup).
func hang(rel <-chan struct{}) func(int64, http.ResponseWriter, *http.Request) {
	return func(_ int64, w http.ResponseWriter, r *http.Request) {
		select {
		case <-rel:
		case <-r.Context().Done():
		}
	}
}
