package modelserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// MaxRecorded is the number of most recent requests kept by [Server.Requests].
const MaxRecorded = 1000

// HealthProbeHeader marks a gateway's active health check (modelgate sends
// it on every probe). Probes are counted by [Server.HealthProbes] and not
// recorded, so tests that count requests see only traffic.
const HealthProbeHeader = "X-Modelgate-Health-Check"

// MaxBodyBytes is the largest request body the server reads; larger bodies are
// answered 413.
const MaxBodyBytes = 10 << 20

// Options configures a [Server].
type Options struct {
	// Model is the model served. NewHandler copies it; [Start] requires
	// Model.Validate() to succeed.
	Model Model
	// Delay is added before answering infer/predict requests (fault
	// injection). Zero or negative means no delay. If the client goes away
	// during the delay, nothing is written.
	Delay time.Duration
	// FailStatus, if non-zero, makes infer/predict answer this status with a
	// JSON error body instead of running the model (fault injection). Values
	// outside 400–599 are replaced by 500.
	FailStatus int
	// FlatShapes makes OIP answers report rank-1 output shapes ([B] and
	// [2B] instead of [B,1] and [B,2]) with the same data: the kind of
	// change a port to another runtime introduces (fault injection for
	// shadow comparison).
	FlatShapes bool
	// RawOutput makes gRPC ModelInfer answers carry their tensors in
	// raw_output_contents (little-endian FP64) instead of typed contents,
	// unless the request's RawOutputParameter says otherwise. Default
	// false.
	RawOutput bool
	// GRPC makes [Start] also serve the model over OIP gRPC on a second
	// loopback port ([Running.GRPCAddr]; see [Server.RegisterGRPC]).
	// Default false.
	GRPC bool
}

// Recorded is a copy of one request received by a [Server].
type Recorded struct {
	Method   string
	Path     string // URL path, decoded
	RawQuery string
	Header   http.Header
	Body     []byte // at most MaxBodyBytes
}

// Server is an [http.Handler] serving one [Model] over OIP v2 and KServe V1.
// All methods are safe for concurrent use. The server starts ready.
type Server struct {
	model      Model
	flatShapes bool
	rawOutput  bool

	delay      atomic.Int64 // time.Duration
	failStatus atomic.Int32
	failPerMil atomic.Int64 // SetFailRatio's share, in 1/1,000,000
	failCount  atomic.Int64 // infer/predict requests counted for it
	notReady   atomic.Bool
	probes     atomic.Int64
	canceled   atomic.Int64
	reset      atomic.Bool

	mu   sync.Mutex
	reqs []Recorded
}

// NewHandler returns a Server for opts. It does not validate opts.Model (see
// [Model.Validate]); a model with an empty name simply matches no path.
func NewHandler(opts Options) *Server {
	s := &Server{model: opts.Model, flatShapes: opts.FlatShapes, rawOutput: opts.RawOutput}
	s.model.Weights = slices.Clone(opts.Model.Weights)
	s.SetDelay(opts.Delay)
	s.SetFailStatus(opts.FailStatus)
	return s
}

// Model returns a copy of the served model.
func (s *Server) Model() Model {
	m := s.model
	m.Weights = slices.Clone(m.Weights)
	return m
}

// SetDelay sets the delay added before answering infer/predict requests.
// Zero or negative disables it. It affects requests arriving afterwards.
func (s *Server) SetDelay(d time.Duration) { s.delay.Store(int64(max(d, 0))) }

// SetFailStatus makes infer/predict answer status with a JSON error; 0 (or a
// negative value) disables failure injection, and any other value outside
// 400–599 is replaced by 500.
func (s *Server) SetFailStatus(status int) {
	switch {
	case status <= 0:
		status = 0
	case status < 400 || status > 599:
		status = http.StatusInternalServerError
	}
	s.failStatus.Store(int32(status))
}

// SetFailRatio makes a share ratio (0–1) of infer/predict requests answer
// status with a JSON error, spread evenly and deterministically: of the
// first n requests counted since, exactly ⌊n·ratio⌋ fail (a canary with
// "3% errors"). SetFailStatus, when set, wins. 0 disables it.
func (s *Server) SetFailRatio(status int, ratio float64) {
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	s.failCount.Store(0)
	s.failPerMil.Store(int64(min(max(ratio, 0), 1)*1e6) | int64(status)<<32)
}

// failShare reports whether this request is one SetFailRatio fails, and
// with which status.
func (s *Server) failShare() (int, bool) {
	v := s.failPerMil.Load()
	perMil, status := v&(1<<32-1), int(v>>32)
	if perMil == 0 {
		return 0, false
	}
	n := s.failCount.Add(1)
	return status, n*perMil/1e6 > (n-1)*perMil/1e6
}

// SetResetConnections makes infer/predict requests, once their body is read
// (and recorded), end with the TCP connection reset and no response byte:
// a container crashing mid-request (fault injection). false disables it.
func (s *Server) SetResetConnections(on bool) { s.reset.Store(on) }

// SetReady sets whether the readiness endpoints (/v2/health/ready and
// /v2/models/{name}[/versions/{v}]/ready) answer 200 (true) or 503 (false).
// Readiness does not affect inference; use SetFailStatus for that.
func (s *Server) SetReady(ready bool) { s.notReady.Store(!ready) }

// Canceled returns how many infer/predict requests (HTTP or gRPC) ended
// because their client went away or their deadline passed during an
// injected delay.
func (s *Server) Canceled() int64 { return s.canceled.Load() }

// HealthProbes returns how many requests carrying HealthProbeHeader arrived.
func (s *Server) HealthProbes() int64 { return s.probes.Load() }

// Requests returns copies of the last MaxRecorded requests, oldest first.
// Every request is recorded, including ones answered with an error, except
// gateway health probes (see HealthProbeHeader).
func (s *Server) Requests() []Recorded {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Recorded, len(s.reqs))
	for i, r := range s.reqs {
		r.Header = r.Header.Clone()
		r.Body = slices.Clone(r.Body)
		out[i] = r
	}
	return out
}

// ResetRequests forgets all recorded requests.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	s.reqs = nil
	s.mu.Unlock()
}

// record keeps a copy of one request; path, when given, replaces the
// URL's (gRPC calls have none).
func (s *Server) record(r *http.Request, body []byte, path ...string) {
	rec := Recorded{
		Method: r.Method,
		Header: r.Header.Clone(),
		Body:   body,
	}
	if r.URL != nil {
		rec.Path, rec.RawQuery = r.URL.Path, r.URL.RawQuery
	}
	if len(path) > 0 {
		rec.Path = path[0]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reqs) >= MaxRecorded {
		n := copy(s.reqs, s.reqs[len(s.reqs)-MaxRecorded+1:])
		clear(s.reqs[n:])
		s.reqs = s.reqs[:n]
	}
	s.reqs = append(s.reqs, rec)
}

// ServeHTTP implements [http.Handler]. Every response is JSON and carries the
// X-Model-Version header.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Model-Version", s.model.Version)

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if r.Header.Get(HealthProbeHeader) != "" {
		s.probes.Add(1)
	} else {
		s.record(r, body)
	}
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", MaxBodyBytes))
			return
		}
		writeError(w, http.StatusBadRequest, "cannot read request body")
		return
	}

	rt, status, msg := s.resolve(r.URL.Path)
	if status != 0 {
		writeError(w, status, msg)
		return
	}
	allowed, ok := "GET, HEAD", r.Method == http.MethodGet || r.Method == http.MethodHead
	if rt == routeInfer || rt == routePredict {
		allowed, ok = http.MethodPost, r.Method == http.MethodPost
	}
	if !ok {
		w.Header().Set("Allow", allowed)
		writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed; use %s", r.Method, allowed))
		return
	}

	switch rt {
	case routeLive:
		writeJSON(w, http.StatusOK, map[string]bool{"live": true})
	case routeHealthReady:
		ready := !s.notReady.Load()
		writeJSON(w, readyStatus(ready), map[string]bool{"ready": ready})
	case routeMetadata:
		writeJSON(w, http.StatusOK, s.metadata())
	case routeModelReady:
		ready := !s.notReady.Load()
		writeJSON(w, readyStatus(ready), modelReady{Name: s.model.Name, Ready: ready})
	case routeInfer, routePredict:
		if !s.injectFaults(w, r) {
			return
		}
		if rt == routeInfer {
			s.infer(w, body)
		} else {
			s.predict(w, body)
		}
	}
}

// injectFaults applies the configured delay and failure status. It reports
// whether the request should proceed.
func (s *Server) injectFaults(w http.ResponseWriter, r *http.Request) bool {
	if d := time.Duration(s.delay.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			s.canceled.Add(1)
			return false
		}
	}
	if s.reset.Load() {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				if tc, ok := conn.(*net.TCPConn); ok {
					_ = tc.SetLinger(0) // close sends RST
				}
				conn.Close()
			}
		}
		return false
	}
	if status := int(s.failStatus.Load()); status != 0 {
		writeError(w, status, fmt.Sprintf("injected failure (status %d)", status))
		return false
	}
	if status, fail := s.failShare(); fail {
		writeError(w, status, fmt.Sprintf("injected failure (status %d, a share of requests)", status))
		return false
	}
	return true
}

func readyStatus(ready bool) int {
	if ready {
		return http.StatusOK
	}
	return http.StatusServiceUnavailable
}

// quote returns s quoted, truncated to keep error messages bounded.
func quote(s string) string {
	const maxLen = 128
	if len(s) > maxLen {
		return fmt.Sprintf("%q...", s[:maxLen])
	}
	return fmt.Sprintf("%q", s)
}

type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"cannot encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
