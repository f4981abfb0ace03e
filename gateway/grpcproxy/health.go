package grpcproxy

import (
	"context"
	"sync"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/gateway/upstream"
	"github.com/modelgate/modelgate/oip/inferencepb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// healthPlan is what an address's active health checks ask, from the
// first model (in config order) listing the address, as its breaker
// settings are: the model's health_check interval, timeout and
// thresholds, and the readiness call (probeFor). It is comparable: a
// reload with an equal plan keeps the running checker.
type healthPlan struct {
	cfg configs.HealthCheck
	// server: ServerReady; otherwise ModelReady of model and version.
	server         bool
	model, version string
}

// probeFor is the gRPC readiness call for a version's addresses under a
// model's health_check: the REST path decides, as upstream.ProbeOf reads
// it. A model-level path (OIP /v2/models/{model}[/versions/{version}]/ready
// or a V1 model status) asks ModelReady for the model's name and the
// version's container_version ("" when it has none: the model as a whole),
// the version the proxy forwards the version's calls with; a server-level
// or custom path (/v2/health/ready, /ping) asks ServerReady.
//
// An interval or timeout of 0 (validation lets it through) takes the
// default (5s, 1s).
func probeFor(hc configs.HealthCheck, model, containerVersion string) healthPlan {
	hc.Path = hc.PathFor(model, containerVersion)
	if hc.Interval <= 0 {
		hc.Interval = configs.DefaultHealthInterval
	}
	if hc.Timeout <= 0 {
		hc.Timeout = configs.DefaultHealthTimeout
	}
	if upstream.ProbeOf(hc.Path) == upstream.ProbeServer {
		return healthPlan{cfg: hc, server: true}
	}
	return healthPlan{cfg: hc, model: model, version: containerVersion}
}

// readyVerdict is the pure judgement of one readiness call that ended with
// code c and, on OK, the answer's ready field: healthy only on OK with
// ready true. UNIMPLEMENTED to ServerReady means the container does not
// serve the method; it counts as healthy (missing; the checker warns
// once), as REST counts a server-level path answered 404, 405 or 501.
// Every other code (NOT_FOUND for a model not loaded, UNAVAILABLE,
// DEADLINE_EXCEEDED for the check's timeout, ...) is unhealthy.
func readyVerdict(server bool, c codes.Code, ready bool) (ok, missing bool) {
	switch {
	case c == codes.OK:
		return ready, false
	case server && c == codes.Unimplemented:
		return true, true
	}
	return false, false
}

// checker probes one endpoint with its plan every cfg.Interval (the first
// check at once) and marks it down after unhealthy_after failures in a
// row (upstream.HealthState) and up after healthy_after successes. An
// endpoint that is down gets no calls (pickFrom). Each check carries the
// metadata x-modelgate-health-check: 1 and is bounded by cfg.Timeout; it
// goes over the endpoint's ClientConn, not through its breaker. Its
// verdicts count only while it owns the endpoint's (setDown). stop
// cancels a check in progress; done is closed when the goroutine has
// returned.
type checker struct {
	plan   healthPlan
	cancel context.CancelFunc
	done   chan struct{}
}

// healthMetadata marks the proxy's readiness calls, as REST's checks carry
// the header upstream.HeaderHealthCheck.
var healthMetadata = metadata.Pairs("x-modelgate-health-check", "1")

func startChecker(e *endpoint, plan healthPlan) *checker {
	ctx, cancel := context.WithCancel(metadata.NewOutgoingContext(context.Background(), healthMetadata))
	c := &checker{plan: plan, cancel: cancel, done: make(chan struct{})}
	e.ownVerdict(c)
	go c.run(ctx, e)
	return c
}

func (c *checker) stop() { c.cancel() }

// exited reports whether the checker's goroutine has returned.
func (c *checker) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *checker) run(ctx context.Context, e *endpoint) {
	defer close(c.done)
	method := inferencepb.GRPCInferenceService_ModelReady_FullMethodName
	var req []byte
	if c.plan.server {
		method = inferencepb.GRPCInferenceService_ServerReady_FullMethodName
	} else {
		req, _ = proto.Marshal(&inferencepb.ModelReadyRequest{Name: c.plan.model, Version: c.plan.version})
	}
	cfg := c.plan.cfg
	tick := time.NewTicker(cfg.Interval)
	defer tick.Stop()
	st := upstream.NewHealthState(!e.down.Load())
	warned := false
	for {
		code, ready := c.check(ctx, e, method, req)
		if ctx.Err() != nil {
			return // stopped: the canceled check says nothing of the endpoint
		}
		ok, missing := readyVerdict(c.plan.server, code, ready)
		if missing && !warned {
			warned = true
			e.log.Warn("gRPC endpoint does not implement ServerReady; treating it as healthy " +
				"(set health_check.path to a model-level path such as the default /v2/models/{model}/ready " +
				"to ask ModelReady, or health_check.disabled)")
		}
		if st.Observe(ok, cfg) && e.setDown(c, !st.Up()) {
			if st.Up() {
				e.log.Info("gRPC endpoint healthy again", "probe", c.plan.name())
			} else {
				e.log.Warn("gRPC endpoint unhealthy; no calls until it recovers", "probe", c.plan.name(), "code", code.String())
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// check makes one readiness call within the check timeout and returns its
// code and the answer's ready field.
func (c *checker) check(ctx context.Context, e *endpoint, method string, req []byte) (codes.Code, bool) {
	ctx, cancel := context.WithTimeout(ctx, c.plan.cfg.Timeout)
	defer cancel()
	var out frame
	if err := e.cc.Invoke(ctx, method, &frame{req}, &out); err != nil {
		return status.Code(err), false
	}
	// ModelReadyResponse and ServerReadyResponse both have ready = 1.
	var resp inferencepb.ModelReadyResponse
	if proto.Unmarshal(out.b, &resp) != nil {
		return codes.Internal, false
	}
	return codes.OK, resp.GetReady()
}

// name is the probe as logs name it.
func (h healthPlan) name() string {
	if h.server {
		return "ServerReady"
	}
	return "ModelReady"
}

// health is an endpoint's health-check state: the running checker, which
// alone sets down. Guarded by mu; the picker reads down only.
type health struct {
	mu      sync.Mutex
	checker *checker // the running checker and owner of the verdict; nil: none
}

// setDown records checker c's verdict and reports whether it counted: a
// checker that no longer owns the endpoint's verdict is ignored.
func (e *endpoint) setDown(c *checker, down bool) bool {
	e.health.mu.Lock()
	defer e.health.mu.Unlock()
	if e.health.checker != c {
		return false
	}
	e.down.Store(down)
	return true
}

// ownVerdict gives the endpoint's verdict to c; nil (no checks) makes the
// endpoint up.
func (e *endpoint) ownVerdict(c *checker) {
	e.health.mu.Lock()
	defer e.health.mu.Unlock()
	e.health.checker = c
	if c == nil {
		e.down.Store(false)
	}
}

// setHealth applies plan: checks disabled stop the checker (the endpoint
// is up); an unchanged plan keeps the running checker; a changed one
// replaces it, keeping the last verdict. Stopped checkers go to stopped,
// for Close to wait for. Called by Apply only.
func (e *endpoint) setHealth(plan healthPlan, stopped *[]*checker) {
	e.health.mu.Lock()
	c := e.health.checker
	e.health.mu.Unlock()
	switch {
	case plan.cfg.Disabled:
		if c != nil {
			c.stop()
			*stopped = append(*stopped, c)
		}
		e.ownVerdict(nil)
	case c == nil || c.plan != plan:
		if c != nil {
			c.stop()
			*stopped = append(*stopped, c)
		}
		startChecker(e, plan)
	}
}

// stopHealth stops the endpoint's checker, if any (the endpoint left the
// config, or the proxy closes), adding it to stopped.
func (e *endpoint) stopHealth(stopped *[]*checker) {
	e.health.mu.Lock()
	c := e.health.checker
	e.health.mu.Unlock()
	if c != nil {
		c.stop()
		*stopped = append(*stopped, c)
		e.ownVerdict(nil)
	}
}
