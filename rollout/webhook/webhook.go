// Package webhook delivers a progressive rollout's events to the webhooks an
// operator configured (rollout.webhooks, configs.Webhook), off the request
// path: Send only queues; a bounded pool of workers POSTs each event, signs
// it, retries it with backoff, and counts what became of it.
//
// What a receiver sees, per event and hook: a POST of the event's JSON with
// Content-Type: application/json, User-Agent: modelgate-webhook,
// X-Modelgate-Event (the event type), X-Modelgate-Delivery (an id unique to
// the event and hook, the same on every retry, so a receiver can
// deduplicate) and, when the hook names a secret_env, X-Modelgate-Signature
// (Sign, checked with Verify). Deliveries to one URL arrive in the order
// they were sent, each retried to success or failure before the next; a
// delivery may arrive more than once (a lost 2xx is retried), never
// unsigned when a secret is configured.
//
// Logs name the hook by scheme://host/path only; payloads, secrets and
// query strings are never logged.
package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/modelgate/modelgate/configs"
)

// Defaults of Options.
const (
	defaultQueue      = 256
	defaultAttempts   = 6
	defaultBackoff    = time.Second
	defaultMaxBackoff = time.Minute
	defaultTimeout    = 5 * time.Second
)

// maxWorkers bounds the goroutines delivering at once, so the number of
// distinct URLs (at most configs.MaxRolloutWebhooks per rollout, but many
// rollouts may share a Sender) never grows it without limit. Beyond it,
// URLs with deliveries waiting take turns, one delivery at a time.
const maxWorkers = 4 * configs.MaxRolloutWebhooks

// Results of modelgate_rollout_webhook_deliveries_total.
const (
	resultDelivered = "delivered"
	resultFailed    = "failed"
	resultDropped   = "dropped"
	resultUnsigned  = "unsigned"
)

// Event is one rollout event as delivered: the JSON body is Payload as given
// (the caller marshals it).
type Event struct {
	// Type is the event's name, sent in X-Modelgate-Event: "rollout." and
	// one of package rollout's Action constants, e.g.
	// "rollout.started", "rollout.step_advanced",
	// "rollout.waiting_for_approval", "rollout.approved",
	// "rollout.rolled_back", "rollout.completed".
	Type string
	// Payload is the request body, a JSON object. Send copies it.
	Payload []byte
}

// Options configure a Sender. The zero value is usable: every field has a
// default, and a zero or negative number means the default.
type Options struct {
	// Queue bounds the deliveries waiting (queued, not yet being attempted)
	// across all hooks; default 256. When it is full, Send drops the OLDEST
	// waiting delivery to make room, counted as result="dropped".
	Queue int
	// Attempts per delivery, the first included; default 6.
	Attempts int
	// Backoff is the delay before the first retry, default 1s; it doubles
	// with each retry up to MaxBackoff, each delay with ±20% jitter (and
	// never above MaxBackoff).
	Backoff time.Duration
	// MaxBackoff caps every retry delay, Retry-After included; default 1m.
	MaxBackoff time.Duration
	// Timeout bounds each attempt, from connecting to the end of the
	// (capped) read of the response body; default 5s. A timed-out attempt
	// is retried.
	Timeout time.Duration
	// Client sends the requests. Default: a client of its own with Timeout
	// that follows no redirects (a 3xx is a failure), whose idle
	// connections Close closes. A given Client is used as is (Timeout still
	// bounds each attempt) and not closed.
	Client *http.Client
	// Getenv reads a hook's secret_env; default os.Getenv. It is called at
	// every attempt, so a rotated secret takes effect without a restart.
	Getenv func(string) string
	// Now gives the signature timestamps; default time.Now.
	Now func() time.Time
	// Log receives warnings (a delivery failed, dropped or not signed) and
	// debug lines (delivered, retrying). Default: discarded.
	Log *slog.Logger
	// Registerer gets modelgate_rollout_webhook_deliveries_total{result=
	// "delivered|failed|dropped|unsigned"} and modelgate_rollout_webhook_queue
	// (gauge, deliveries waiting). Default nil: not registered. Senders
	// sharing a Registerer share the metrics.
	Registerer prometheus.Registerer
}

// Sender delivers events to webhooks. Create it with New; it is safe for
// concurrent use and must not be copied. It starts workers only while there
// is something to deliver, and Close stops them.
type Sender struct {
	o         Options // defaults applied
	client    *http.Client
	ownClient bool
	idPrefix  string // random per Sender, so delivery ids do not repeat across restarts

	deliveries map[string]prometheus.Counter // by result
	queued     prometheus.Gauge

	// ctx ends when Close gives up: in-flight attempts and backoff waits
	// stop at once.
	ctx    context.Context
	cancel context.CancelFunc

	mu         sync.Mutex
	hooks      map[string]*hook // by URL: those with deliveries waiting or a worker
	ready      []*hook          // waiting for a worker (maxWorkers busy), each non-empty
	workers    int
	waiting    int    // deliveries in all hooks' queues
	seq        uint64 // deliveries ever queued
	unlogged   int    // drops not yet logged (Send does no I/O, a worker logs them)
	closed     bool
	idle       chan struct{} // closed once closed and no worker is left
	idleClosed bool
	abortOnce  sync.Once
}

// hook is one URL's queue. A hook in Sender.hooks is either active (one
// worker owns it, so deliveries to the URL are in order) or in ready.
type hook struct {
	url    string
	q      []*delivery
	active bool
}

// delivery is one event for one hook.
type delivery struct {
	seq     uint64 // global queueing order; also the delivery id's suffix
	hook    configs.Webhook
	event   string
	payload []byte // shared by the event's deliveries; read-only
}

// New returns a Sender with o's defaults applied. It panics if
// o.Registerer refuses the metrics for a reason other than their being
// registered already (by another Sender: then they are shared).
func New(o Options) *Sender {
	if o.Queue <= 0 {
		o.Queue = defaultQueue
	}
	if o.Attempts <= 0 {
		o.Attempts = defaultAttempts
	}
	if o.Backoff <= 0 {
		o.Backoff = defaultBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = defaultMaxBackoff
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	s := &Sender{o: o, client: o.Client, hooks: make(map[string]*hook), idle: make(chan struct{})}
	if s.client == nil {
		s.client = &http.Client{
			Transport: http.DefaultTransport.(*http.Transport).Clone(),
			Timeout:   o.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
		s.ownClient = true
	}
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	s.idPrefix = hex.EncodeToString(b[:])
	s.ctx, s.cancel = context.WithCancel(context.Background())

	vec := register(o.Registerer, prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "modelgate", Name: "rollout_webhook_deliveries_total",
		Help: "Rollout webhook deliveries (one event to one hook) by result: delivered (2xx), failed (attempts exhausted, not retryable, or cut off by shutdown), dropped (queue full or shut down), unsigned (secret_env empty: not sent).",
	}, []string{"result"}))
	s.deliveries = make(map[string]prometheus.Counter, 4)
	for _, r := range []string{resultDelivered, resultFailed, resultDropped, resultUnsigned} {
		s.deliveries[r] = vec.WithLabelValues(r)
	}
	s.queued = register(o.Registerer, prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "modelgate", Name: "rollout_webhook_queue",
		Help: "Rollout webhook deliveries waiting to be attempted.",
	}))
	return s
}

// register registers c with r (if any), or returns the collector already
// registered in its place.
func register[C prometheus.Collector](r prometheus.Registerer, c C) C {
	if r == nil {
		return c
	}
	if err := r.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(fmt.Sprintf("webhook: registering metrics: %v", err))
	}
	return c
}

// Send queues e for every hook in hooks and returns at once (never blocks,
// never does I/O). Safe for concurrent use. A full queue drops its oldest
// delivery for each new one; after Close, e is dropped (counted).
func (s *Sender) Send(hooks []configs.Webhook, e Event) {
	if len(hooks) == 0 {
		return
	}
	payload := bytes.Clone(e.Payload)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.deliveries[resultDropped].Add(float64(len(hooks)))
		return
	}
	for _, h := range hooks {
		if s.waiting >= s.o.Queue {
			s.dropOldestLocked()
		}
		s.seq++
		s.enqueueLocked(&delivery{seq: s.seq, hook: h, event: e.Type, payload: payload})
	}
}

// enqueueLocked appends d to its hook's queue, giving the hook a worker if
// one is free.
func (s *Sender) enqueueLocked(d *delivery) {
	s.waiting++
	s.queued.Inc()
	if hk := s.hooks[d.hook.URL]; hk != nil {
		hk.q = append(hk.q, d)
		return
	}
	hk := &hook{url: d.hook.URL, q: []*delivery{d}}
	s.hooks[hk.url] = hk
	if s.workers < maxWorkers {
		s.workers++
		hk.active = true
		go s.work(hk)
		return
	}
	s.ready = append(s.ready, hk)
}

// dropOldestLocked drops the delivery waiting longest, whichever its hook.
// Each hook's queue is in seq order, so it is the smallest head.
func (s *Sender) dropOldestLocked() {
	var oldest *hook
	for _, hk := range s.hooks {
		if len(hk.q) > 0 && (oldest == nil || hk.q[0].seq < oldest.q[0].seq) {
			oldest = hk
		}
	}
	if oldest == nil {
		return
	}
	oldest.q[0] = nil
	oldest.q = oldest.q[1:]
	s.waiting--
	s.queued.Dec()
	s.deliveries[resultDropped].Inc()
	s.unlogged++
	if len(oldest.q) == 0 && !oldest.active {
		s.forgetLocked(oldest)
	}
}

// forgetLocked removes a hook without a worker from hooks and ready.
func (s *Sender) forgetLocked(hk *hook) {
	delete(s.hooks, hk.url)
	for i, r := range s.ready {
		if r == hk {
			s.ready = append(s.ready[:i], s.ready[i+1:]...)
			break
		}
	}
}

// work delivers hk's queue, then any other hook's waiting for a worker,
// and returns when nothing is waiting.
func (s *Sender) work(hk *hook) {
	for {
		var d *delivery
		var drops int
		hk, d, drops = s.take(hk)
		if drops > 0 {
			s.o.Log.Warn("rollout webhook queue full: dropped the oldest deliveries",
				slog.Int("dropped", drops), slog.Int("queue", s.o.Queue))
		}
		if d == nil {
			return
		}
		s.deliver(d)
	}
}

// take gives the worker that owned hk its next delivery and the hook it
// now owns: hk's next, unless other hooks are waiting for a worker (then
// hk waits its turn behind them). It returns a nil delivery, and counts
// the worker gone, when nothing is waiting; drops is the number of
// deliveries dropped since the last take.
func (s *Sender) take(hk *hook) (_ *hook, _ *delivery, drops int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	drops, s.unlogged = s.unlogged, 0
	switch {
	case len(hk.q) == 0:
		hk.active = false
		delete(s.hooks, hk.url)
		hk = nil
	case len(s.ready) > 0:
		hk.active = false
		s.ready = append(s.ready, hk)
		hk = nil
	}
	if hk == nil {
		if len(s.ready) == 0 {
			s.workers--
			s.idleLocked()
			return nil, nil, drops
		}
		hk = s.ready[0]
		s.ready[0] = nil
		s.ready = s.ready[1:]
		hk.active = true
	}
	d := hk.q[0]
	hk.q[0] = nil
	hk.q = hk.q[1:]
	s.waiting--
	s.queued.Dec()
	return hk, d, drops
}

// idleLocked closes idle once the Sender is closed and no worker is left
// (none is left only when nothing is waiting).
func (s *Sender) idleLocked() {
	if s.closed && s.workers == 0 && !s.idleClosed {
		s.idleClosed = true
		close(s.idle)
	}
}

// Close stops accepting, tries to deliver what is queued until ctx ends,
// then stops the workers. Idempotent. It returns nil when everything
// queued was attempted to its end (delivered or failed); when ctx ends
// first it drops what is still waiting (result="dropped"), cuts off the
// attempts in flight (result="failed"), waits for the workers to exit and
// returns an error wrapping ctx.Err().
func (s *Sender) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.idleLocked()
	s.mu.Unlock()
	var err error
	select {
	case <-s.idle:
	case <-ctx.Done():
		select {
		case <-s.idle: // done at the same moment: nothing was given up
		default:
			n := s.abort()
			<-s.idle
			err = fmt.Errorf("webhook: closing: gave up with %d deliveries waiting and those in flight cut off: %w", n, ctx.Err())
		}
	}
	s.cancel()
	if s.ownClient {
		s.client.CloseIdleConnections()
	}
	return err
}

// abort ends every in-flight attempt and backoff and drops every waiting
// delivery, returning how many it dropped (0 after the first call).
func (s *Sender) abort() (dropped int) {
	s.abortOnce.Do(func() {
		s.cancel()
		s.mu.Lock()
		for _, hk := range s.hooks {
			dropped += len(hk.q)
			hk.q = nil
			if !hk.active {
				delete(s.hooks, hk.url)
			}
		}
		s.ready = nil
		s.waiting = 0
		s.queued.Sub(float64(dropped))
		s.deliveries[resultDropped].Add(float64(dropped))
		s.mu.Unlock()
		if dropped > 0 {
			s.o.Log.Warn("rollout webhooks: shutting down, dropped the deliveries still waiting", slog.Int("dropped", dropped))
		}
	})
	return dropped
}
