package webhook

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelgate/modelgate/configs"
)

// env is a Getenv whose variables the test changes while the Sender runs.
type env struct {
	mu   sync.Mutex
	vars map[string]string
}

func (e *env) get(k string) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.vars[k]
}

func (e *env) set(k, v string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.vars == nil {
		e.vars = map[string]string{}
	}
	e.vars[k] = v
}

func TestDeliveryHeadersAndSignature(t *testing.T) {
	leakCheck(t)
	now := time.Unix(1700000000, 0)
	vars := &env{}
	vars.set("HOOK_KEY", "s3cret-value")
	h := newSender(t, Options{Getenv: vars.get, Now: func() time.Time { return now }})
	signed, plain := newReceiver(t, nil), newReceiver(t, nil)
	hooks := []configs.Webhook{
		{URL: signed.srv.URL + "/hook?token=query-secret", SecretEnv: "HOOK_KEY"},
		{URL: plain.srv.URL + "/plain"},
	}
	payload := `{"rollout":"acme/fraud","canary":"v2"}`
	h.Send(hooks, Event{Type: "rollout.started", Payload: []byte(payload)})
	h.Send(hooks, Event{Type: "rollout.step_advanced", Payload: []byte(`{"step":1}`)})

	s1, p1 := signed.next(t), plain.next(t)
	for _, r := range []request{s1, p1} {
		if r.method != http.MethodPost || r.contentType != "application/json" || r.ua != "modelgate-webhook" {
			t.Errorf("method, Content-Type, User-Agent = %q, %q, %q; want POST, application/json, modelgate-webhook", r.method, r.contentType, r.ua)
		}
		if r.event != "rollout.started" || r.body != payload {
			t.Errorf("event %q body %q, want rollout.started and the payload as given", r.event, r.body)
		}
	}
	if s1.query != "token=query-secret" {
		t.Errorf("query = %q, want the URL's query sent as configured", s1.query)
	}
	if err := Verify([]byte("s3cret-value"), s1.sig, []byte(s1.body), now, time.Minute); err != nil {
		t.Errorf("signature %q does not verify: %v", s1.sig, err)
	}
	if !strings.HasPrefix(s1.sig, "t=1700000000,v1=") {
		t.Errorf("signature %q, want t= the Now of the attempt", s1.sig)
	}
	if p1.sig != "" {
		t.Errorf("hook without secret_env got signature %q", p1.sig)
	}
	s2, p2 := signed.next(t), plain.next(t)
	if s2.event != "rollout.step_advanced" || p2.event != "rollout.step_advanced" {
		t.Errorf("second events %q, %q", s2.event, p2.event)
	}
	ids := map[string]bool{}
	for _, r := range []request{s1, p1, s2, p2} {
		if r.delivery == "" || ids[r.delivery] {
			t.Errorf("delivery id %q empty or repeated across events and hooks (%v)", r.delivery, ids)
		}
		ids[r.delivery] = true
	}
	logs := h.waitLog(t, `"msg":"rollout webhook delivered"`, 4)
	if got := h.value(t, resultDelivered); got != 4 {
		t.Errorf("delivered = %g, want 4", got)
	}
	for _, secret := range []string{"query-secret", "s3cret-value", "acme/fraud", "step\\\":1"} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q:\n%s", secret, logs)
		}
	}
	if want := `"url":"` + signed.srv.URL + `/hook"`; !strings.Contains(logs, want) {
		t.Errorf("log lacks %s:\n%s", want, logs)
	}
}

func TestRetriesUntilSuccessWithSameDeliveryID(t *testing.T) {
	for _, tc := range []struct {
		desc    string
		fail    func(w http.ResponseWriter, r *http.Request)
		timeout time.Duration
	}{
		{desc: "500", fail: status(http.StatusInternalServerError)},
		{desc: "502", fail: status(http.StatusBadGateway)},
		{desc: "503 without Retry-After", fail: status(http.StatusServiceUnavailable)},
		{desc: "408", fail: status(http.StatusRequestTimeout)},
		{desc: "429 without Retry-After", fail: status(http.StatusTooManyRequests)},
		{desc: "timeout", timeout: 20 * time.Millisecond, fail: func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done() // the Sender's attempt timed out
		}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			leakCheck(t)
			vars := &env{}
			vars.set("K", "key-1")
			h := newSender(t, Options{Getenv: vars.get, Timeout: tc.timeout})
			rc := newReceiver(t, func(n int64, w http.ResponseWriter, r *http.Request) {
				if n <= 2 {
					tc.fail(w, r)
				}
			})
			h.Send([]configs.Webhook{{URL: rc.srv.URL, SecretEnv: "K"}}, Event{Type: "rollout.completed", Payload: []byte(`{}`)})
			h.waitValue(t, resultDelivered, 1)
			var id string
			for i := range 3 {
				r := rc.next(t)
				if i == 0 {
					id = r.delivery
				} else if r.delivery != id {
					t.Errorf("attempt %d: delivery id %q, want %q (the same on every retry)", i+1, r.delivery, id)
				}
				if err := Verify([]byte("key-1"), r.sig, []byte(r.body), time.Now(), time.Minute); err != nil {
					t.Errorf("attempt %d: signature: %v", i+1, err)
				}
			}
			if n := rc.hits.Load(); n != 3 {
				t.Errorf("attempts = %d, want 3", n)
			}
			if got := h.value(t, resultFailed); got != 0 {
				t.Errorf("failed = %g, want 0", got)
			}
		})
	}
}

func status(code int) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

func TestGivesUpAfterAttempts(t *testing.T) {
	leakCheck(t)
	h := newSender(t, Options{Attempts: 3})
	rc := newReceiver(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	})
	gone := newReceiver(t, nil)
	gone.srv.Close() // connection refused
	h.Send([]configs.Webhook{{URL: rc.srv.URL}, {URL: gone.srv.URL}}, Event{Type: "rollout.rolled_back", Payload: []byte(`{}`)})
	h.waitValue(t, resultFailed, 2)
	if n := rc.hits.Load(); n != 3 {
		t.Errorf("attempts = %d, want Attempts (3)", n)
	}
	if got := h.value(t, resultDelivered); got != 0 {
		t.Errorf("delivered = %g, want 0", got)
	}
	h.waitLog(t, "out of attempts", 2)
}

func TestRetryAfterHonoured(t *testing.T) {
	for _, code := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			leakCheck(t)
			const maxBackoff = 100 * time.Millisecond
			h := newSender(t, Options{Backoff: time.Millisecond, MaxBackoff: maxBackoff})
			rc := newReceiver(t, func(n int64, w http.ResponseWriter, _ *http.Request) {
				if n == 1 {
					w.Header().Set("Retry-After", "30") // capped at MaxBackoff
					w.WriteHeader(code)
				}
			})
			h.Send([]configs.Webhook{{URL: rc.srv.URL}}, Event{Type: "rollout.started", Payload: []byte(`{}`)})
			first, second := rc.next(t), rc.next(t)
			// Backoff alone would retry after about 1ms; 30s is beyond the
			// deadline next waits.
			if gap := second.arrived.Sub(first.arrived); gap < maxBackoff {
				t.Errorf("retried after %s, want at least Retry-After capped at MaxBackoff (%s)", gap, maxBackoff)
			}
			h.waitValue(t, resultDelivered, 1)
		})
	}
}

func TestNotRetried(t *testing.T) {
	for _, code := range []int{400, 401, 404, 410, 422, 301, 302, 303, 307, 308} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			leakCheck(t)
			h := newSender(t, Options{})
			elsewhere := newReceiver(t, nil)
			rc := newReceiver(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
				if code >= 300 && code < 400 {
					http.Redirect(w, r, elsewhere.srv.URL+"/moved", code)
					return
				}
				w.WriteHeader(code)
			})
			h.Send([]configs.Webhook{{URL: rc.srv.URL + "/hook?sig=query-secret"}}, Event{Type: "rollout.approved", Payload: []byte(`{}`)})
			h.waitValue(t, resultFailed, 1)
			if n := rc.hits.Load(); n != 1 {
				t.Errorf("attempts = %d, want 1", n)
			}
			if n := elsewhere.hits.Load(); n != 0 {
				t.Errorf("redirect followed: %d requests at its target", n)
			}
			logs := h.waitLog(t, `"msg":"rollout webhook failed: not retryable"`, 1)
			if !strings.Contains(logs, `"url":"`+rc.srv.URL+`/hook","attempts":1,"status":`+strconv.Itoa(code)) {
				t.Errorf("want the warning with scheme://host/path and the status:\n%s", logs)
			}
			if strings.Contains(logs, "query-secret") {
				t.Errorf("log has the URL's query:\n%s", logs)
			}
		})
	}
}

func TestUnsignedWhenSecretMissing(t *testing.T) {
	leakCheck(t)
	vars := &env{}
	h := newSender(t, Options{Getenv: vars.get})
	rc := newReceiver(t, nil)
	hooks := []configs.Webhook{{URL: rc.srv.URL, SecretEnv: "ROLLOUT_HOOK_KEY"}}

	h.Send(hooks, Event{Type: "rollout.started", Payload: []byte(`{"n":1}`)}) // unset
	h.waitValue(t, resultUnsigned, 1)
	vars.set("ROLLOUT_HOOK_KEY", "")
	h.Send(hooks, Event{Type: "rollout.started", Payload: []byte(`{"n":2}`)}) // empty
	h.waitValue(t, resultUnsigned, 2)
	h.waitLog(t, `"secret_env":"ROLLOUT_HOOK_KEY"`, 2) // the variable named, never a value

	// The secret appears, then rotates: both are read at send time.
	for i, key := range []string{"first-key", "rotated-key"} {
		vars.set("ROLLOUT_HOOK_KEY", key)
		h.Send(hooks, Event{Type: "rollout.step_advanced", Payload: []byte(`{"n":3}`)})
		r := rc.next(t)
		if r.body != `{"n":3}` {
			t.Fatalf("received %s, want only the signed event (the unsigned ones are never sent)", r.body)
		}
		if err := Verify([]byte(key), r.sig, []byte(r.body), time.Now(), time.Minute); err != nil {
			t.Errorf("signed with %q: %v", key, err)
		}
		h.waitValue(t, resultDelivered, float64(i+1))
	}
	if n := rc.hits.Load(); n != 2 {
		t.Errorf("receiver got %d requests, want 2", n)
	}
	if logs := h.log.String(); strings.Contains(logs, "first-key") || strings.Contains(logs, "rotated-key") {
		t.Errorf("log contains a secret:\n%s", logs)
	}
}
