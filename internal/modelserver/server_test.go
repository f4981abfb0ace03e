package modelserver

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// start runs a loopback server for opts (testModel() if opts.Model is zero)
// and closes it when the test ends.
func start(t *testing.T, opts Options) *Running {
	t.Helper()
	if opts.Model.Name == "" {
		opts.Model = testModel()
	}
	rs, err := Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := rs.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return rs
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request and reads the whole response.
func do(t *testing.T, method, url, body string, header http.Header) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatalf("NewRequest: %v", err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// jsonEqual reports whether two JSON documents are equal after decoding.
func jsonEqual(t *testing.T, got []byte, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want JSON: %v", err)
	}
	return reflect.DeepEqual(g, w)
}

const (
	inferRowA = `{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP64","data":[1,2,3,4]}]}`
	metadata  = `{"name":"fraud","versions":["v1"],"platform":"modelgate-logreg",
		"inputs":[{"name":"input","datatype":"FP64","shape":[-1,4]}],
		"outputs":[{"name":"probability","datatype":"FP64","shape":[-1,1]},{"name":"scores","datatype":"FP64","shape":[-1,2]}]}`
)

func TestRouting(t *testing.T) {
	rs := start(t, Options{})
	tests := []struct {
		desc       string
		method     string
		path       string
		body       string
		wantStatus int
		wantBody   string // exact JSON; empty to skip
		wantAllow  string
	}{
		{desc: "liveness", method: "GET", path: "/v2/health/live", wantStatus: 200, wantBody: `{"live":true}`},
		{desc: "readiness", method: "GET", path: "/v2/health/ready", wantStatus: 200, wantBody: `{"ready":true}`},
		{desc: "HEAD liveness", method: "HEAD", path: "/v2/health/live", wantStatus: 200},
		{desc: "metadata", method: "GET", path: "/v2/models/fraud", wantStatus: 200, wantBody: metadata},
		{desc: "versioned metadata", method: "GET", path: "/v2/models/fraud/versions/v1", wantStatus: 200, wantBody: metadata},
		{desc: "model ready", method: "GET", path: "/v2/models/fraud/ready", wantStatus: 200, wantBody: `{"name":"fraud","ready":true}`},
		{desc: "versioned model ready", method: "GET", path: "/v2/models/fraud/versions/v1/ready", wantStatus: 200, wantBody: `{"name":"fraud","ready":true}`},
		{desc: "infer", method: "POST", path: "/v2/models/fraud/infer", body: inferRowA, wantStatus: 200},
		{desc: "versioned infer", method: "POST", path: "/v2/models/fraud/versions/v1/infer", body: inferRowA, wantStatus: 200},
		{desc: "predict", method: "POST", path: "/v1/models/fraud:predict", body: `{"instances":[[1,2,3,4]]}`, wantStatus: 200},
		{desc: "versioned predict", method: "POST", path: "/v1/models/fraud/versions/v1:predict", body: `{"instances":[[1,2,3,4]]}`, wantStatus: 200},

		{desc: "wrong model metadata", method: "GET", path: "/v2/models/x", wantStatus: 404, wantBody: `{"error":"model \"x\" not found"}`},
		{desc: "wrong model ready", method: "GET", path: "/v2/models/x/ready", wantStatus: 404, wantBody: `{"error":"model \"x\" not found"}`},
		{desc: "wrong model infer", method: "POST", path: "/v2/models/x/infer", body: inferRowA, wantStatus: 404, wantBody: `{"error":"model \"x\" not found"}`},
		{desc: "wrong model predict", method: "POST", path: "/v1/models/x:predict", body: `{"instances":[[1,2,3,4]]}`, wantStatus: 404, wantBody: `{"error":"model \"x\" not found"}`},
		{desc: "version mismatch metadata", method: "GET", path: "/v2/models/fraud/versions/v2", wantStatus: 404, wantBody: `{"error":"model \"fraud\" version \"v2\" not found"}`},
		{desc: "version mismatch ready", method: "GET", path: "/v2/models/fraud/versions/v2/ready", wantStatus: 404},
		{desc: "version mismatch infer", method: "POST", path: "/v2/models/fraud/versions/v2/infer", body: inferRowA, wantStatus: 404, wantBody: `{"error":"model \"fraud\" version \"v2\" not found"}`},
		{desc: "version mismatch predict", method: "POST", path: "/v1/models/fraud/versions/v2:predict", body: `{"instances":[[1,2,3,4]]}`, wantStatus: 404, wantBody: `{"error":"model \"fraud\" version \"v2\" not found"}`},
		{desc: "root", method: "GET", path: "/", wantStatus: 404, wantBody: `{"error":"not found"}`},
		{desc: "unknown action", method: "GET", path: "/v2/models/fraud/explain", wantStatus: 404},
		{desc: "empty model name", method: "GET", path: "/v2/models/", wantStatus: 404},
		{desc: "empty version", method: "GET", path: "/v2/models/fraud/versions/", wantStatus: 404},
		{desc: "v1 without action", method: "POST", path: "/v1/models/fraud", wantStatus: 404},
		{desc: "v1 unknown action", method: "POST", path: "/v1/models/fraud:explain", wantStatus: 404},
		{desc: "v1 empty name", method: "POST", path: "/v1/models/:predict", wantStatus: 404},
		{desc: "trailing segments", method: "GET", path: "/v2/models/fraud/versions/v1/infer/x", wantStatus: 404},

		{desc: "GET infer", method: "GET", path: "/v2/models/fraud/infer", wantStatus: 405, wantAllow: "POST"},
		{desc: "GET predict", method: "GET", path: "/v1/models/fraud:predict", wantStatus: 405, wantAllow: "POST"},
		{desc: "POST metadata", method: "POST", path: "/v2/models/fraud", wantStatus: 405, wantAllow: "GET, HEAD"},
		{desc: "DELETE liveness", method: "DELETE", path: "/v2/health/live", wantStatus: 405, wantAllow: "GET, HEAD"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got := do(t, tc.method, rs.URL+tc.path, tc.body, nil)
			if got.status != tc.wantStatus {
				t.Errorf("%s %s: got status %d, want %d (body %s)", tc.method, tc.path, got.status, tc.wantStatus, got.body)
			}
			if v := got.header.Get("X-Model-Version"); v != "v1" {
				t.Errorf("got X-Model-Version %q, want %q", v, "v1")
			}
			if ct := got.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("got Content-Type %q, want application/json", ct)
			}
			if tc.wantBody != "" && !jsonEqual(t, got.body, tc.wantBody) {
				t.Errorf("got body %s, want %s", got.body, tc.wantBody)
			}
			if tc.method != "HEAD" && tc.wantStatus >= 400 {
				var e errorBody
				if err := json.Unmarshal(got.body, &e); err != nil || e.Error == "" {
					t.Errorf("got error body %s, want {\"error\":...}", got.body)
				}
			}
			if a := got.header.Get("Allow"); a != tc.wantAllow {
				t.Errorf("got Allow %q, want %q", a, tc.wantAllow)
			}
		})
	}
}

func TestReadyToggling(t *testing.T) {
	rs := start(t, Options{})
	steps := []struct {
		desc       string
		ready      bool
		wantStatus int
		wantHealth string
		wantModel  string
	}{
		{desc: "not ready", ready: false, wantStatus: 503, wantHealth: `{"ready":false}`, wantModel: `{"name":"fraud","ready":false}`},
		{desc: "ready again", ready: true, wantStatus: 200, wantHealth: `{"ready":true}`, wantModel: `{"name":"fraud","ready":true}`},
	}
	for _, st := range steps {
		t.Run(st.desc, func(t *testing.T) {
			rs.Server.SetReady(st.ready)
			for path, want := range map[string]string{
				"/v2/health/ready":                   st.wantHealth,
				"/v2/models/fraud/ready":             st.wantModel,
				"/v2/models/fraud/versions/v1/ready": st.wantModel,
			} {
				got := do(t, "GET", rs.URL+path, "", nil)
				if got.status != st.wantStatus || !jsonEqual(t, got.body, want) {
					t.Errorf("GET %s: got %d %s, want %d %s", path, got.status, got.body, st.wantStatus, want)
				}
			}
			if got := do(t, "GET", rs.URL+"/v2/health/live", "", nil); got.status != 200 {
				t.Errorf("liveness: got status %d, want 200", got.status)
			}
			if got := do(t, "POST", rs.URL+"/v2/models/fraud/infer", inferRowA, nil); got.status != 200 {
				t.Errorf("infer: got status %d, want 200 (readiness must not affect inference)", got.status)
			}
		})
	}
}

func TestHTTPTestServer(t *testing.T) {
	ts := httptest.NewServer(NewHandler(Options{Model: testModel()}))
	defer ts.Close()
	got := do(t, "GET", ts.URL+"/v2/models/fraud", "", nil)
	if got.status != 200 || !jsonEqual(t, got.body, metadata) {
		t.Errorf("got %d %s, want 200 %s", got.status, got.body, metadata)
	}
}

func TestStart(t *testing.T) {
	t.Run("invalid model", func(t *testing.T) {
		if rs, err := Start(Options{Model: Model{Name: "m", Version: "v1"}}); err == nil {
			rs.Close()
			t.Fatal("got nil error for a model without weights, want error")
		}
	})
	t.Run("loopback URL and idempotent close", func(t *testing.T) {
		rs, err := Start(Options{Model: testModel()})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(rs.URL, "http://127.0.0.1:") {
			t.Errorf("got URL %q, want http://127.0.0.1:<port>", rs.URL)
		}
		if err := rs.Close(); err != nil {
			t.Errorf("first Close: %v", err)
		}
		if err := rs.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if _, err := http.Get(rs.URL + "/v2/health/live"); err == nil {
			t.Error("got a response after Close, want connection error")
		}
	})
}

func TestConcurrentUse(t *testing.T) {
	rs := start(t, Options{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 20 {
				rs.Server.SetReady(j%2 == 0)
				rs.Server.SetDelay(time.Duration(j%2) * time.Millisecond)
				rs.Server.SetFailStatus(0)
				resp, err := http.Post(rs.URL+"/v2/models/fraud/infer", "application/json", strings.NewReader(inferRowA))
				if err != nil {
					t.Errorf("worker %d: %v", i, err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("worker %d: got status %d, want 200", i, resp.StatusCode)
				}
				_ = rs.Server.Requests()
			}
		})
	}
	wg.Wait()
}

func ptr[T any](v T) *T { return &v }
