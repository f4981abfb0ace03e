package webhook

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxDrain is how much of a response body is read (and discarded) so the
// connection can be reused; the rest is cut off by closing it.
const maxDrain = 64 << 10

// Request headers.
const (
	headerEvent     = "X-Modelgate-Event"
	headerDelivery  = "X-Modelgate-Delivery"
	headerSignature = "X-Modelgate-Signature"
	userAgent       = "modelgate-webhook"
)

// verdict is what one attempt's outcome calls for.
type verdict int

const (
	delivered verdict = iota
	retry             // 408, 429, 5xx, connection error, timeout
	fail              // any other status, or a request that cannot be built
	unsigned          // secret_env is set but empty: not sent
)

// outcome is one attempt's result.
type outcome struct {
	verdict verdict
	status  int           // 0 without a response
	err     error         // transport error, if any
	after   time.Duration // Retry-After, when hasAfter
	// hasAfter: a 429 or 503 said when to retry.
	hasAfter bool
}

// deliver attempts d until it is delivered, fails, runs out of attempts,
// or Close gives up, and counts the result.
func (s *Sender) deliver(d *delivery) {
	id := s.idPrefix + "-" + strconv.FormatUint(d.seq, 10)
	target := redact(d.hook.URL)
	attrs := func(attempts int, out outcome, more ...slog.Attr) []slog.Attr {
		a := []slog.Attr{slog.String("event", d.event), slog.String("delivery", id),
			slog.String("url", target), slog.Int("attempts", attempts)}
		if out.status != 0 {
			a = append(a, slog.Int("status", out.status))
		}
		if out.err != nil {
			a = append(a, slog.String("error", describe(out.err, d.hook.URL, target)))
		}
		return append(a, more...)
	}
	for attempt := 1; ; attempt++ {
		out := s.attempt(d, id)
		switch out.verdict {
		case delivered:
			s.deliveries[resultDelivered].Inc()
			s.o.Log.LogAttrs(context.Background(), slog.LevelDebug, "rollout webhook delivered", attrs(attempt, out)...)
			return
		case unsigned:
			s.deliveries[resultUnsigned].Inc()
			s.o.Log.LogAttrs(context.Background(), slog.LevelWarn, "rollout webhook not sent: its secret_env variable is empty or unset, and it is never sent unsigned",
				attrs(attempt, out, slog.String("secret_env", d.hook.SecretEnv))...)
			return
		case fail:
			s.deliveries[resultFailed].Inc()
			s.o.Log.LogAttrs(context.Background(), slog.LevelWarn, "rollout webhook failed: not retryable", attrs(attempt, out)...)
			return
		}
		if s.ctx.Err() != nil {
			s.failShutdown(attrs(attempt, out))
			return
		}
		if attempt >= s.o.Attempts {
			s.deliveries[resultFailed].Inc()
			s.o.Log.LogAttrs(context.Background(), slog.LevelWarn, "rollout webhook failed: out of attempts", attrs(attempt, out)...)
			return
		}
		wait := s.backoff(attempt)
		if out.hasAfter {
			wait = out.after
		}
		s.o.Log.LogAttrs(context.Background(), slog.LevelDebug, "rollout webhook attempt failed, retrying",
			attrs(attempt, out, slog.Duration("retry_in", wait))...)
		if !s.sleep(wait) {
			s.failShutdown(attrs(attempt, out))
			return
		}
	}
}

func (s *Sender) failShutdown(attrs []slog.Attr) {
	s.deliveries[resultFailed].Inc()
	s.o.Log.LogAttrs(context.Background(), slog.LevelWarn, "rollout webhook failed: shutting down", attrs...)
}

// attempt makes one POST of d.
func (s *Sender) attempt(d *delivery, id string) outcome {
	var sig string
	if env := d.hook.SecretEnv; env != "" {
		key := s.o.Getenv(env)
		if key == "" {
			return outcome{verdict: unsigned}
		}
		sig = Sign([]byte(key), s.o.Now().Unix(), d.payload)
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.hook.URL, bytes.NewReader(d.payload))
	if err != nil {
		return outcome{verdict: fail, err: errors.New("invalid webhook URL")}
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", userAgent)
	h.Set(headerEvent, d.event)
	h.Set(headerDelivery, id)
	if sig != "" {
		h.Set(headerSignature, sig)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return outcome{verdict: retry, err: err}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	_ = resp.Body.Close()
	out := outcome{status: resp.StatusCode}
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		out.verdict = delivered
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500 && c < 600:
		out.verdict = retry
		if c == http.StatusTooManyRequests || c == http.StatusServiceUnavailable {
			out.after, out.hasAfter = s.retryAfter(resp.Header.Get("Retry-After"))
		}
	default:
		out.verdict = fail
	}
	return out
}

// retryAfter parses a Retry-After value, delay-seconds or an HTTP date,
// capped at MaxBackoff.
func (s *Sender) retryAfter(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		d = s.o.MaxBackoff
		if n <= int64(s.o.MaxBackoff/time.Second) { // no overflow
			d = min(time.Duration(n)*time.Second, s.o.MaxBackoff)
		}
	} else if t, err := http.ParseTime(v); err == nil {
		d = min(max(t.Sub(s.o.Now()), 0), s.o.MaxBackoff)
	} else {
		return 0, false
	}
	return d, true
}

// backoff is the delay after the retry-th failed attempt: Backoff doubled
// retry-1 times, ±20% jitter, at most MaxBackoff.
func (s *Sender) backoff(retry int) time.Duration {
	d := s.o.Backoff
	for i := 1; i < retry && d < s.o.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.o.MaxBackoff)
	j := time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	return min(j, s.o.MaxBackoff)
}

// sleep waits d, or returns false as soon as Close gives up.
func (s *Sender) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// redact is the part of a hook URL that may be logged: scheme://host/path,
// without credentials, query or fragment.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}

// describe is a transport error for the log: without the *url.Error's
// copy of the full URL (and any other copy of it replaced by target).
func describe(err error, raw, target string) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	if raw != "" {
		msg = strings.ReplaceAll(msg, raw, target)
	}
	return msg
}
