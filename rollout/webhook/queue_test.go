package webhook

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/internal/await"
)

func numbered(i int) Event {
	return Event{Type: "rollout.step_advanced", Payload: []byte(`{"n":` + strconv.Itoa(i) + `}`)}
}

func TestQueueOverflowDropsOldest(t *testing.T) {
	leakCheck(t)
	h := newSender(t, Options{Queue: 3})
	rel := make(chan struct{})
	rc := newReceiver(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		if n == 1 {
			hang(rel)(n, w, r)
		}
	})
	hooks := []configs.Webhook{{URL: rc.srv.URL}}
	h.Send(hooks, numbered(0))
	if r := rc.next(t); r.body != `{"n":0}` {
		t.Fatalf("first request %s", r.body)
	}
	for i := 1; i <= 5; i++ { // 1 and 2 are dropped for 4 and 5
		h.Send(hooks, numbered(i))
	}
	want := `
# HELP modelgate_rollout_webhook_deliveries_total Rollout webhook deliveries (one event to one hook) by result: delivered (2xx), failed (attempts exhausted, not retryable, or cut off by shutdown), dropped (queue full or shut down), unsigned (secret_env empty: not sent).
# TYPE modelgate_rollout_webhook_deliveries_total counter
modelgate_rollout_webhook_deliveries_total{result="delivered"} 0
modelgate_rollout_webhook_deliveries_total{result="dropped"} 2
modelgate_rollout_webhook_deliveries_total{result="failed"} 0
modelgate_rollout_webhook_deliveries_total{result="unsigned"} 0
# HELP modelgate_rollout_webhook_queue Rollout webhook deliveries waiting to be attempted.
# TYPE modelgate_rollout_webhook_queue gauge
modelgate_rollout_webhook_queue 3
`
	if err := testutil.GatherAndCompare(h.reg, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	close(rel)
	for _, n := range []int{3, 4, 5} {
		if r := rc.next(t); r.body != `{"n":`+strconv.Itoa(n)+`}` {
			t.Fatalf("got %s, want n=%d (the oldest waiting were dropped)", r.body, n)
		}
	}
	h.waitValue(t, resultDelivered, 4)
	if got := h.value(t, ""); got != 0 {
		t.Errorf("queue gauge = %g, want 0", got)
	}
	h.waitLog(t, `"msg":"rollout webhook queue full: dropped the oldest deliveries","dropped":2`, 1)
}

func TestDropsOldestAcrossHooks(t *testing.T) {
	leakCheck(t)
	h := newSender(t, Options{Queue: 2})
	a, b := newReceiver(t, hang(nil)), newReceiver(t, hang(nil))
	// Both workers hang on their first event, so later ones wait.
	h.Send([]configs.Webhook{{URL: a.srv.URL}, {URL: b.srv.URL}}, numbered(0))
	a.next(t)
	b.next(t)
	h.Send([]configs.Webhook{{URL: a.srv.URL}}, numbered(1))
	h.Send([]configs.Webhook{{URL: b.srv.URL}}, numbered(2))
	h.Send([]configs.Webhook{{URL: b.srv.URL}}, numbered(3)) // drops 1, at a
	if got := h.value(t, resultDropped); got != 1 {
		t.Fatalf("dropped = %g, want 1", got)
	}
	h.mu.Lock()
	qa, qb := len(h.hooks[a.srv.URL].q), len(h.hooks[b.srv.URL].q)
	h.mu.Unlock()
	if qa != 0 || qb != 2 {
		t.Errorf("waiting at a, b = %d, %d; want 0, 2 (a's older delivery dropped)", qa, qb)
	}
}

func TestPerHookOrdering(t *testing.T) {
	leakCheck(t)
	h := newSender(t, Options{Queue: 1000})
	var mu sync.Mutex
	var delivered []string
	rc := newReceiver(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		if n%3 == 1 { // every third request fails once
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		delivered = append(delivered, r.Header.Get(headerDelivery))
	})
	other := newReceiver(t, nil)
	hooks := []configs.Webhook{{URL: rc.srv.URL}, {URL: other.srv.URL}}
	const events = 100
	for i := range events {
		h.Send(hooks, numbered(i))
	}
	h.waitValue(t, resultDelivered, 2*events)
	var bodies []string
	for range rc.hits.Load() {
		r := rc.next(t)
		if r.n%3 != 1 {
			bodies = append(bodies, r.body)
		}
	}
	for i, b := range bodies {
		if want := string(numbered(i).Payload); b != want {
			t.Fatalf("delivery %d: %s, want %s (in order, each retried before the next)", i, b, want)
		}
	}
	if len(bodies) != events {
		t.Fatalf("delivered %d, want %d", len(bodies), events)
	}
	mu.Lock()
	defer mu.Unlock()
	ids := map[string]bool{}
	for _, id := range delivered {
		ids[id] = true
	}
	if len(ids) != events {
		t.Errorf("%d distinct delivery ids among %d deliveries", len(ids), events)
	}
	for i := range events {
		if r := other.next(t); r.body != string(numbered(i).Payload) {
			t.Fatalf("other hook: delivery %d is %s", i, r.body)
		}
	}
}

func TestHungHookDoesNotDelayAnother(t *testing.T) {
	leakCheck(t)
	h := newSender(t, Options{})
	hung, fine := newReceiver(t, hang(nil)), newReceiver(t, nil)
	hooks := []configs.Webhook{{URL: hung.srv.URL}, {URL: fine.srv.URL}}
	for i := range 5 {
		h.Send(hooks, numbered(i))
	}
	hung.next(t) // the first is in flight, the rest wait behind it
	for i := range 5 {
		if r := fine.next(t); r.body != string(numbered(i).Payload) {
			t.Fatalf("fine hook got %s, want event %d", r.body, i)
		}
	}
	h.waitValue(t, resultDelivered, 5)
	if n := hung.hits.Load(); n != 1 {
		t.Errorf("hung hook got %d requests, want 1 (the rest wait behind it)", n)
	}
}

func TestWorkersBounded(t *testing.T) {
	leakCheck(t)
	h := newSender(t, Options{})
	rel := make(chan struct{})
	var inFlight, most atomic.Int64
	rc := newReceiver(t, func(n int64, w http.ResponseWriter, r *http.Request) {
		now := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
		}
		hang(rel)(n, w, r)
	})
	const urls = maxWorkers + 8
	for i := range urls {
		h.Send([]configs.Webhook{{URL: rc.srv.URL + "/hook" + strconv.Itoa(i)}}, numbered(i))
	}
	await.Until(t, deadline, "maxWorkers requests in flight and the other URLs waiting for a worker", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return inFlight.Load() == maxWorkers && h.workers == maxWorkers && len(h.ready) == urls-maxWorkers
	})
	close(rel)
	h.waitValue(t, resultDelivered, urls)
	if m := most.Load(); m > maxWorkers {
		t.Errorf("%d requests at once, want at most %d", m, maxWorkers)
	}
	await.Until(t, deadline, "the workers to exit once nothing waits", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.workers == 0 && len(h.hooks) == 0 && len(h.ready) == 0
	})
}

func TestCloseDeliversQueued(t *testing.T) {
	leakCheck(t)
	h := newSender(t, Options{})
	rc := newReceiver(t, func(n int64, w http.ResponseWriter, _ *http.Request) {
		if n%2 == 1 {
			w.WriteHeader(http.StatusBadGateway) // every event fails once: Close waits for the retries too
		}
	})
	hooks := []configs.Webhook{{URL: rc.srv.URL}}
	for i := range 20 {
		h.Send(hooks, numbered(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := h.value(t, resultDelivered); got != 20 {
		t.Errorf("delivered by Close = %g, want 20", got)
	}
	h.Send(hooks, numbered(20))
	if got := h.value(t, resultDropped); got != 1 {
		t.Errorf("dropped after Close = %g, want 1", got)
	}
	if err := h.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if n := rc.hits.Load(); n != 40 {
		t.Errorf("receiver got %d requests, want 40 (nothing after Close)", n)
	}
}

func TestCloseGivesUpAtContextEnd(t *testing.T) {
	leakCheck(t)
	h := newSender(t, Options{})
	rc := newReceiver(t, hang(nil))
	hooks := []configs.Webhook{{URL: rc.srv.URL}}
	for i := range 3 {
		h.Send(hooks, numbered(i))
	}
	rc.next(t) // the first is in flight, two wait
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := h.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want context.DeadlineExceeded", err)
	}
	if d, f := h.value(t, resultDropped), h.value(t, resultFailed); d != 2 || f != 1 {
		t.Errorf("dropped, failed = %g, %g; want 2 (waiting), 1 (cut off)", d, f)
	}
	if got := h.value(t, ""); got != 0 {
		t.Errorf("queue gauge = %g, want 0", got)
	}
	h.mu.Lock()
	workers := h.workers
	h.mu.Unlock()
	if workers != 0 {
		t.Errorf("%d workers after Close", workers)
	}
	if err := h.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestCloseStopsBackoff(t *testing.T) {
	leakCheck(t)
	h := newSender(t, Options{Backoff: time.Hour, MaxBackoff: time.Hour})
	rc := newReceiver(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	})
	h.Send([]configs.Webhook{{URL: rc.srv.URL}}, numbered(0))
	rc.next(t)
	h.waitLog(t, "retrying", 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close = %v, want context.Canceled", err)
	}
	if got := h.value(t, resultFailed); got != 1 {
		t.Errorf("failed = %g, want 1 (the backoff was cut off)", got)
	}
}

func TestSendNeverBlocks(t *testing.T) {
	leakCheck(t)
	h := newSender(t, Options{})
	rel := make(chan struct{})
	rc := newReceiver(t, hang(rel))
	hooks := []configs.Webhook{{URL: rc.srv.URL}}
	h.Send(hooks, numbered(-1))
	rc.next(t) // hung in flight

	const senders, each = 4, 2500
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for g := range senders {
			wg.Go(func() {
				for i := range each {
					h.Send(hooks, numbered(g*each+i))
				}
			})
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(deadline):
		t.Fatalf("%d Sends did not return within %s with a hung receiver", senders*each, deadline)
	}
	if got := h.value(t, ""); got != defaultQueue {
		t.Errorf("queue gauge = %g, want %d", got, defaultQueue)
	}
	if got := h.value(t, resultDropped); got != senders*each-defaultQueue {
		t.Errorf("dropped = %g, want %d", got, senders*each-defaultQueue)
	}
	close(rel)
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := h.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := h.value(t, resultDelivered); got != defaultQueue+1 {
		t.Errorf("delivered = %g, want %d", got, defaultQueue+1)
	}
}

func TestSharedRegistererAndDefaults(t *testing.T) {
	leakCheck(t)
	h := newSender(t, Options{})
	other := New(Options{Registerer: h.reg}) // shares the collectors, no panic
	rc := newReceiver(t, nil)
	other.Send([]configs.Webhook{{URL: rc.srv.URL}}, numbered(0))
	h.waitValue(t, resultDelivered, 1)
	if err := other.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	o := other.o
	if o.Queue != 256 || o.Attempts != 6 || o.Backoff != time.Second || o.MaxBackoff != time.Minute || o.Timeout != 5*time.Second {
		t.Errorf("defaults = %+v", o)
	}
	if other.client.Timeout != 5*time.Second || other.client.CheckRedirect == nil {
		t.Errorf("default client: timeout %s, redirects checked %v", other.client.Timeout, other.client.CheckRedirect != nil)
	}
}

func TestBackoff(t *testing.T) {
	s := New(Options{Backoff: 100 * time.Millisecond, MaxBackoff: time.Second})
	defer s.Close(context.Background())
	for _, tc := range []struct {
		retry    int
		min, max time.Duration
	}{
		{1, 80 * time.Millisecond, 120 * time.Millisecond},
		{2, 160 * time.Millisecond, 240 * time.Millisecond},
		{3, 320 * time.Millisecond, 480 * time.Millisecond},
		{4, 640 * time.Millisecond, time.Second},
		{5, 800 * time.Millisecond, time.Second}, // 1.6s capped, jitter below the cap only
		{60, 800 * time.Millisecond, time.Second},
	} {
		for range 200 {
			if d := s.backoff(tc.retry); d < tc.min || d > tc.max {
				t.Fatalf("backoff(%d) = %s, want in [%s, %s]", tc.retry, d, tc.min, tc.max)
			}
		}
	}
}
