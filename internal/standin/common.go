package standin

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// MaxBodyBytes is the largest request body a stand-in reads; the rest of a
// larger body is not read and the request is answered as malformed.
const MaxBodyBytes = 16 << 20

// Recorder counts requests per URL path and keeps the last request's
// headers. The zero value is ready to use. Every request a stand-in receives
// is counted, health probes included, before it is routed, so unknown paths
// and malformed requests are counted too.
type Recorder struct {
	counts sync.Map // path string → *atomic.Int64
	total  atomic.Int64

	mu       sync.Mutex
	lastHdr  http.Header
	lastPath string
}

func (r *Recorder) observe(req *http.Request) {
	c, ok := r.counts.Load(req.URL.Path)
	if !ok {
		c, _ = r.counts.LoadOrStore(req.URL.Path, new(atomic.Int64))
	}
	c.(*atomic.Int64).Add(1)
	r.total.Add(1)
	h := req.Header.Clone()
	r.mu.Lock()
	r.lastHdr, r.lastPath = h, req.URL.Path
	r.mu.Unlock()
}

// PathCount returns how many requests arrived for the URL path p (decoded,
// without the query), e.g. PathCount("/v2/models/iris/infer").
func (r *Recorder) PathCount(p string) int64 {
	if c, ok := r.counts.Load(p); ok {
		return c.(*atomic.Int64).Load()
	}
	return 0
}

// Total returns how many requests arrived, on any path.
func (r *Recorder) Total() int64 { return r.total.Load() }

// Paths returns a copy of the per-path counts; paths never requested are
// absent.
func (r *Recorder) Paths() map[string]int64 {
	out := map[string]int64{}
	r.counts.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

// LastHeader returns a copy of the last request's headers (nil before the
// first request). With concurrent requests "last" is the last one counted.
func (r *Recorder) LastHeader() http.Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastHdr.Clone()
}

// LastPath returns the last request's URL path ("" before the first).
func (r *Recorder) LastPath() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastPath
}

// ResetCounts forgets the counts, the last headers and the last path.
// Requests in flight meanwhile may or may not be counted.
func (r *Recorder) ResetCounts() {
	r.counts.Range(func(k, _ any) bool { r.counts.Delete(k); return true })
	r.total.Store(0)
	r.mu.Lock()
	r.lastHdr, r.lastPath = nil, ""
	r.mu.Unlock()
}

// Serve runs h on a real listener on 127.0.0.1 with an ephemeral port and
// returns its base URL ("http://127.0.0.1:port", no trailing slash) and a
// stop function. stop closes the listener and every connection, waits for
// running handlers to return, and may be called more than once.
func Serve(h http.Handler) (url string, stop func()) {
	s := httptest.NewServer(h)
	var once sync.Once
	return s.URL, func() { once.Do(s.Close) }
}

// Start is [Serve] for tests: the server is stopped when tb's test ends,
// and stop may be called earlier (to take the server away mid-test).
func Start(tb testing.TB, h http.Handler) (url string, stop func()) {
	tb.Helper()
	url, stop = Serve(h)
	tb.Cleanup(stop)
	return url, stop
}

// Version is one version of a stand-in's model: the name the server knows
// it by (Triton and TF Serving require a positive integer, TorchServe uses
// names like "1.0", MLServer any string) and the classifier it serves.
type Version struct {
	Name       string
	Classifier Classifier
}

// numericVersions validates integer version names (Triton, TF Serving) and
// returns the versions sorted by number.
func numericVersions(server string, vs []Version) []Version {
	out := append([]Version(nil), vs...)
	for _, v := range out {
		if n, err := strconv.ParseInt(v.Name, 10, 64); err != nil || n <= 0 || strconv.FormatInt(n, 10) != v.Name {
			panic(fmt.Sprintf("standin: %s version %q is not a positive integer", server, v.Name))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, _ := strconv.Atoi(out[i].Name)
		b, _ := strconv.Atoi(out[j].Name)
		return a < b
	})
	return out
}

func readBody(r *http.Request) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes))
}

func writeRaw(w http.ResponseWriter, status int, contentType string, b []byte) {
	if contentType != "" {
		w.Header().Set("Content-Type", contentType)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeJSON writes v as compact JSON without a trailing newline (as FastAPI
// and Triton do).
// HTML characters are not escaped (no server escapes "<" as \u003c).
func writeJSON(w http.ResponseWriter, status int, v any) {
	writeRaw(w, status, "application/json", marshal(v))
}

// marshal is json.Marshal without HTML escaping.
func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // stand-in bodies are always encodable
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// newUUID returns a random RFC 4122 version 4 UUID, as KServe and MLServer
// generate for requests without an id.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// oipInput and oipRequest are the Open Inference Protocol REST request.
type oipInput struct {
	Name       string          `json:"name"`
	Shape      []int64         `json:"shape"`
	Datatype   string          `json:"datatype"`
	Parameters map[string]any  `json:"parameters,omitempty"`
	Data       json.RawMessage `json:"data"`
}

type oipRequest struct {
	ID         string         `json:"id,omitempty"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Inputs     []oipInput     `json:"inputs"`
	Outputs    []struct {
		Name string `json:"name"`
	} `json:"outputs,omitempty"`
}

// schemaError: the body is not an OIP request (not JSON, no inputs, a field
// of the wrong type). Servers differ: 422 (FastAPI), 400 (Triton).
type schemaError struct{ msg string }

func (e *schemaError) Error() string { return e.msg }

// shapeError: the first input's shape is not [batch, features] or does not
// match its data.
type shapeError struct {
	shape []int64
	size  int // number of values in data
}

func (e *shapeError) Error() string {
	return fmt.Sprintf("input shape %v does not fit %d values as [batch, features]", e.shape, e.size)
}

// decodeOIP parses an OIP infer request and returns the first input's rows.
// headerLen > 0 means the binary tensor extension: the JSON is the first
// headerLen bytes of body and inputs with parameters.binary_data_size take
// their data, little-endian FP32 or FP64, from the bytes after it in order.
func decodeOIP(body []byte, headerLen int) (oipRequest, [][]float64, error) {
	var req oipRequest
	js, bin := body, []byte(nil)
	if headerLen > 0 {
		if headerLen > len(body) {
			return req, nil, &schemaError{fmt.Sprintf("inference header size %d exceeds body size %d", headerLen, len(body))}
		}
		js, bin = body[:headerLen], body[headerLen:]
	}
	d := json.NewDecoder(bytes.NewReader(js))
	if err := d.Decode(&req); err != nil {
		return req, nil, &schemaError{"malformed inference request: " + err.Error()}
	}
	if req.Inputs == nil {
		return req, nil, &schemaError{"field 'inputs' is required"}
	}
	if len(req.Inputs) == 0 {
		return req, nil, &schemaError{"request has no inputs"}
	}
	in := req.Inputs[0]
	var vals []float64
	if size, ok := in.Parameters["binary_data_size"].(float64); ok {
		width := 4
		if in.Datatype == "FP64" {
			width = 8
		}
		n := int(size)
		if n < 0 || n > len(bin) || n%width != 0 {
			return req, nil, &schemaError{fmt.Sprintf("unexpected binary_data_size %d for input '%s'", n, in.Name)}
		}
		for i := 0; i < n; i += width {
			if width == 4 {
				vals = append(vals, float64(math.Float32frombits(binary.LittleEndian.Uint32(bin[i:]))))
			} else {
				vals = append(vals, math.Float64frombits(binary.LittleEndian.Uint64(bin[i:])))
			}
		}
	} else {
		var data any
		if len(in.Data) == 0 || json.Unmarshal(in.Data, &data) != nil {
			return req, nil, &schemaError{fmt.Sprintf("input '%s' has no valid 'data'", in.Name)}
		}
		var err error
		if vals, err = flatten(data, nil); err != nil {
			return req, nil, &schemaError{fmt.Sprintf("input '%s': %v", in.Name, err)}
		}
	}
	rows, err := toRows(in.Shape, vals)
	return req, rows, err
}

// flatten appends the numbers of a nested JSON array to out, row-major.
func flatten(v any, out []float64) ([]float64, error) {
	switch x := v.(type) {
	case float64:
		return append(out, x), nil
	case []any:
		for _, e := range x {
			var err error
			if out, err = flatten(e, out); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, errors.New("data must be numbers or arrays of numbers")
}

// toRows cuts vals into rows of shape [batch, features].
func toRows(shape []int64, vals []float64) ([][]float64, error) {
	if len(shape) != 2 || shape[0] < 1 || shape[1] < 1 || shape[0]*shape[1] != int64(len(vals)) {
		return nil, &shapeError{shape: shape, size: len(vals)}
	}
	n := int(shape[1])
	rows := make([][]float64, shape[0])
	for i := range rows {
		rows[i] = vals[i*n : (i+1)*n]
	}
	return rows, nil
}

// v1Rows parses a V1 / TF Serving predict body's instances (or inputs) as
// a list of rows. It reports found=false when neither key is present.
func v1Rows(body []byte) (rows [][]float64, found bool, err error) {
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, false, &schemaError{err.Error()}
	}
	raw, ok := req["instances"]
	if in, has := req["inputs"]; has {
		raw, ok = in, true
	}
	if !ok {
		return nil, false, nil
	}
	var inst []json.RawMessage
	if err := json.Unmarshal(raw, &inst); err != nil {
		return nil, true, errors.New("instances must be a list of rows")
	}
	for i, r := range inst {
		var row []float64
		if err := json.Unmarshal(r, &row); err != nil {
			return nil, true, &shapeError{shape: []int64{int64(len(inst))}, size: i}
		}
		rows = append(rows, row)
	}
	return rows, true, nil
}

// splitPath splits a URL path after prefix into its segments; ok is false
// when path does not start with prefix. An empty rest gives no segments.
func splitPath(path, prefix string) (segs []string, ok bool) {
	rest, ok := strings.CutPrefix(path, prefix)
	if !ok {
		return nil, false
	}
	if rest == "" {
		return nil, true
	}
	return strings.Split(rest, "/"), true
}
