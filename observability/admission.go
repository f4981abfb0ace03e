package observability

// The admission-control series live in a Scope (scope.go):
// modelgate_queued_requests{tenant,model} and
// modelgate_queue_wait_seconds{tenant,model} (LatencyBuckets plus native
// buckets), from Scope.Queue, with model "" for a tenant-wide queue; the
// rate-limit and concurrency rejections of modelgate_rejected_requests_total
// from Scope.Rejection. They are created by the first request that queues
// or is refused.

// RejectSeries are one tenant/model's admission rejection counters.
type RejectSeries struct {
	RateLimited Rejection
	Concurrency Rejection
	// TokenLimited counts OpenAI requests refused by a tokens_per_minute
	// budget.
	TokenLimited Rejection
}

// AdmissionRejections returns the rate-limit and concurrency rejection
// handles of a model's scope.
func (sc *Scope) AdmissionRejections() RejectSeries {
	return RejectSeries{RateLimited: sc.Rejection(ReasonRateLimited), Concurrency: sc.Rejection(ReasonConcurrency),
		TokenLimited: sc.Rejection(ReasonTokenLimited)}
}
