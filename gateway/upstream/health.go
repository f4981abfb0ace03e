package upstream

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/valyala/fasthttp"
)

// Checker polls one endpoint with GET health_check.path (placeholders
// already replaced) every interval (the first check at once) and marks it
// down after unhealthy_after consecutive failures (a transport error, a
// timeout or an answer judge rejects) and up again after healthy_after
// consecutive successes. The path decides how answers are judged (ProbeOf):
// model-level paths read the answer's body, at most MaxProbeBody bytes;
// server-level ones skip it. An endpoint that is down gets no traffic. Its
// goroutine exits soon after stop (at most one check timeout later); done
// is closed then. Its verdicts count only while it owns the endpoint's
// (Endpoint.setDown): from its start until Configure stops or replaces it.
//
// Each check is sent with Connection: close, so an answer's body (unread,
// or read only in part) never stays on a pooled connection that traffic
// reuses. Logs name the path, the status and a fixed reason, never bytes
// of the answer.
type Checker struct {
	cfg  configs.HealthCheck
	quit chan struct{}
	done chan struct{}
	once sync.Once
}

func startHealthChecker(ep *Endpoint, cfg configs.HealthCheck) *Checker {
	c := &Checker{cfg: cfg, quit: make(chan struct{}), done: make(chan struct{})}
	ep.ownVerdict(c)
	go c.run(ep)
	return c
}

// stop asks the checker to exit; it does not wait (see done).
func (c *Checker) stop() { c.once.Do(func() { close(c.quit) }) }

// Done is closed when the checker's goroutine has returned (some time after
// a reload stopped it: at most one check timeout).
func (c *Checker) Done() <-chan struct{} { return c.done }

// exited reports whether the checker's goroutine has returned.
func (c *Checker) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *Checker) run(ep *Endpoint) {
	defer close(c.done)
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(strings.TrimSuffix(ep.url, "/") + c.cfg.Path)
	req.Header.SetMethod(fasthttp.MethodGet)
	req.Header.Set(HeaderHealthCheck, "1")
	req.SetConnectionClose()
	probe := ProbeOf(c.cfg.Path)
	resp.SkipBody = probe == ProbeServer
	resp.StreamBody = probe != ProbeServer // read by readProbeBody, bounded
	var body bytes.Buffer
	tick := time.NewTicker(c.cfg.Interval)
	defer tick.Stop()
	st := NewHealthState(!ep.down.Load())
	warned := false
	for {
		err := ep.Do(req, resp, time.Now().Add(c.cfg.Timeout))
		tooLarge := false
		if err == nil && probe != ProbeServer {
			tooLarge, err = readProbeBody(resp, &body)
		}
		var v verdict // not ok: no answer, or its body could not be read
		if err == nil {
			v = judge(probe, resp.StatusCode(), body.Bytes(), tooLarge) // body empty for ProbeServer
		}
		if v.missing && !warned {
			warned = true
			ep.log.Warn("endpoint does not serve the health check path; treating answers as healthy "+
				"(set health_check.path to a path it serves, e.g. the default /v2/models/{model}/ready, "+
				"/v1/models/{model} for TF Serving, /ping for TorchServe; or health_check.disabled)",
				"path", c.cfg.Path, "status", resp.StatusCode())
		}
		if st.Observe(v.ok, c.cfg) && ep.setDown(c, !st.up) {
			if st.up {
				ep.log.Info("endpoint healthy again", "path", c.cfg.Path, "probe", probe.String())
			} else if err != nil {
				ep.log.Warn("endpoint unhealthy; no traffic until it recovers", "path", c.cfg.Path,
					"probe", probe.String(), "err", err)
			} else {
				ep.log.Warn("endpoint unhealthy; no traffic until it recovers", "path", c.cfg.Path,
					"probe", probe.String(), "status", resp.StatusCode(), "reason", v.reason)
			}
		}
		select {
		case <-c.quit:
			return
		case <-tick.C:
		}
	}
}

// readProbeBody reads resp's streamed body into buf (reset first), at most
// MaxProbeBody bytes, and closes the stream. tooLarge reports a longer
// answer (declared or read); its error is a fixed cause.
func readProbeBody(resp *fasthttp.Response, buf *bytes.Buffer) (tooLarge bool, err error) {
	defer resp.CloseBodyStream() // its error changes nothing: the check sent Connection: close
	buf.Reset()
	if resp.Header.ContentLength() > MaxProbeBody {
		return true, nil
	}
	r := resp.BodyStream()
	if r == nil { // nothing streamed: the body, if any, is buffered
		r = bytes.NewReader(resp.Body())
	}
	if _, err := buf.ReadFrom(io.LimitReader(r, MaxProbeBody+1)); err != nil {
		return false, causeOf(err)
	}
	return buf.Len() > MaxProbeBody, nil
}

// HealthState is the pure part of a health checker: the verdict and the
// current run of equal results. It is shared with the gRPC proxy's
// checkers (gateway/grpcproxy), so both protocols count unhealthy_after
// and healthy_after alike. The zero value is down; start from
// NewHealthState. Not safe for concurrent use (one checker owns it).
type HealthState struct {
	up          bool
	okRun, fail int
}

// NewHealthState is a verdict of up with no results counted yet.
func NewHealthState(up bool) HealthState { return HealthState{up: up} }

// Up is the current verdict.
func (h *HealthState) Up() bool { return h.up }

// Observe records one check result and reports whether the verdict
// changed: down after cfg.UnhealthyAfter failures in a row, up after
// cfg.HealthyAfter successes in a row (each at least 1).
func (h *HealthState) Observe(ok bool, cfg configs.HealthCheck) bool {
	if ok {
		h.okRun, h.fail = h.okRun+1, 0
		if !h.up && h.okRun >= max(cfg.HealthyAfter, 1) {
			h.up = true
			return true
		}
		return false
	}
	h.okRun, h.fail = 0, h.fail+1
	if h.up && h.fail >= max(cfg.UnhealthyAfter, 1) {
		h.up = false
		return true
	}
	return false
}
