package standin

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// client talks to the stand-ins over loopback; no proxy, bounded time.
var client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}

// step is one request and what must come back. want, if set, is JSON the
// body must equal (after decoding both); contains are substrings the body
// must hold; check, if set, inspects the decoded body.
type step struct {
	name     string
	method   string
	path     string
	body     string
	header   map[string]string
	status   int
	want     string
	contains []string
	check    func(t *testing.T, body []byte)
	before   func() // state change applied before the request
}

func do(t *testing.T, base string, s step) (int, http.Header, []byte) {
	t.Helper()
	method := s.method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if s.body != "" {
		body = strings.NewReader(s.body)
	}
	req, err := http.NewRequest(method, base+s.path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range s.header {
		req.Header.Set(k, v)
	}
	if s.body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// run performs steps in order against base, each as a subtest.
func run(t *testing.T, base string, steps []step) {
	t.Helper()
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.before != nil {
				s.before()
			}
			status, _, body := do(t, base, s)
			if status != s.status {
				t.Fatalf("%s %s: status %d, want %d; body %s", s.method, s.path, status, s.status, body)
			}
			if s.want != "" {
				jsonEqual(t, body, s.want)
			}
			for _, c := range s.contains {
				if !bytes.Contains(body, []byte(c)) {
					t.Errorf("body %s does not contain %q", body, c)
				}
			}
			if s.check != nil {
				s.check(t, body)
			}
		})
	}
}

func jsonEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("body %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %q: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("body %s, want %s", got, want)
	}
}

// field decodes body and returns the value at a path of object keys and
// array indexes, e.g. field(t, b, "outputs", 0, "data").
func field(t *testing.T, body []byte, path ...any) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("body %q is not JSON: %v", body, err)
	}
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%v: not an object in %s", path, body)
			}
			v = m[k]
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				t.Fatalf("%v: no index %d in %s", path, k, body)
			}
			v = a[k]
		}
	}
	return v
}

func equalJSONValue(t *testing.T, got any, want string) {
	t.Helper()
	b, _ := json.Marshal(got)
	jsonEqual(t, b, want)
}

// irisRows is KServe's documented example input; Iris answers [1,1].
const (
	irisV2Body = `{"inputs":[{"name":"input-0","shape":[2,4],"datatype":"FP32","data":[[6.8,2.8,4.8,1.4],[6.0,3.4,4.5,1.6]]}]}`
	irisV1Body = `{"instances":[[6.8,2.8,4.8,1.4],[6.0,3.4,4.5,1.6]]}`
	// badV2Body has 3 features per row.
	badV2Body = `{"inputs":[{"name":"input-0","shape":[1,3],"datatype":"FP32","data":[6.8,2.8,4.8]}]}`
	badV1Body = `{"instances":[[6.8,2.8,4.8]]}`
)

// hammer sends n concurrent GETs of path and waits for all answers.
func hammer(t *testing.T, base, path string, n int, hdr map[string]string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, base+path, nil)
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			resp, err := client.Do(req)
			if err != nil {
				errs <- err
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
