package judge

import (
	"testing"
)

// The simulation tests judge many synthetic windows with known truth and
// check the verdicts' error rates against the confidence asked. Each
// logs its rates (go test -v -run Sim) for the record.

const simConfidence = 0.95

// simErrorRate judges windows of n requests a side with true error rates
// pc (canary) and pb (baseline).
func simErrorRate(seed uint64, windows int, n uint64, pc, pb, maxIncrease float64) tally {
	r := newRand(seed)
	var t tally
	for range windows {
		c := Window{Requests: n, Errors: binomial(r, n, pc)}
		b := Window{Requests: n, Errors: binomial(r, n, pb)}
		t.add(ErrorRateIncrease(c, b, maxIncrease, simConfidence).Result)
	}
	return t
}

func TestSimErrorRate(t *testing.T) {
	const alpha = 1 - simConfidence
	tests := []struct {
		desc        string
		windows     int
		n           uint64
		pc, pb, max float64
		maxFail     float64 // at most this share of Fail
		maxPass     float64 // at most this share of Pass
		minFail     float64 // at least this share of Fail
		neverPass   bool
	}{
		// Equal versions, maxIncrease 0: the truth sits on the limit, so
		// Fail is wrong and must stay within the error budget.
		{desc: "equal 1%, max 0", windows: 2000, n: 2000, pc: 0.01, pb: 0.01, max: 0, maxFail: alpha, maxPass: 1},
		{desc: "equal 0.1%, max 0", windows: 2000, n: 2000, pc: 0.001, pb: 0.001, max: 0, maxFail: alpha, maxPass: 1},
		{desc: "equal 5%, max 0", windows: 2000, n: 2000, pc: 0.05, pb: 0.05, max: 0, maxFail: alpha, maxPass: 1},
		// Canary exactly maxIncrease worse: a Pass would be wrong for any
		// truth just above, so it must stay within the budget too.
		{desc: "+1 point, max 1 point", windows: 2000, n: 2000, pc: 0.02, pb: 0.01, max: 0.01, maxFail: 1, maxPass: alpha},
		{desc: "+1 point from 0, max 1 point", windows: 2000, n: 2000, pc: 0.01, pb: 0, max: 0.01, maxFail: 1, maxPass: alpha},
		// Power: 3 points worse against a 1-point limit.
		{desc: "+3 points, max 1 point, n=5000", windows: 1000, n: 5000, pc: 0.04, pb: 0.01, max: 0.01, maxFail: 1, maxPass: 0, minFail: 0.95},
		// Equal and healthy, 1-point limit: should pass.
		{desc: "equal 1%, max 1 point, n=5000", windows: 1000, n: 5000, pc: 0.01, pb: 0.01, max: 0.01, maxFail: 0, maxPass: 1},
		// Too few requests: never Pass, whatever the rates.
		{desc: "20 requests, no errors", windows: 500, n: 20, pc: 0, pb: 0, max: 0.01, maxFail: 0, maxPass: 0, neverPass: true},
		{desc: "20 requests, canary all errors", windows: 500, n: 20, pc: 1, pb: 0, max: 0.01, maxFail: 0, maxPass: 0, neverPass: true},
	}
	for i, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			got := simErrorRate(uint64(100+i), tt.windows, tt.n, tt.pc, tt.pb, tt.max)
			t.Logf("%d windows of n=%d, canary %.3g vs baseline %.3g, max %.3g: %v", tt.windows, tt.n, tt.pc, tt.pb, tt.max, got)
			check(t, got, tt.maxFail, tt.maxPass, tt.minFail)
			if tt.neverPass && got.pass > 0 {
				t.Errorf("passed %d of %d windows with n=%d", got.pass, got.n, tt.n)
			}
		})
	}
}

// check compares a tally's rates with limits; a limit at the error budget
// gets the Monte Carlo slack, 0 and 1 are exact.
func check(t *testing.T, got tally, maxFail, maxPass, minFail float64) {
	t.Helper()
	allow := func(limit float64) float64 {
		if limit <= 0 || limit >= 1 {
			return limit
		}
		return limit + slack(limit, got.n)
	}
	if f := got.rate(got.fail); f > allow(maxFail) {
		t.Errorf("fail rate %.4f, want at most %.4f", f, allow(maxFail))
	}
	if p := got.rate(got.pass); p > allow(maxPass) {
		t.Errorf("pass rate %.4f, want at most %.4f", p, allow(maxPass))
	}
	if f := got.rate(got.fail); f < minFail {
		t.Errorf("fail rate %.4f, want at least %.4f", f, minFail)
	}
}

func TestSimP99Ratio(t *testing.T) {
	const alpha = 1 - simConfidence
	const median, sigma = 0.05, 0.5 // p99 ≈ 0.16 s
	tests := []struct {
		desc             string
		bounds           []float64
		windows, n       int
		slower, max      float64 // canary latencies ×slower
		maxFail, maxPass float64
		minFail, minPass float64
	}{
		{desc: "equal, native buckets", bounds: nativeBounds(), windows: 600, n: 5000, slower: 1, max: 1.5, maxFail: alpha, maxPass: 1, minPass: 0.9},
		{desc: "equal, max 1 (boundary)", bounds: nativeBounds(), windows: 300, n: 5000, slower: 1, max: 1, maxFail: alpha, maxPass: 1},
		{desc: "1.5× slower, max 1.5 (boundary)", bounds: nativeBounds(), windows: 300, n: 5000, slower: 1.5, max: 1.5, maxFail: 1, maxPass: alpha},
		{desc: "2× slower, native buckets", bounds: nativeBounds(), windows: 600, n: 5000, slower: 2, max: 1.5, maxFail: 1, maxPass: 0, minFail: 0.95},
		{desc: "2× slower, ×1.25 buckets", bounds: exponentialBounds(0.001, 1.25, 50), windows: 300, n: 5000, slower: 2, max: 1.5, maxFail: 1, maxPass: 0},
		// Classic LatencyBuckets are too coarse for 1.5: never a wrong
		// verdict, but no right one either.
		{desc: "equal, classic buckets", bounds: classicBounds(), windows: 100, n: 5000, slower: 1, max: 1.5, maxFail: 0, maxPass: 0},
		{desc: "2× slower, classic buckets", bounds: classicBounds(), windows: 100, n: 5000, slower: 2, max: 1.5, maxFail: 1, maxPass: 0},
		// Below 368 observations the p99 has no upper bound: never Pass.
		{desc: "equal, 300 observations", bounds: nativeBounds(), windows: 300, n: 300, slower: 1, max: 1.5, maxFail: alpha, maxPass: 0},
	}
	for i, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			r := newRand(uint64(200 + i))
			base := newLatency(tt.bounds, median, sigma)
			can := newLatency(tt.bounds, median*tt.slower, sigma)
			var got tally
			for range tt.windows {
				got.add(P99Ratio(can.window(r, tt.n), base.window(r, tt.n), tt.max, simConfidence).Result)
			}
			t.Logf("%d windows of n=%d, canary ×%g, max %g: %v", tt.windows, tt.n, tt.slower, tt.max, got)
			check(t, got, tt.maxFail, tt.maxPass, tt.minFail)
			if p := got.rate(got.pass); p < tt.minPass {
				t.Errorf("pass rate %.4f, want at least %.4f", p, tt.minPass)
			}
		})
	}
}

func TestSimAgreement(t *testing.T) {
	const alpha = 1 - simConfidence
	tests := []struct {
		desc             string
		windows          int
		n                uint64
		p, min           float64
		maxFail, maxPass float64
		minFail, minPass float64
	}{
		// The truth on the limit: both verdicts are wrong just beside it.
		{desc: "true 0.99, min 0.99", windows: 2000, n: 2000, p: 0.99, min: 0.99, maxFail: alpha, maxPass: alpha},
		{desc: "true 0.995, min 0.995", windows: 2000, n: 2000, p: 0.995, min: 0.995, maxFail: alpha, maxPass: alpha},
		{desc: "true 0.97, min 0.99", windows: 1000, n: 1000, p: 0.97, min: 0.99, maxFail: 1, maxPass: 0, minFail: 0.95},
		{desc: "true 0.999, min 0.99", windows: 1000, n: 1000, p: 0.999, min: 0.99, maxFail: 0, maxPass: 1, minPass: 0.95},
		{desc: "all agree, 50 compared", windows: 200, n: 50, p: 1, min: 0.9, maxFail: 0, maxPass: 0},
	}
	for i, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			r := newRand(uint64(300 + i))
			var got tally
			for range tt.windows {
				got.add(AgreementAtLeast(GateShadowAgreement, binomial(r, tt.n, tt.p), tt.n, tt.min, simConfidence).Result)
			}
			t.Logf("%d windows of n=%d, true %.4g, min %.4g: %v", tt.windows, tt.n, tt.p, tt.min, got)
			check(t, got, tt.maxFail, tt.maxPass, tt.minFail)
			if p := got.rate(got.pass); p < tt.minPass {
				t.Errorf("pass rate %.4f, want at least %.4f", p, tt.minPass)
			}
		})
	}
}

// TestRepeatedLooks shows why a controller must not judge a growing window
// at confidence on every look: equal versions, a look every 250 requests
// up to 5000, stopping at the first Fail. At confidence per look the
// false-fail rate grows far past 1 − confidence; at LookConfidence(c, 20)
// it stays within it.
func TestRepeatedLooks(t *testing.T) {
	const (
		alpha   = 1 - simConfidence
		runs    = 1000
		step    = 250
		looks   = 20
		errRate = 0.01
	)
	falseFail := func(conf float64, seed uint64) float64 {
		r := newRand(seed)
		failed := 0
		for range runs {
			var c, b Window
			for range looks {
				c.Requests += step
				c.Errors += binomial(r, step, errRate)
				b.Requests += step
				b.Errors += binomial(r, step, errRate)
				if ErrorRateIncrease(c, b, 0, conf).Result == Fail {
					failed++
					break
				}
			}
		}
		return float64(failed) / runs
	}
	naive := falseFail(simConfidence, 400)
	spent := falseFail(LookConfidence(simConfidence, looks), 401)
	t.Logf("%d looks at a growing window, equal 1%% error rates, max 0: false fail %.3f at confidence %g per look, %.3f at LookConfidence = %.4f",
		looks, naive, simConfidence, spent, LookConfidence(simConfidence, looks))
	if naive < 2*alpha {
		t.Errorf("false fail %.3f at confidence per look; expected repeated looks to inflate it well past %.2f", naive, alpha)
	}
	if spent > alpha+slack(alpha, runs) {
		t.Errorf("false fail %.3f with LookConfidence, want at most %.3f", spent, alpha+slack(alpha, runs))
	}
}
