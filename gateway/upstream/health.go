package upstream

import (
	"strings"
	"sync"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/valyala/fasthttp"
)

// Checker polls one endpoint with GET health_check.path every
// interval (the first check at once) and marks it down after
// unhealthy_after consecutive failures (a transport error, a timeout or an
// answer healthyStatus rejects) and up again after healthy_after consecutive successes.
// An endpoint that is down gets no traffic. Its goroutine exits soon after
// stop (at most one check timeout later); done is closed then. Its
// verdicts count only while it owns the endpoint's (endpoint.setDown):
// from its start until configure stops or replaces it.
//
// Each check is sent with Connection: close, so the answer's body (not
// read) never stays on a pooled connection that traffic reuses.
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
	resp.SkipBody = true
	tick := time.NewTicker(c.cfg.Interval)
	defer tick.Stop()
	st := healthState{up: !ep.down.Load()}
	warned := false
	for {
		err := ep.Do(req, resp, time.Now().Add(c.cfg.Timeout))
		ok, missing := err == nil, false
		if ok {
			ok, missing = healthyStatus(resp.StatusCode())
		}
		if missing && !warned {
			warned = true
			ep.log.Warn("endpoint does not serve the health check path; treating answers as healthy "+
				"(set health_check.path, e.g. /v1/models/NAME for TF Serving, or health_check.disabled)",
				"path", c.cfg.Path, "status", resp.StatusCode())
		}
		if st.observe(ok, c.cfg) && ep.setDown(c, !st.up) {
			if st.up {
				ep.log.Info("endpoint healthy again", "path", c.cfg.Path)
			} else {
				ep.log.Warn("endpoint unhealthy; no traffic until it recovers", "path", c.cfg.Path,
					"status", resp.StatusCode(), "err", err)
			}
		}
		select {
		case <-c.quit:
			return
		case <-tick.C:
		}
	}
}

// healthyStatus judges a health check's answer: 2xx is healthy. A container
// that answers 404, 405 or 501 is up but does not serve the health path (a
// TF Serving or custom V1 container has no /v2/health/ready, the default
// path): it counts as healthy, with missing set so the checker can warn once,
// rather than taking every such endpoint out of service. Anything else (5xx,
// 429, other 4xx) is unhealthy; so are transport errors and timeouts.
func healthyStatus(code int) (ok, missing bool) {
	switch {
	case code >= 200 && code < 300:
		return true, false
	case code == fasthttp.StatusNotFound, code == fasthttp.StatusMethodNotAllowed, code == fasthttp.StatusNotImplemented:
		return true, true
	default:
		return false, false
	}
}

// healthState is the pure part of a health checker: the verdict and the
// current run of equal results.
type healthState struct {
	up          bool
	okRun, fail int
}

// observe records one check result and reports whether the verdict
// changed.
func (h *healthState) observe(ok bool, cfg configs.HealthCheck) bool {
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
