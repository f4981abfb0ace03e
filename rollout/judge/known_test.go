package judge

import (
	"math"
	"math/big"
	"testing"
)

// z95 is Φ⁻¹(0.975), the z of the published two-sided 95% intervals.
const z95 = 1.959963984540054

func TestNormalQuantile(t *testing.T) {
	// Reference values: Φ⁻¹ to 16 digits (Wichura 1988, Table 1 for
	// 10^-k; the others as tabulated in Abramowitz & Stegun 26.2 and
	// reproduced by R's qnorm).
	tests := []struct {
		p, want float64
	}{
		{0.5, 0},
		{0.75, 0.6744897501960817},
		{0.8413447460685429, 1}, // Φ(1)
		{0.9, 1.2815515655446004},
		{0.95, 1.6448536269514722},
		{0.975, 1.959963984540054},
		{0.99, 2.3263478740408408},
		{0.995, 2.5758293035489004},
		{0.999, 3.090232306167813},
		{0.9999, 3.7190164854556804},
		{0.05, -1.6448536269514722},
		{0.25, -0.6744897501960817},
		{1e-10, -6.361340902404056},
		{1e-20, -9.262340089798408},
	}
	for _, tt := range tests {
		if got := normalQuantile(tt.p); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("normalQuantile(%v) = %.16g, want %.16g", tt.p, got, tt.want)
		}
	}
	for _, p := range []float64{0, 1, -0.1, 1.1, math.NaN()} {
		got := normalQuantile(p)
		switch {
		case p == 0 && !math.IsInf(got, -1), p == 1 && !math.IsInf(got, 1):
			t.Errorf("normalQuantile(%v) = %v, want an infinity", p, got)
		case p != 0 && p != 1 && !math.IsNaN(got):
			t.Errorf("normalQuantile(%v) = %v, want NaN", p, got)
		}
	}
}

// TestNormalQuantileRoundTrip checks Φ(Φ⁻¹(p)) = p across all three
// regions of AS 241, Φ from math.Erfc, relative to the smaller tail.
func TestNormalQuantileRoundTrip(t *testing.T) {
	for _, p := range []float64{1e-300, 1e-100, 1e-15, 1e-11, 1e-6, 0.001, 0.0749, 0.075, 0.3, 0.5, 0.7, 0.925, 0.9251, 0.999999} {
		z := normalQuantile(p)
		back := 0.5 * math.Erfc(-z/math.Sqrt2)
		if rel := math.Abs(back-p) / math.Min(p, 1-p); rel > 1e-12 {
			t.Errorf("Φ(normalQuantile(%v)) = %v: relative error %.3g", p, back, rel)
		}
	}
}

func TestWilsonKnownValues(t *testing.T) {
	// Newcombe, "Two-sided confidence intervals for the single
	// proportion" (Stat Med 1998;17:857-872), Table I, method 3 (score
	// interval without continuity correction), 95%, to 4 decimals.
	tests := []struct {
		x, n   uint64
		lo, hi float64
	}{
		{81, 263, 0.2553, 0.3662},
		{15, 148, 0.0624, 0.1605},
		{0, 20, 0, 0.1611},
		{1, 29, 0.0061, 0.1718},
		{0, 10, 0, 0.2775},
		{10, 10, 0.7225, 1},
		{5, 10, 0.2366, 0.7634},
	}
	for _, tt := range tests {
		lo, hi := wilson(tt.x, tt.n, z95)
		if math.Abs(lo-tt.lo) > 5e-5 || math.Abs(hi-tt.hi) > 5e-5 {
			t.Errorf("wilson(%d/%d) = (%.4f, %.4f), want (%.4f, %.4f)", tt.x, tt.n, lo, hi, tt.lo, tt.hi)
		}
	}
	// Exact ends: 0 of n is bounded below by 0, n of n above by 1.
	if lo, _ := wilson(0, 1000000, z95); lo != 0 {
		t.Errorf("wilson(0/1e6) lower = %v, want 0", lo)
	}
	if _, hi := wilson(1000000, 1000000, z95); hi != 1 {
		t.Errorf("wilson(1e6/1e6) upper = %v, want 1", hi)
	}
}

func TestNewcombeKnownValues(t *testing.T) {
	// Newcombe, "Interval estimation for the difference between
	// independent proportions: comparison of eleven methods" (Stat Med
	// 1998;17:873-890), Table II, method 10, 95%, to 4 decimals.
	tests := []struct {
		x1, n1, x2, n2 uint64
		lo, hi         float64
	}{
		{56, 70, 48, 80, 0.0524, 0.3339}, // (a)
		{9, 10, 3, 10, 0.1705, 0.8090},   // (b)
		{5, 56, 0, 29, -0.0381, 0.1926},  // (d)
		{0, 10, 0, 20, -0.1611, 0.2775},  // (e)
		{0, 10, 0, 10, -0.2775, 0.2775},  // (f)
		{10, 10, 0, 20, 0.6791, 1.0000},  // (g)
		{10, 10, 0, 10, 0.6075, 1.0000},  // (h)
	}
	for _, tt := range tests {
		d, lo, hi, _, _ := newcombe(tt.x1, tt.n1, tt.x2, tt.n2, z95)
		if want := float64(tt.x1)/float64(tt.n1) - float64(tt.x2)/float64(tt.n2); d != want {
			t.Errorf("newcombe(%d/%d − %d/%d) difference = %v, want %v", tt.x1, tt.n1, tt.x2, tt.n2, d, want)
		}
		if math.Abs(lo-tt.lo) > 5e-5 || math.Abs(hi-tt.hi) > 5e-5 {
			t.Errorf("newcombe(%d/%d − %d/%d) = (%.4f, %.4f), want (%.4f, %.4f)", tt.x1, tt.n1, tt.x2, tt.n2, lo, hi, tt.lo, tt.hi)
		}
	}
}

// exactRanks computes quantileRanks's definition literally, in integers:
// with q = a/d, the binomial probabilities are C(n,k)·a^k·(d−a)^(n−k) / d^n
// and a tail sum S is within tail = tn/td exactly when S·td ≤ tn·d^n.
func exactRanks(n uint64, q, tail *big.Rat) (lo, hi uint64) {
	a, d := q.Num(), q.Denom()
	b := new(big.Int).Sub(d, a)
	// weights[k] = C(n,k)·a^k·b^(n−k); each follows from the one before by
	// an exact integer division.
	weights := make([]*big.Int, n+1)
	weights[0] = new(big.Int).Exp(b, big.NewInt(int64(n)), nil)
	for k := uint64(0); k < n; k++ {
		w := new(big.Int).Mul(weights[k], big.NewInt(int64(n-k)))
		w.Mul(w, a)
		weights[k+1] = w.Quo(w, new(big.Int).Mul(big.NewInt(int64(k+1)), b))
	}
	limit := new(big.Int).Exp(d, big.NewInt(int64(n)), nil)
	limit.Mul(limit, tail.Num())
	within := func(sum *big.Int) bool { return new(big.Int).Mul(sum, tail.Denom()).Cmp(limit) <= 0 }
	cum := new(big.Int)
	for k := uint64(0); k <= n; k++ {
		if cum.Add(cum, weights[k]); within(cum) {
			lo++
		}
	}
	hi = n + 1
	sur := new(big.Int)
	for j := n; j >= 1; j-- {
		if sur.Add(sur, weights[j]); !within(sur) {
			break
		}
		hi = j
	}
	return lo, hi
}

func TestQuantileRanksExact(t *testing.T) {
	for _, tc := range []struct {
		q, tail string
	}{{"99/100", "1/40"}, {"1/2", "1/40"}, {"9/10", "1/200"}, {"99/100", "1/20"}} {
		q, _ := new(big.Rat).SetString(tc.q)
		tail, _ := new(big.Rat).SetString(tc.tail)
		qf, _ := q.Float64()
		tf, _ := tail.Float64()
		for _, n := range []uint64{1, 2, 5, 10, 37, 100, 250, 366, 367, 368, 400, 500, 1000} {
			wl, wh := exactRanks(n, q, tail)
			gl, gh := quantileRanks(n, qf, tf)
			if gl != wl || gh != wh {
				t.Errorf("quantileRanks(%d, %s, %s) = (%d, %d), want (%d, %d)", n, tc.q, tc.tail, gl, gh, wl, wh)
			}
		}
	}
}

func TestQuantileRanksKnownValues(t *testing.T) {
	tests := []struct {
		desc   string
		n      uint64
		q      float64
		tail   float64
		lo, hi uint64
	}{
		// Conover §3.2, Hahn & Meeker Table A.15: the 95% interval for a
		// median of 100 is (X(40), X(61)).
		{"median of 100", 100, 0.5, 0.025, 40, 61},
		// n = 10 median: (X(2), X(9)), coverage 97.9%.
		{"median of 10", 10, 0.5, 0.025, 2, 9},
		// 0.99^367 = 0.02501 > 0.025 ≥ 0.99^368 = 0.02476: the p99 has
		// an upper order-statistic bound from 368 observations on.
		{"p99 of 367", 367, 0.99, 0.025, 359, 368},
		{"p99 of 368", 368, 0.99, 0.025, 360, 368},
		{"no data", 0, 0.99, 0.025, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			lo, hi := quantileRanks(tt.n, tt.q, tt.tail)
			if lo != tt.lo || hi != tt.hi {
				t.Errorf("quantileRanks(%d, %v, %v) = (%d, %d), want (%d, %d)", tt.n, tt.q, tt.tail, lo, hi, tt.lo, tt.hi)
			}
		})
	}
}

// TestQuantileRanksLarge checks the summation at large n against the
// normal approximation of the binomial, which is close there:
// n·q ± z·√(n·q·(1−q)) within a few ranks.
func TestQuantileRanksLarge(t *testing.T) {
	for _, n := range []uint64{10_000, 1_000_000, 100_000_000} {
		lo, hi := quantileRanks(n, 0.99, 0.025)
		mu, sd := 0.99*float64(n), math.Sqrt(float64(n)*0.99*0.01)
		wantLo, wantHi := mu-z95*sd, mu+z95*sd
		if math.Abs(float64(lo)-wantLo) > 3+0.02*sd || math.Abs(float64(hi)-wantHi) > 3+0.02*sd {
			t.Errorf("quantileRanks(%d, 0.99, 0.025) = (%d, %d), want about (%.0f, %.0f)", n, lo, hi, wantLo, wantHi)
		}
	}
}
