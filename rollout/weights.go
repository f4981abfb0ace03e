package rollout

import (
	"maps"
	"reflect"
	"slices"

	"github.com/modelgate/modelgate/configs"
)

// The pure routing side of a rollout: which weights a step sets, and the
// model as the rollout overlays it on the routing the control plane
// commits.

// weightsAt returns the split that gives canary pct percent (0–100) of
// unpinned traffic, the other versions sharing the rest in proportion to
// before (their weights when the rollout started). The other versions'
// relative weights are kept exactly (integers: before's, scaled), so
// sticky users of rendezvous hashing move only between a version and the
// canary: to it while pct rises, back from it when pct returns to 0. pct
// 0 restores before with the canary at 0; 100 gives the canary 100 and
// the others 0. The result is reduced by the weights' common divisor.
func weightsAt(before map[string]int, canary string, pct int) map[string]int {
	out := make(map[string]int, len(before))
	switch {
	case pct <= 0:
		maps.Copy(out, before)
		out[canary] = 0
		return out
	case pct >= 100:
		for v := range before {
			out[v] = 0
		}
		out[canary] = 100
		return out
	}
	g, sum := 0, 0
	for v, w := range before {
		if v != canary {
			g = gcd(g, w)
			sum += w
		}
	}
	if sum == 0 {
		// No other version has traffic: nothing to share with.
		for v := range before {
			out[v] = 0
		}
		out[canary] = 100
		return out
	}
	sum /= g
	for v, w := range before {
		if v != canary {
			out[v] = w / g * (100 - pct)
		}
	}
	out[canary] = pct * sum
	d, total := 0, 0
	for _, w := range out {
		d = gcd(d, w)
		total += w
	}
	// Divide by the largest divisor of d that keeps the total at 100 or
	// more, so the weights read as percents when they can.
	k := d
	for ; k > 1; k-- {
		if d%k == 0 && total/k >= 100 {
			break
		}
	}
	for v := range out {
		out[v] /= k
	}
	return out
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// share is the canary's percent of weights (0 with no weight at all).
func share(weights map[string]int, canary string) float64 {
	total := 0
	for _, w := range weights {
		total += w
	}
	if total == 0 {
		return 0
	}
	return 100 * float64(weights[canary]) / float64(total)
}

// weightsOf maps m's version names to their weights.
func weightsOf(m *configs.Model) map[string]int {
	out := make(map[string]int, len(m.Versions))
	for _, v := range m.Versions {
		out[v.Name] = v.Weight
	}
	return out
}

// defaultBaseline is the version other than canary with the largest
// weight, the first of them on a tie; "" when there is none.
func defaultBaseline(m *configs.Model, canary string) string {
	best, bw := "", -1
	for _, v := range m.Versions {
		if v.Name != canary && v.Weight > bw {
			best, bw = v.Name, v.Weight
		}
	}
	return best
}

// overlaid returns m as the rollout sets it: weights (versions it does
// not name get 0) and its shadow: when shadowing, a shadow of the canary —
// own, the file's shadow settings when they name the canary, else the
// shadow defaults (100% of requests); when not, own (the file's shadow,
// nil for none). It reports whether anything changed; m is never
// modified.
func overlaid(m configs.Model, own *configs.Shadow, weights map[string]int, canary string, shadowing bool) (configs.Model, bool) {
	changed := false
	for _, v := range m.Versions {
		if v.Weight != weights[v.Name] {
			changed = true
			break
		}
	}
	if changed {
		m.Versions = slices.Clone(m.Versions)
		for i := range m.Versions {
			m.Versions[i].Weight = weights[m.Versions[i].Name]
		}
	}
	want := own
	if shadowing && (own == nil || own.Version != canary) {
		sh := configs.DefaultShadow()
		sh.Version = canary
		sh.Timeout = m.Timeout
		want = &sh
	}
	if !sameShadow(m.Shadow, want) {
		m.Shadow = want
		changed = true
	}
	return m, changed
}

// sameShadow reports whether a and b are the same shadow settings.
func sameShadow(a, b *configs.Shadow) bool {
	if a == nil || b == nil {
		return a == b
	}
	return reflect.DeepEqual(*a, *b)
}

// fileShadow is the shadow the file gives tenant/model (nil for none).
func fileShadow(file []configs.Tenant, tenant, model string) *configs.Shadow {
	for _, t := range file {
		if t.Name != tenant {
			continue
		}
		for _, m := range t.Models {
			if m.Name == model {
				return m.Shadow
			}
		}
	}
	return nil
}
