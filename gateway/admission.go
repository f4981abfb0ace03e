package gateway

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/modelgate/modelgate/internal/keyed"
	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/tenants"
	"github.com/valyala/fasthttp"
)

// modelAdmission is a model route's admission control, resolved at reload
// so the request path does no lookups: the tenant's and the model's
// limiters (nil when unlimited) and their metric handles.
type modelAdmission struct {
	tenant, model         *tenants.Limiter
	tenantWait, modelWait observability.QueueObserver
	rejects               observability.RejectSeries
}

// attachAdmission resolves the limiters of snap's config onto its model
// routes in generation gen, keeping the state of limiters whose limits did
// not change, and takes the queue series of tenants and models with limits
// (the Commit deletes those of tenants and models that lost their limits;
// the rest goes with their Scope when they leave the config).
func (st *state) attachAdmission(gen *keyed.Gen, snap *snapshot) {
	cfg := snap.cfg
	ls := st.limiters.Build(gen, cfg)
	queue := func(tenant, model string, sc *observability.Scope) *observability.Scope {
		return keyed.Get(st.queues, gen, seriesKey{tenant, model, ""}, func() *observability.Scope { return sc })
	}
	for i := range cfg.Tenants {
		t := &cfg.Tenants[i]
		tl := ls.Tenant(i)
		var tenantWait observability.QueueObserver
		if tl != nil {
			tenantWait = queue(t.Name, "", st.scope(gen, t.Name, "")).Queue().Wait
		}
		for j := range t.Models {
			mr := snap.tenants[i].models[t.Models[j].Name]
			ma := modelAdmission{tenant: tl, model: ls.Model(i, j), tenantWait: tenantWait}
			if ma.model != nil {
				ma.modelWait = queue(t.Name, mr.name, mr.scope).Queue().Wait
			}
			if ma.tenant != nil || ma.model != nil {
				ma.rejects = mr.scope.AdmissionRejections()
			}
			mr.admission = ma
		}
	}
}

// admitted is what an admitted request holds; release it once the response
// is complete.
type admitted = tenants.Grant

// admit runs admission control for a REST request to model (check); on
// refusal it writes the 429 with Retry-After and returns false; an
// admitted request must call release.
func admit(ctx *fasthttp.RequestCtx, model *modelRoute, now time.Time) (admitted, bool) {
	g, d := model.admission.check(now)
	switch d.Outcome {
	case tenants.Admitted:
		return g, true
	case tenants.RateLimited:
		refuse(ctx, errRateLimited, d.RetryAfterSeconds())
	default:
		refuse(ctx, errConcurrency, 1)
	}
	return admitted{}, false
}

// check runs the admission control of one request: tokens from the
// tenant's then the model's bucket, then a concurrency slot of the model
// then of the tenant (so a model waiting for its own slots never holds
// tenant slots other models could use). A request refused by the model's
// bucket or slots has still used a tenant token. It counts refusals and
// queue waits in the model's series. An Admitted request holds the Grant
// until it releases it; any other outcome holds nothing. It allocates
// nothing.
func (ma *modelAdmission) check(now time.Time) (tenants.Grant, tenants.Decision) {
	if ma.tenant == nil && ma.model == nil {
		return tenants.Grant{}, tenants.Decision{}
	}
	for _, l := range [2]*tenants.Limiter{ma.tenant, ma.model} {
		if l == nil {
			continue
		}
		if ok, wait := l.TakeToken(now); !ok {
			ma.rejects.RateLimited.Inc()
			return tenants.Grant{}, tenants.Decision{Outcome: tenants.RateLimited, RetryAfter: wait}
		}
	}
	if ma.model != nil {
		d := ma.model.AcquireSlot()
		if d.Queued {
			ma.modelWait.Observe(d.Waited.Seconds())
		}
		if d.Outcome != tenants.Admitted {
			ma.rejects.Concurrency.Inc()
			return tenants.Grant{}, d
		}
	}
	if ma.tenant != nil {
		d := ma.tenant.AcquireSlot()
		if d.Queued {
			ma.tenantWait.Observe(d.Waited.Seconds())
		}
		if d.Outcome != tenants.Admitted {
			if ma.model != nil {
				ma.model.Release()
			}
			ma.rejects.Concurrency.Inc()
			return tenants.Grant{}, d
		}
	}
	return tenants.Grant{Tenant: ma.tenant, Model: ma.model}, tenants.Decision{}
}

// Admit runs the admission control of tenant's model for a request that
// does not come through the REST listener (the gRPC listener,
// grpcproxy.Admitter): the very limiters REST requests to the model take
// (token buckets, max_in_flight slots, FIFO queue, of the tenant and of
// the model), so both protocols share one budget, and the same refusal
// series (modelgate_rejected_requests_total reason rate_limited or
// concurrency) and queue series. It may wait in the queue up to
// max_queue_wait. The limiters are those of the config now serving; a
// tenant or model it does not know (a reload in between) is admitted with
// nothing held. On Admitted the caller must Release the Grant once the
// request is done; on any other outcome it holds nothing, and
// Decision.RetryAfterSeconds is the Retry-After to send (1 for
// concurrency). It allocates nothing.
func (g *Gateway) Admit(tenant, model string, now time.Time) (tenants.Grant, tenants.Decision) {
	tr := g.snap.Load().byName[tenant]
	if tr == nil {
		return tenants.Grant{}, tenants.Decision{}
	}
	mr := tr.models[model]
	if mr == nil {
		return tenants.Grant{}, tenants.Decision{}
	}
	return mr.admission.check(now)
}

// refuse writes e with a Retry-After of retryAfter seconds.
func refuse(ctx *fasthttp.RequestCtx, e *statusError, retryAfter int64) {
	writeError(ctx, e)
	var buf [20]byte
	ctx.Response.Header.SetBytesV(fiber.HeaderRetryAfter, strconv.AppendInt(buf[:0], retryAfter, 10))
}
