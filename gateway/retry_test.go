package gateway

import (
	"errors"
	"fmt"
	"github.com/modelgate/modelgate/router/retry"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/observability"
	"github.com/valyala/fasthttp"
)

// Pure decisions of the resilience layer, tested without a network.

func TestClassify(t *testing.T) {
	dial := func(err error) error { return fmt.Errorf("wrapped: %w", &net.OpError{Op: "read", Err: err}) }
	tests := []struct {
		desc      string
		err       error
		status    int
		want      outcome
		retry     bool // without on_timeout
		failsBrkr bool
	}{
		{desc: "200", status: 200, want: answered},
		{desc: "model's 400", status: 400, want: answered},
		{desc: "model's 500", status: 500, want: answered, failsBrkr: true},
		{desc: "model's 503", status: 503, want: unavailable, retry: true, failsBrkr: true},
		{desc: "connection refused", err: dial(syscall.ECONNREFUSED), want: connFailed, retry: true, failsBrkr: true},
		{desc: "connection reset", err: dial(syscall.ECONNRESET), want: connFailed, retry: true, failsBrkr: true},
		{desc: "closed before answering", err: fasthttp.ErrConnectionClosed, want: connFailed, retry: true, failsBrkr: true},
		{desc: "EOF", err: io.EOF, want: connFailed, retry: true, failsBrkr: true},
		{desc: "connect timeout", err: fmt.Errorf("dial: %w", fasthttp.ErrDialTimeout), want: connFailed, retry: true, failsBrkr: true},
		{desc: "response timeout", err: fasthttp.ErrTimeout, want: timedOut, failsBrkr: true},
		{desc: "net timeout", err: dial(os.ErrDeadlineExceeded), want: timedOut, failsBrkr: true},
		{desc: "pool exhausted", err: fasthttp.ErrNoFreeConns, want: busy, retry: true},
		{desc: "malformed answer", err: errors.New("error when reading response headers: cannot find whitespace"), want: failed, failsBrkr: true},
		{desc: "answer too large", err: fasthttp.ErrBodyTooLarge, want: tooLarge},
		{desc: "body cut short", err: io.ErrUnexpectedEOF, want: failed, failsBrkr: true},
		{desc: "chunk cut short", err: fasthttp.ErrBrokenChunk{}, want: failed, failsBrkr: true},
		{desc: "101", status: 101, want: failed, failsBrkr: true},
		{desc: "status below 100", status: 42, want: failed, failsBrkr: true},
		{desc: "connection check", err: causeStale, want: connFailed, retry: true, failsBrkr: true},
		{desc: "bare LF, wrapped", err: fmt.Errorf("error when reading response headers: %w", causeMalformed), want: failed, failsBrkr: true},
		{desc: "untrusted certificate", err: causeTLSUntrusted, want: connFailed, retry: true, failsBrkr: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got := classify(tt.err, tt.status)
			if got != tt.want {
				t.Fatalf("classify: got %d, want %d", got, tt.want)
			}
			if r := got.retryable(false); r != tt.retry {
				t.Errorf("retryable: got %v, want %v", r, tt.retry)
			}
			if v := got.verdict(tt.status); (v == errBreakerFailure) != tt.failsBrkr {
				t.Errorf("breaker verdict: got %v, want failure %v", v, tt.failsBrkr)
			}
		})
	}
	if !timedOut.retryable(true) {
		t.Errorf("timeouts: want retryable with on_timeout")
	}
}

// TestCauseOf: an upstream error is logged as a fixed cause, whatever text
// the transport's error holds (fasthttp quotes the answer it could not
// parse).
func TestCauseOf(t *testing.T) {
	const marker = "MARKER-from-the-container"
	tests := []struct {
		err  error
		want *upstreamError
	}{
		{fmt.Errorf("error when reading response headers: %s", marker), causeMalformed},
		{fmt.Errorf("cannot read %q: %w", marker, io.ErrUnexpectedEOF), causeCut},
		{fmt.Errorf("%s: %w", marker, fasthttp.ErrTimeout), causeTimeout},
		{fasthttp.ErrBodyTooLarge, causeTooLarge},
		{fasthttp.ErrNoFreeConns, causePoolBusy},
		{fasthttp.ErrConnectionClosed, causeClosed},
		{&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, causeRefused},
		{&net.OpError{Op: "read", Err: syscall.ECONNRESET}, causeReset},
		{&net.DNSError{Err: "no such host", Name: marker}, causeDNS},
		{fmt.Errorf("dial: %w", fasthttp.ErrDialTimeout), causeConnectTimeout},
		{fmt.Errorf("reading: %w", causeMalformed), causeMalformed},
	}
	for _, tt := range tests {
		got := causeOf(tt.err)
		if got != tt.want || strings.Contains(got.Error(), marker) {
			t.Errorf("causeOf(%v): got %q, want %q", tt.err, got, tt.want)
		}
	}
	if causeOf(nil) != nil {
		t.Error("causeOf(nil): want nil")
	}
}

// TestRetryOnFreshConn: fasthttp resends a request on another connection
// only when it cannot have reached the model.
func TestRetryOnFreshConn(t *testing.T) {
	tests := []struct {
		err      error
		attempts int
		want     bool
	}{
		{causeStale, 1, true}, {causeStale, 4, true},
		{io.EOF, 1, true}, {io.EOF, 2, false},
		{&net.OpError{Op: "write", Err: syscall.EPIPE}, 1, true},
		{&net.OpError{Op: "read", Err: syscall.ECONNRESET}, 1, true},
		{fmt.Errorf("error when reading response headers: %w", causeMalformed), 1, false},
		{errors.New("error when reading response headers: malformed"), 1, false},
		{fasthttp.ErrBodyTooLarge, 1, false},
		{fasthttp.ErrTimeout, 1, false},
	}
	for _, tt := range tests {
		if _, got := retryOnFreshConn(nil, tt.attempts, tt.err); got != tt.want {
			t.Errorf("retryOnFreshConn(attempt %d, %v): got %v, want %v", tt.attempts, tt.err, got, tt.want)
		}
	}
}

func TestUpstreamStatus(t *testing.T) {
	tests := []struct {
		o            outcome
		pastDeadline bool
		want         int
	}{
		{connFailed, false, 502}, {failed, false, 502}, {timedOut, false, 504}, {connFailed, true, 504},
		{busy, false, 503}, {noEndpoint, false, 503}, {noEndpoint, true, 503},
	}
	for _, tt := range tests {
		if got := upstreamStatus(tt.o, tt.pastDeadline).code; got != tt.want {
			t.Errorf("upstreamStatus(%d, %v): got %d, want %d", tt.o, tt.pastDeadline, got, tt.want)
		}
	}
}

func TestHealthState(t *testing.T) {
	cfg := configs.HealthCheck{UnhealthyAfter: 2, HealthyAfter: 3}
	h := healthState{up: true}
	steps := []struct {
		ok            bool
		wantUp, wantC bool
	}{
		{false, true, false}, {true, true, false}, {false, true, false}, {false, false, true},
		{true, false, false}, {true, false, false}, {false, false, false},
		{true, false, false}, {true, false, false}, {true, true, true}, {true, true, false},
	}
	for i, s := range steps {
		changed := h.observe(s.ok, cfg)
		if h.up != s.wantUp || changed != s.wantC {
			t.Fatalf("step %d (ok=%v): got up=%v changed=%v, want up=%v changed=%v", i, s.ok, h.up, changed, s.wantUp, s.wantC)
		}
	}
}

func TestPickEndpointSkipsUnavailable(t *testing.T) {
	reg := newRegistry(slog.New(slog.NewTextHandler(io.Discard, nil)), configs.DefaultMaxAnswerBytes)
	eps := []*endpoint{reg.get("http://127.0.0.1:1"), reg.get("http://127.0.0.1:2"), reg.get("http://127.0.0.1:3"), reg.get("http://127.0.0.1:4")}
	now := time.Now().UnixNano()
	eps[0].down.Store(true)                          // failed health checks
	eps[1].openUntil.Store(now + int64(time.Minute)) // open breaker
	eps[3].openUntil.Store(now - 1)                  // open_for passed: half-open probe allowed
	for range 200 {
		i := pickEndpoint(eps, 0, now)
		if i != 2 && i != 3 {
			t.Fatalf("picked endpoint %d, want 2 or 3 (0 is down, 1 has an open breaker)", i)
		}
		if j := pickEndpoint(eps, 1<<2, now); j != 3 {
			t.Fatalf("with endpoint 2 tried: picked %d, want 3", j)
		}
	}
	if i := pickEndpoint(eps, 1<<2|1<<3, now); i != -1 {
		t.Errorf("all unavailable or tried: picked %d, want -1", i)
	}
	eps[2].inFlight.Store(5)
	if i := pickEndpoint(eps[2:], 0, now); i != 1 {
		t.Errorf("two candidates: picked %d, want the one with fewer in flight", i)
	}
}

// TestPickEndpointUsesAllowedMaximum: each of a version's
// configs.MaxEndpointsPerVersion endpoints can be picked.
func TestPickEndpointUsesAllowedMaximum(t *testing.T) {
	reg := newRegistry(slog.New(slog.DiscardHandler), configs.DefaultMaxAnswerBytes)
	eps := make([]*endpoint, configs.MaxEndpointsPerVersion)
	for i := range eps {
		eps[i] = reg.get(fmt.Sprintf("http://127.0.0.1:%d", 1000+i))
	}
	now := time.Now().UnixNano()
	for i := range eps {
		if got := pickEndpoint(eps, ^uint64(0)&^(1<<i), now); got != i {
			t.Errorf("only endpoint %d untried: picked %d", i, got)
		}
	}
	if got := pickEndpoint(eps, ^uint64(0), now); got != -1 {
		t.Errorf("all %d tried: picked %d, want -1", len(eps), got)
	}
}

func TestBreakerCounting(t *testing.T) {
	var logs syncBuffer
	reg := newRegistry(slog.New(slog.NewTextHandler(&logs, nil)), configs.DefaultMaxAnswerBytes)
	ep := reg.get("http://127.0.0.1:1")
	ep.setBreaker(configs.Breaker{ConsecutiveFailures: 3, FailureRatio: 0.5, MinRequests: 100, OpenFor: 50 * time.Millisecond, Interval: time.Second})
	run := func(verdict error) bool { return ep.guard(func() error { return verdict }) }
	for range 50 {
		run(answered.verdict(404)) // 4xx are successes
		run(busy.verdict(0))       // an exhausted pool is not counted
	}
	run(errBreakerFailure)
	run(errBreakerFailure)
	run(nil) // a success resets the consecutive count
	run(errBreakerFailure)
	run(errBreakerFailure)
	if ep.breakerState() != 0 {
		t.Fatalf("after 2 consecutive failures: state %d, want closed", ep.breakerState())
	}
	run(errBreakerFailure)
	if ep.breakerState() != 2 || ep.available(time.Now().UnixNano()) {
		t.Fatalf("after 3 consecutive failures: state %d, want open and unavailable", ep.breakerState())
	}
	if run(nil) {
		t.Errorf("open breaker admitted a request")
	}
	eventually(t, 5*time.Second, "open_for to pass", func() bool { return ep.available(time.Now().UnixNano()) })
	if ep.breakerState() != 1 {
		t.Errorf("after open_for: state %d, want 1 (half-open)", ep.breakerState())
	}
	if !run(nil) || ep.breakerState() != 0 {
		t.Errorf("half-open probe succeeded: state %d, want closed", ep.breakerState())
	}

	for _, want := range []string{
		`msg="circuit breaker opened" endpoint=http://127.0.0.1:1 from=closed`,
		`msg="circuit breaker state changed" endpoint=http://127.0.0.1:1 from=open to=half-open`,
		`msg="circuit breaker state changed" endpoint=http://127.0.0.1:1 from=half-open to=closed`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %q:\n%s", want, logs.String())
		}
	}

	t.Run("failure ratio", func(t *testing.T) {
		ep.setBreaker(configs.Breaker{ConsecutiveFailures: 1000, FailureRatio: 0.5, MinRequests: 10, OpenFor: time.Minute, Interval: 10 * time.Second})
		for i := range 10 {
			if i%2 == 0 {
				run(nil)
			} else {
				run(errBreakerFailure)
			}
		}
		if ep.breakerState() != 2 {
			t.Errorf("5 failures in 10 requests at ratio 0.5: state %d, want open", ep.breakerState())
		}
	})
	t.Run("disabled", func(t *testing.T) {
		ep.setBreaker(configs.Breaker{Disabled: true})
		for range 10 {
			if !run(errBreakerFailure) {
				t.Fatal("disabled breaker turned a request away")
			}
		}
		if ep.breakerState() != 0 || !ep.available(time.Now().UnixNano()) {
			t.Errorf("disabled breaker: state %d, want closed and available", ep.breakerState())
		}
	})
}

func TestSharedEndpointSettingsAndCarryOver(t *testing.T) {
	const shared = "http://127.0.0.1:1"
	text := func(budget string) string {
		return "tenants:\n" +
			tenantYAML("acme", "fraud", "connect_timeout: 3s\nbreaker: {consecutive_failures: 7}\nhealth_check: {disabled: true}\nretry: {budget: "+budget+"}", "v1:1:"+shared) +
			tenantYAML("globex", "churn", "connect_timeout: 1s\nbreaker: {consecutive_failures: 2}\nhealth_check: {disabled: true}", "v1:1:"+shared)
	}
	parse := func(s string) *configs.Config {
		cfg, err := configs.Parse([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	reg := newRegistry(slog.New(slog.NewTextHandler(io.Discard, nil)), configs.DefaultMaxAnswerBytes)
	m := observability.NewMetrics()
	old, _, _ := buildSnapshot(parse(text("0.2")), reg, m)
	ep := reg.get(shared)
	if got := ep.brk.Load().cfg.ConsecutiveFailures; got != 7 {
		t.Errorf("shared endpoint's breaker: got consecutive_failures %d, want 7 (first model in file order)", got)
	}
	if got := time.Duration(ep.connectTimeout.Load()); got != time.Second {
		t.Errorf("shared endpoint's connect timeout: got %v, want 1s (the smallest)", got)
	}
	budget := old.tenants[0].models["fraud"].res.budget
	same, _, _ := buildSnapshot(parse(text("0.2")), reg, m)
	carryOver(old, same)
	if same.tenants[0].models["fraud"].res.budget != budget {
		t.Errorf("a reload that kept the model and its budget ratio replaced its retry budget")
	}
	changed, _, _ := buildSnapshot(parse(text("0.5")), reg, m)
	carryOver(same, changed)
	if changed.tenants[0].models["fraud"].res.budget == budget {
		t.Errorf("a reload that changed the budget ratio kept the old budget")
	}
	reg.closeAll()
}

// TestRetryBudgetZero: retry.budget 0 means no retries at all (not even
// from the reserve a model starts with), while attempts allows one.
func TestRetryBudgetZero(t *testing.T) {
	crashing, ok := startModel(t, "fraud", "v1"), startModel(t, "fraud", "v1")
	crashing.Server.SetResetConnections(true)
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud", "breaker: {disabled: true}\nretry: {attempts: 1, budget: 0}", "v1:1:"+crashing.URL+","+ok.URL))
	key, _ := testKey("acme")
	served := 0
	// Fewer requests to the crashing replica than the reserve (retry.Reserve
	// retries) a non-zero budget starts with.
	for i := 0; len(crashing.Server.Requests()) < retry.Reserve/2; i++ {
		if i == 200 {
			t.Fatalf("the crashing replica got %d requests in 200, want P2C to pick it about half the time", len(crashing.Server.Requests()))
		}
		before := len(crashing.Server.Requests())
		r := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key)
		switch hitCrashing := len(crashing.Server.Requests()) > before; {
		case hitCrashing && r.code != 502:
			t.Fatalf("request reset by a replica: got %d %s, want 502 (budget 0: no retry on the other replica)", r.code, r.body)
		case !hitCrashing && r.code != 200:
			t.Fatalf("request to the healthy replica: got %d %s, want 200", r.code, r.body)
		case !hitCrashing:
			served++
		}
	}
	if got := len(ok.Server.Requests()); got != served {
		t.Errorf("healthy replica got %d requests, want %d (only its own, no retries)", got, served)
	}
	if got := h.scrape()["modelgate_retries_total|model=fraud|tenant=acme|version=v1"]; got != 0 {
		t.Errorf("modelgate_retries_total: got %v, want 0", got)
	}
}
