package gateway

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/tenants"
	"github.com/valyala/fasthttp"
)

// admission owns the limiters across reloads, and which admission queues
// have series. It is used only by Apply (under applyMu).
type admission struct {
	limiters *tenants.Admission
	queues   map[[2]string]*observability.Scope // queues in use: tenant, model ("" for the tenant)
}

// modelAdmission is a model route's admission control, resolved at reload
// so the request path does no lookups: the tenant's and the model's
// limiters (nil when unlimited) and their metric handles.
type modelAdmission struct {
	tenant, model         *tenants.Limiter
	tenantWait, modelWait observability.QueueObserver
	rejects               observability.RejectSeries
}

// attachAdmission resolves the limiters of cfg onto snap's model routes,
// keeping the state of limiters whose limits did not change, and deletes the
// queue series of tenants and models that lost their limits (the rest goes
// with their Scope when they leave the config). Called by Apply before the
// snapshot is published.
func (g *Gateway) attachAdmission(cfg *configs.Config, snap *snapshot) {
	a := g.admission
	if a == nil {
		a = &admission{limiters: tenants.NewAdmission()}
		a.limiters.QueueGauge = func(tenant, model string) tenants.Gauge { return g.metrics.Scope(tenant, model).Queue().Queued }
		g.admission = a
	}
	ls := a.limiters.Build(cfg)
	queues := map[[2]string]*observability.Scope{}
	for i := range cfg.Tenants {
		t := &cfg.Tenants[i]
		tl := ls.Tenant(i)
		var tenantWait observability.QueueObserver
		if tl != nil {
			sc := g.metrics.Scope(t.Name, "")
			tenantWait = sc.Queue().Wait
			queues[[2]string{t.Name, ""}] = sc
		}
		for j := range t.Models {
			mr := snap.tenants[i].models[t.Models[j].Name]
			ma := modelAdmission{tenant: tl, model: ls.Model(i, j), tenantWait: tenantWait}
			if ma.model != nil {
				ma.modelWait = mr.scope.Queue().Wait
				queues[[2]string{t.Name, mr.name}] = mr.scope
			}
			if ma.tenant != nil || ma.model != nil {
				ma.rejects = mr.scope.AdmissionRejections()
			}
			mr.admission = ma
		}
	}
	for k, sc := range a.queues {
		if queues[k] != sc {
			sc.ForgetQueue()
		}
	}
	a.queues = queues
}

// admitted is what an admitted request holds; release it once the response
// is complete.
type admitted struct{ tenant, model *tenants.Limiter }

func (a admitted) release() {
	if a.tenant != nil {
		a.tenant.Release()
	}
	if a.model != nil {
		a.model.Release()
	}
}

// admit runs admission control for a request to model: tokens from the
// tenant's then the model's bucket, then a concurrency slot of the model then
// of the tenant (so a model waiting for its own slots never holds tenant
// slots other models could use). A request refused by the model's bucket or
// slots has still used a tenant token. On refusal it writes the 429 with
// Retry-After and returns false; an admitted request must call release.
func admit(ctx *fasthttp.RequestCtx, model *modelRoute, now time.Time) (admitted, bool) {
	ma := &model.admission
	if ma.tenant == nil && ma.model == nil {
		return admitted{}, true
	}
	for _, l := range [2]*tenants.Limiter{ma.tenant, ma.model} {
		if l == nil {
			continue
		}
		if ok, wait := l.TakeToken(now); !ok {
			ma.rejects.RateLimited.Inc()
			refuse(ctx, errRateLimited, tenants.Decision{RetryAfter: wait}.RetryAfterSeconds())
			return admitted{}, false
		}
	}
	if ma.model != nil {
		d := ma.model.AcquireSlot()
		if d.Queued {
			ma.modelWait.Observe(d.Waited.Seconds())
		}
		if d.Outcome != tenants.Admitted {
			ma.rejects.Concurrency.Inc()
			refuse(ctx, errConcurrency, 1)
			return admitted{}, false
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
			refuse(ctx, errConcurrency, 1)
			return admitted{}, false
		}
	}
	return admitted{tenant: ma.tenant, model: ma.model}, true
}

// refuse writes e with a Retry-After of retryAfter seconds.
func refuse(ctx *fasthttp.RequestCtx, e *statusError, retryAfter int64) {
	writeError(ctx, e)
	var buf [20]byte
	ctx.Response.Header.SetBytesV(fiber.HeaderRetryAfter, strconv.AppendInt(buf[:0], retryAfter, 10))
}
