package control

import (
	"fmt"
	"slices"
	"sort"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/revision"
)

// The pure routing edits of the Plane's operations. They never modify
// their arguments: routings are shared by the revisions and snapshots
// that hold them, so an edit copies the slices it changes (tenants, the
// tenant's models, the model's versions) and shares the rest.

// withWeights returns routing with tenant/model's version weights set to
// weights, which must name every version of the model and no other, with
// no negative weight and not all zero. Errors are an *InvalidError naming
// the field ("weights.v3") or ErrNotFound for a tenant or model that does
// not exist or that visible hides.
func withWeights(routing []configs.Tenant, visible func(string) bool, tenant, model string, weights map[string]int) ([]configs.Tenant, error) {
	ti := slices.IndexFunc(routing, func(t configs.Tenant) bool { return t.Name == tenant })
	if ti < 0 || !visible(tenant) {
		return nil, fmt.Errorf("tenant %q: %w", tenant, ErrNotFound)
	}
	mi := slices.IndexFunc(routing[ti].Models, func(m configs.Model) bool { return m.Name == model })
	if mi < 0 {
		return nil, fmt.Errorf("model %q of tenant %q: %w", model, tenant, ErrNotFound)
	}
	m := &routing[ti].Models[mi]
	if len(weights) == 0 {
		return nil, &InvalidError{Path: "weights", Msg: "is required: the weight of every version"}
	}
	for _, name := range sortedKeys(weights) {
		if !slices.ContainsFunc(m.Versions, func(v configs.Version) bool { return v.Name == name }) {
			return nil, &InvalidError{Path: "weights." + name, Msg: fmt.Sprintf("names no version of %s/%s", tenant, model)}
		}
		if weights[name] < 0 {
			return nil, &InvalidError{Path: "weights." + name, Msg: "must not be negative"}
		}
	}
	total := 0
	for _, v := range m.Versions {
		w, ok := weights[v.Name]
		if !ok {
			return nil, &InvalidError{Path: "weights." + v.Name, Msg: "is missing: the request sets the complete split, every version named"}
		}
		total += w
	}
	if total == 0 {
		return nil, &InvalidError{Path: "weights", Msg: "at least one version must have a positive weight"}
	}
	out := slices.Clone(routing)
	out[ti].Models = slices.Clone(routing[ti].Models)
	nm := &out[ti].Models[mi]
	nm.Versions = slices.Clone(m.Versions)
	for i := range nm.Versions {
		nm.Versions[i].Weight = weights[nm.Versions[i].Name]
	}
	return out, nil
}

// WithWeights is the edit SetWeights applies, without applying it:
// routing with tenant/model's weights set to weights, validated and
// failing as SetWeights does (an *InvalidError naming the field, or
// ErrNotFound). routing is not modified. The admin API's weights plan
// previews a change with it.
func WithWeights(routing []configs.Tenant, visible func(string) bool, tenant, model string, weights map[string]int) ([]configs.Tenant, error) {
	return withWeights(routing, visible, tenant, model, weights)
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// rolledBack returns the routing of a rollback to old from running: old's
// tenants (all of them, or only those scope names, the others as running
// has them), each tenant that file has keeping file's API keys.
func rolledBack(running, old, file []configs.Tenant, scope []string) ([]configs.Tenant, error) {
	var out []configs.Tenant
	if scope == nil {
		out = slices.Clone(old)
	} else {
		out = slices.Clone(running)
		for _, name := range scope {
			oi := slices.IndexFunc(old, func(t configs.Tenant) bool { return t.Name == name })
			ri := slices.IndexFunc(out, func(t configs.Tenant) bool { return t.Name == name })
			switch {
			case oi < 0 && ri < 0:
			case oi < 0:
				return nil, fmt.Errorf("tenant %q did not exist in that revision: %w", name, ErrNotFound)
			case ri < 0:
				out = append(out, old[oi])
			default:
				out[ri] = old[oi]
			}
		}
	}
	for i := range out {
		if fi := slices.IndexFunc(file, func(t configs.Tenant) bool { return t.Name == out[i].Name }); fi >= 0 {
			out[i].APIKeys = file[fi].APIKeys
		}
	}
	return out, nil
}

// weightSources says for each version of r's routing which source set its
// weight: file when it equals the file's weight for that version, else r's
// source if r changed it, else what before said.
func weightSources(before, r *revision.Revision, file []configs.Tenant) map[string]revision.Source {
	fileW := weightsOf(file)
	var prevW map[string]int
	if before != nil {
		prevW = weightsOf(before.Routing)
	}
	out := map[string]revision.Source{}
	for k, w := range weightsOf(r.Routing) {
		switch fw, inFile := fileW[k]; {
		case inFile && fw == w:
			out[k] = revision.SourceFile
		case before == nil:
			out[k] = r.Source
		default:
			if pw, ok := prevW[k]; ok && pw == w {
				if s, ok := before.WeightSources[k]; ok {
					out[k] = s
					continue
				}
			}
			out[k] = r.Source
		}
	}
	return out
}

// weightsOf maps "tenant/model/version" to each version's weight.
func weightsOf(ts []configs.Tenant) map[string]int {
	out := map[string]int{}
	for _, t := range ts {
		for _, m := range t.Models {
			for _, v := range m.Versions {
				out[t.Name+"/"+m.Name+"/"+v.Name] = v.Weight
			}
		}
	}
	return out
}
