// Package judge decides a rollout step's gates from two samples: the
// canary's and the baseline's counts over the same window. It is pure: no
// I/O, no clock, no state; every function is safe for concurrent use. The
// rollout controller that collects windows, waits, advances and rolls back
// lives elsewhere.
//
// Every gate answers with a Verdict — Pass, Fail or Inconclusive (not
// enough evidence yet) — and records the Inputs it used: sample sizes,
// observed values, threshold, confidence, the bounds it computed and the
// method. Thresholds are never compared with raw point estimates: a gate
// passes only when a confidence bound is inside its limit and fails only
// when the opposite bound is outside it, so each wrong verdict has
// probability at most about 1 − confidence per look.
//
//	gate                      method                                     Pass when
//	max_error_rate_increase   Newcombe hybrid score interval (method 10)  upper bound of p_c − p_b ≤ max
//	max_p99_ratio             order-statistic CIs on histogram buckets,   canary upper / baseline lower ≤ max
//	                          Bonferroni over the two versions
//	min_shadow_agreement,     Wilson score interval                       lower bound ≥ min
//	min_top1_agreement
//
// Fail is the mirror image (lower bound of the increase > max; canary lower
// / baseline upper > max; upper bound of the agreement < min). Fewer than
// MinSamples on a side is Inconclusive, and so is no traffic: nothing
// here passes on no evidence (Combine of no verdicts is Inconclusive too).
//
// Numerics are implemented here, not imported: the normal quantile is
// Wichura's AS 241 (normal.go) and the binomial probabilities behind the
// order-statistic ranks are summed exactly from the mode outward
// (binomial.go).
package judge
