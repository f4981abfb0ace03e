package modelserver

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDelayInjection(t *testing.T) {
	const delay = 150 * time.Millisecond
	tests := []struct {
		desc      string
		opts      Options
		setDelay  *time.Duration
		method    string
		path      string
		body      string
		wantDelay bool
	}{
		{desc: "option delays infer", opts: Options{Delay: delay}, method: "POST", path: "/v2/models/fraud/infer", body: inferRowA, wantDelay: true},
		{desc: "option delays predict", opts: Options{Delay: delay}, method: "POST", path: "/v1/models/fraud:predict", body: `{"instances":[[1,2,3,4]]}`, wantDelay: true},
		{desc: "SetDelay delays infer", setDelay: ptr(delay), method: "POST", path: "/v2/models/fraud/infer", body: inferRowA, wantDelay: true},
		{desc: "SetDelay(0) removes delay", opts: Options{Delay: time.Hour}, setDelay: ptr(time.Duration(0)), method: "POST", path: "/v2/models/fraud/infer", body: inferRowA},
		{desc: "health not delayed", opts: Options{Delay: time.Hour}, method: "GET", path: "/v2/health/ready"},
		{desc: "metadata not delayed", opts: Options{Delay: time.Hour}, method: "GET", path: "/v2/models/fraud"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			rs := start(t, tc.opts)
			if tc.setDelay != nil {
				rs.Server.SetDelay(*tc.setDelay)
			}
			began := time.Now()
			got := do(t, tc.method, rs.URL+tc.path, tc.body, nil)
			elapsed := time.Since(began)
			if got.status != 200 {
				t.Fatalf("got status %d, want 200 (body %s)", got.status, got.body)
			}
			if tc.wantDelay && elapsed < delay {
				t.Errorf("got response after %v, want at least %v", elapsed, delay)
			}
			if !tc.wantDelay && elapsed > 5*time.Second {
				t.Errorf("got response after %v, want no delay", elapsed)
			}
		})
	}
}

func TestDelayClientCancel(t *testing.T) {
	rs := start(t, Options{Delay: time.Hour})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", rs.URL+"/v2/models/fraud/infer", strings.NewReader(inferRowA))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got status %d, want the client to time out during the delay", resp.StatusCode)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got error %v, want context deadline exceeded", err)
	}
	// Close (run by cleanup) must not hang on the delayed handler.
}

func TestFailStatusInjection(t *testing.T) {
	tests := []struct {
		desc       string
		opts       Options
		set        *int
		path       string
		body       string
		wantStatus int
	}{
		{desc: "option fails infer", opts: Options{FailStatus: 503}, path: "/v2/models/fraud/infer", body: inferRowA, wantStatus: 503},
		{desc: "option fails predict", opts: Options{FailStatus: 502}, path: "/v1/models/fraud:predict", body: `{"instances":[[1,2,3,4]]}`, wantStatus: 502},
		{desc: "SetFailStatus", set: ptr(429), path: "/v2/models/fraud/infer", body: inferRowA, wantStatus: 429},
		{desc: "fails even invalid requests", set: ptr(500), path: "/v2/models/fraud/infer", body: `{`, wantStatus: 500},
		{desc: "non-error status becomes 500", set: ptr(200), path: "/v2/models/fraud/infer", body: inferRowA, wantStatus: 500},
		{desc: "out of range status becomes 500", set: ptr(1000), path: "/v2/models/fraud/infer", body: inferRowA, wantStatus: 500},
		{desc: "SetFailStatus(0) disables", opts: Options{FailStatus: 503}, set: ptr(0), path: "/v2/models/fraud/infer", body: inferRowA, wantStatus: 200},
		{desc: "wrong model still 404", opts: Options{FailStatus: 503}, path: "/v2/models/x/infer", body: inferRowA, wantStatus: 404},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			rs := start(t, tc.opts)
			if tc.set != nil {
				rs.Server.SetFailStatus(*tc.set)
			}
			got := do(t, "POST", rs.URL+tc.path, tc.body, nil)
			if got.status != tc.wantStatus {
				t.Fatalf("got status %d, want %d (body %s)", got.status, tc.wantStatus, got.body)
			}
			if tc.wantStatus != 200 && tc.wantStatus != 404 {
				want := `{"error":"injected failure (status ` + strconv.Itoa(tc.wantStatus) + `)"}`
				if !jsonEqual(t, got.body, want) {
					t.Errorf("got body %s, want %s", got.body, want)
				}
			}
			if h := do(t, "GET", rs.URL+"/v2/health/ready", "", nil); h.status != 200 {
				t.Errorf("readiness: got status %d, want 200 (fail status must only affect inference)", h.status)
			}
		})
	}
}

func TestFlatShapes(t *testing.T) {
	tests := []struct {
		desc       string
		flat       bool
		wantShapes string
	}{
		{desc: "default shapes", wantShapes: `"shape":[1,1]|"shape":[1,2]`},
		{desc: "flat shapes", flat: true, wantShapes: `"shape":[1]|"shape":[2]`},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			rs := start(t, Options{FlatShapes: tc.flat})
			got := do(t, "POST", rs.URL+"/v2/models/fraud/infer", inferRowA, nil)
			if got.status != 200 {
				t.Fatalf("got status %d, want 200 (body %s)", got.status, got.body)
			}
			for _, want := range strings.Split(tc.wantShapes, "|") {
				if !strings.Contains(string(got.body), want) {
					t.Errorf("got body %s, want it to contain %s", got.body, want)
				}
			}
		})
	}
}

func TestResetInjection(t *testing.T) {
	rs := start(t, Options{})
	rs.Server.SetResetConnections(true)
	resp, err := http.Post(rs.URL+"/v2/models/fraud/infer", "application/json", strings.NewReader(inferRowA))
	if err == nil {
		resp.Body.Close()
		t.Fatalf("got status %d, want the connection reset without a response", resp.StatusCode)
	}
	if got := rs.Server.Requests(); len(got) != 1 || string(got[0].Body) != inferRowA {
		t.Errorf("got recorded %+v, want the request recorded with its body before the reset", got)
	}
	if h := do(t, "GET", rs.URL+"/v2/health/ready", "", nil); h.status != 200 {
		t.Errorf("readiness: got %d, want 200 (reset only affects inference)", h.status)
	}
	rs.Server.SetResetConnections(false)
	if got := do(t, "POST", rs.URL+"/v2/models/fraud/infer", inferRowA, nil); got.status != 200 {
		t.Errorf("after SetResetConnections(false): got %d, want 200", got.status)
	}
}

func TestFailRatio(t *testing.T) {
	h := NewHandler(Options{Model: Model{Name: "m", Version: "1", Weights: []float64{1}}})
	h.SetFailRatio(503, 0.03)
	failed := 0
	for range 1000 {
		if status, fail := h.failShare(); fail {
			failed++
			if status != 503 {
				t.Fatalf("status %d", status)
			}
		}
	}
	if failed != 30 {
		t.Fatalf("%d of 1000 failed at ratio 0.03, want exactly 30", failed)
	}
	h.SetFailRatio(0, 0)
	if _, fail := h.failShare(); fail {
		t.Fatal("ratio 0 failed a request")
	}
}
