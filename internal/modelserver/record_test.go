package modelserver

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func TestRequestsRecording(t *testing.T) {
	rs := start(t, Options{})
	hdr := http.Header{"X-Request-Id": {"req-1"}, "Content-Type": {"application/json"}}
	do(t, "GET", rs.URL+"/v2/health/live", "", nil)
	do(t, "POST", rs.URL+"/v2/models/fraud/infer?trace=1", inferRowA, hdr)
	do(t, "POST", rs.URL+"/v2/models/x/infer", `{`, nil)

	got := rs.Server.Requests()
	if len(got) != 3 {
		t.Fatalf("got %d recorded requests, want 3", len(got))
	}
	tests := []struct {
		desc string
		got  string
		want string
	}{
		{desc: "first path", got: got[0].Path, want: "/v2/health/live"},
		{desc: "method", got: got[1].Method, want: "POST"},
		{desc: "path", got: got[1].Path, want: "/v2/models/fraud/infer"},
		{desc: "raw query", got: got[1].RawQuery, want: "trace=1"},
		{desc: "body", got: string(got[1].Body), want: inferRowA},
		{desc: "header", got: got[1].Header.Get("X-Request-Id"), want: "req-1"},
		{desc: "content type", got: got[1].Header.Get("Content-Type"), want: "application/json"},
		{desc: "failed request recorded", got: string(got[2].Body), want: `{`},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}

	t.Run("copies are independent", func(t *testing.T) {
		got[1].Body[0] = 'X'
		got[1].Header.Set("X-Request-Id", "changed")
		again := rs.Server.Requests()
		if string(again[1].Body) != inferRowA || again[1].Header.Get("X-Request-Id") != "req-1" {
			t.Errorf("got %q / %q after mutating a copy, want originals", again[1].Body, again[1].Header.Get("X-Request-Id"))
		}
	})
	t.Run("reset", func(t *testing.T) {
		rs.Server.ResetRequests()
		if n := len(rs.Server.Requests()); n != 0 {
			t.Errorf("got %d requests after ResetRequests, want 0", n)
		}
	})
}

func TestRequestsKeepsLast(t *testing.T) {
	s := NewHandler(Options{Model: testModel()})
	const n = MaxRecorded + 5
	for i := range n {
		s.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v2/health/live?i="+strconv.Itoa(i), nil))
	}
	got := s.Requests()
	if len(got) != MaxRecorded {
		t.Fatalf("got %d recorded requests, want %d", len(got), MaxRecorded)
	}
	if first, last := got[0].RawQuery, got[len(got)-1].RawQuery; first != "i=5" || last != "i="+strconv.Itoa(n-1) {
		t.Errorf("got oldest %q newest %q, want %q and %q", first, last, "i=5", "i="+strconv.Itoa(n-1))
	}
}

func TestBodyTooLarge(t *testing.T) {
	s := NewHandler(Options{Model: testModel()})
	w := httptest.NewRecorder()
	body := strings.Repeat(" ", MaxBodyBytes+1)
	s.ServeHTTP(w, httptest.NewRequest("POST", "/v2/models/fraud/infer", strings.NewReader(body)))
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("got status %d, want 413", w.Code)
	}
}

func TestHealthProbesNotRecorded(t *testing.T) {
	rs := start(t, Options{})
	do(t, "GET", rs.URL+"/v2/health/ready", "", http.Header{HealthProbeHeader: {"1"}})
	do(t, "GET", rs.URL+"/v2/health/ready", "", nil)
	if got := rs.Server.HealthProbes(); got != 1 {
		t.Errorf("got %d health probes, want 1", got)
	}
	if got := rs.Server.Requests(); len(got) != 1 || got[0].Header.Get(HealthProbeHeader) != "" {
		t.Errorf("got recorded requests %+v, want only the request without %s", got, HealthProbeHeader)
	}
}
