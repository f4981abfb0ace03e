package router

import (
	"cmp"
	"math"
	"slices"

	"github.com/modelgate/modelgate/configs"
)

// StickySwitchShare returns the exact share, 0–1, of sticky keys whose
// version (Split.PickSticky) differs between tenant's model from and model
// to: what a change of the model's weights or versions does to its sticky
// users, computed from the hashing rather than sampled. Versions are matched
// by name; a version absent from one model, or of weight 0 in it, never
// wins there. It returns 0 when from or to is nil or has no versions (a
// model added or removed: there is no switch to count).
//
// PickSticky hashes each (key, version name) to a uniform u_i and picks the
// version of the highest −w_i/ln(u_i). With E_i = −ln(u_i), which are
// independent Exp(1) variables, one per version name and the same for a key
// under both models, the winner is the version of the least E_i/w_i. Version
// i (w_i > 0 and w'_i > 0) wins under both weightings w and w' when every
// other version k has E_k/w_k > E_i/w_i and E_k/w'_k > E_i/w'_i, that is,
// given E_i = x, when E_k > x·c_k with c_k = max(w_k/w_i, w'_k/w'_i), which
// happens with probability exp(−x·c_k). So
//
//	P(i under both) = ∫₀^∞ e^{−x} Π_{k≠i} e^{−x·c_k} dx = 1 / (1 + Σ_{k≠i} c_k)
//
// and the switch share is 1 − Σ_i P(i under both), over the versions of
// positive weight in both. Two details of PickSticky are kept exactly: a
// model of one version sends every key to it without hashing (it counts as
// that version at weight 1, so renaming it switches everyone and reweighting
// it no one), and the model's name is part of the hash, so when from and to
// are named differently the two choices are independent and the share is
// 1 − Σ_i p_i·p'_i, with p_i = w_i/Σw. Weights that are all scaled by one
// factor switch no one (the share is then exactly 0). tenant is the owner
// of both models; it is hashed too, the same under both, so it does not
// change the share.
func StickySwitchShare(tenant string, from, to *configs.Model) float64 {
	w, v := stickyWeights(from), stickyWeights(to)
	if w == nil || v == nil {
		return 0
	}
	if from.Name != to.Name {
		return clamp01(1 - independentSame(w, v))
	}
	if proportional(w, v) {
		return 0
	}
	names := unionNames(w, v)
	same := 0.0
	for _, i := range names {
		if w[i] <= 0 || v[i] <= 0 {
			continue
		}
		d := 1.0
		for _, k := range names {
			if k != i {
				d += max(w[k]/w[i], v[k]/v[i])
			}
		}
		same += 1 / d
	}
	return clamp01(1 - same)
}

// StickyFlow is the share of sticky keys that PickSticky sends to version
// From under one model and to version To under the other.
type StickyFlow struct {
	From  string  `json:"from"`
	To    string  `json:"to"`
	Share float64 `json:"share"`
}

// StickyFlows returns the moves StickySwitchShare adds up: for every pair
// of different versions with keys moving between them, the share of all
// sticky keys that go from version From under model from to version To
// under model to ("7.5% of users move v1 → v2"), sorted by From then To.
// The shares sum to StickySwitchShare (up to rounding). Nil when from or to
// is nil or has no versions.
//
// They are exact too. A key moves from i to j (i ≠ j, w_i > 0, w'_j > 0)
// when i wins under w and j under w'. Given E_i = x and E_j = y = t·x, that
// needs w_j/w_i < t < w'_j/w'_i (no bound where the weight is 0), and every
// other version k must have E_k > max(x·a_k, y·b_k) with a_k = w_k/w_i and
// b_k = w'_k/w'_j. Integrating x out of e^{−x}·e^{−y}·Π_k e^{−max(x·a_k, y·b_k)}
// (with dy = x·dt) leaves
//
//	P(i → j) = ∫ dt / D(t)²,  D(t) = 1 + t + Σ_k max(a_k, t·b_k),
//
// over that range of t. D is linear, α + β·t, between the points a_k/b_k
// where a maximum changes sides, and ∫ dt/(α+βt)² from p to q is
// (q−p)/((α+βp)(α+βq)) (1/(β(α+βp)) for q = ∞), so the integral is a finite
// sum. Raising one version's weight only moves keys to it (the range of t
// is empty for every other pair), as PickSticky promises.
func StickyFlows(tenant string, from, to *configs.Model) []StickyFlow {
	w, v := stickyWeights(from), stickyWeights(to)
	if w == nil || v == nil {
		return nil
	}
	names := unionNames(w, v)
	var out []StickyFlow
	for _, i := range names {
		for _, j := range names {
			if i == j {
				continue
			}
			var share float64
			switch {
			case from.Name != to.Name:
				share = w[i] / sum(w) * v[j] / sum(v)
			case proportional(w, v):
			default:
				share = flow(names, w, v, i, j)
			}
			if share > 0 {
				out = append(out, StickyFlow{From: i, To: j, Share: share})
			}
		}
	}
	return out
}

// flow is P(i → j) of StickyFlows for models of one name.
func flow(names []string, w, v map[string]float64, i, j string) float64 {
	if w[i] <= 0 || v[j] <= 0 {
		return 0
	}
	lo, hi := w[j]/w[i], math.Inf(1)
	if v[i] > 0 {
		hi = v[j] / v[i]
	}
	if lo >= hi {
		return 0
	}
	type other struct{ a, b float64 }
	var others []other
	cuts := []float64{lo, hi}
	for _, k := range names {
		if k == i || k == j {
			continue
		}
		o := other{w[k] / w[i], v[k] / v[j]}
		others = append(others, o)
		if o.b > 0 {
			if c := o.a / o.b; c > lo && c < hi {
				cuts = append(cuts, c)
			}
		}
	}
	slices.Sort(cuts)
	total := 0.0
	for n := 0; n+1 < len(cuts); n++ {
		p, q := cuts[n], cuts[n+1]
		if q <= p {
			continue
		}
		mid := p + 1
		if !math.IsInf(q, 1) {
			mid = (p + q) / 2
		}
		alpha, beta := 1.0, 1.0 // D(t) = alpha + beta·t on (p, q)
		for _, o := range others {
			if o.a >= mid*o.b {
				alpha += o.a
			} else {
				beta += o.b
			}
		}
		dp := alpha + beta*p
		if math.IsInf(q, 1) {
			total += 1 / (beta * dp)
		} else {
			total += (q - p) / (dp * (alpha + beta*q))
		}
	}
	return total
}

// stickyWeights is the weight each version name has in PickSticky: the
// positive weights, or, for a model of one version (never hashed) or with no
// positive weight (PickSticky then answers its first version), weight 1 for
// the version every key gets. A name listed twice (which validation
// refuses) hashes alike both times, so the larger weight counts. Nil for a
// nil model or one without versions.
func stickyWeights(m *configs.Model) map[string]float64 {
	if m == nil || len(m.Versions) == 0 {
		return nil
	}
	w := map[string]float64{}
	for _, ver := range m.Versions {
		if ver.Weight > 0 && len(m.Versions) > 1 {
			w[ver.Name] = max(w[ver.Name], float64(ver.Weight))
		}
	}
	if len(w) == 0 {
		w[m.Versions[0].Name] = 1
	}
	return w
}

// proportional reports whether v is w scaled by one factor (same names):
// PickSticky then picks the same version for every key.
func proportional(w, v map[string]float64) bool {
	if len(w) != len(v) {
		return false
	}
	sw, sv := sum(w), sum(v)
	for k, x := range w {
		if y, ok := v[k]; !ok || x*sv != y*sw {
			return false
		}
	}
	return true
}

// independentSame is P(same version) when the two picks are independent.
func independentSame(w, v map[string]float64) float64 {
	sw, sv := sum(w), sum(v)
	same := 0.0
	for _, k := range unionNames(w, nil) {
		same += w[k] / sw * v[k] / sv
	}
	return same
}

// sum adds w's weights in name order (reproducible to the last bit).
func sum(w map[string]float64) float64 {
	s := 0.0
	for _, k := range unionNames(w, nil) {
		s += w[k]
	}
	return s
}

// unionNames is the sorted names of w and v (a fixed order keeps the sums
// reproducible).
func unionNames(w, v map[string]float64) []string {
	names := make([]string, 0, len(w)+len(v))
	for k := range w {
		names = append(names, k)
	}
	for k := range v {
		if _, dup := w[k]; !dup {
			names = append(names, k)
		}
	}
	slices.SortFunc(names, cmp.Compare[string])
	return names
}

func clamp01(x float64) float64 { return min(1, max(0, x)) }
