package tenants

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/modelgate/modelgate/configs"
	"golang.org/x/time/rate"
)

// SharedStore makes the token buckets of global-scope limits (scope:
// global), held outside the process and shared by every replica (package
// redisstate implements it on Redis).
type SharedStore interface {
	// Bucket returns the shared bucket named name (a tenant, or a tenant's
	// model) of rps requests per second and burst.
	Bucket(name string, rps float64, burst int) SharedBucket
}

// SharedBucket is one token bucket shared by every replica.
type SharedBucket interface {
	// Take takes one token. ok false with err nil: the bucket is empty, a
	// token is available after wait. err not nil: the store was not asked
	// (known down) or did not answer in time; the limiter then decides by
	// Unavailable. It must be cheap and not allocate beyond its client's
	// needs: it runs on the request path.
	Take() (ok bool, wait time.Duration, err error)
	// Unavailable returns the configured rule for when Take fails
	// (configs.OnUnavailableLocal, ...Open, ...Closed) and the last replica
	// count the store told (at least 1).
	Unavailable() (rule string, replicas int)
}

// fallbackBucket is the local bucket of a global-scope limiter used while
// its shared store is unavailable under rule local: rate ÷ replicas and
// burst ÷ replicas (rounded up, at least 1), resized when the replica
// count changes.
type fallbackBucket struct {
	rps      float64
	burst    int
	replicas atomic.Int64 // the count bucket is sized for
	bucket   *rate.Limiter
}

func newFallbackBucket(l configs.Limits) *fallbackBucket {
	f := &fallbackBucket{rps: l.RequestsPerSecond, burst: max(l.Burst, 1)}
	f.replicas.Store(1)
	f.bucket = rate.NewLimiter(rate.Limit(f.rps), f.burst)
	return f
}

// take takes a token at now from the bucket sized for replicas.
func (f *fallbackBucket) take(now time.Time, replicas int) (bool, time.Duration) {
	n := int64(max(replicas, 1))
	if f.replicas.Swap(n) != n {
		f.bucket.SetLimitAt(now, rate.Limit(f.rps/float64(n)))
		f.bucket.SetBurstAt(now, max(1, int(math.Ceil(float64(f.burst)/float64(n)))))
	}
	if f.bucket.AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - f.bucket.TokensAt(now)
	return false, time.Duration(missing / float64(f.bucket.Limit()) * float64(time.Second))
}

// takeShared takes a token of a global-scope limiter: from the shared
// bucket, or by the Unavailable rule when the store fails.
func (l *Limiter) takeShared(now time.Time) (bool, time.Duration) {
	ok, wait, err := l.shared.Take()
	if err == nil {
		return ok, wait
	}
	rule, replicas := l.shared.Unavailable()
	switch rule {
	case configs.OnUnavailableOpen:
		return true, 0
	case configs.OnUnavailableClosed:
		return false, time.Second
	}
	return l.fallback.take(now, replicas)
}
