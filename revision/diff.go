package revision

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/modelgate/modelgate/configs"
)

// Diff returns what changed from routing from to routing to, as operators
// read it. Both are routings as loaded (configs.Tenant, defaults applied);
// Diff only reads them.
//
// Tenants, models and versions are matched by name, API keys by hash
// (case-insensitively) and endpoints by URL; the order they are listed in
// does not matter, nor does the order of shadow ignore_fields (a set), and
// a model without limits is the same as one with all-zero (unlimited)
// limits. For validated routings (names, key hashes and endpoints unique,
// no NaN), Diff(a, b) is empty exactly when Canonical(a) and Canonical(b)
// are reflect.DeepEqual; it is nil then.
//
// The order is fixed: tenants by name; within a tenant, its own changes
// first ("tenant added (1 api key)" / "tenant removed", then "limits
// requests_per_second 100 → 200" per field, then API keys), then its models
// by name. Within a model: "model added (versions v1=90 v2=10)" / "model
// removed"; then its settings in the order of configs.Model's fields, by
// their YAML names ("timeout 2s → 5s", "limits max_in_flight 0 → 8",
// "breaker consecutive_failures 5 → 3", "health_check path … → …", "retry
// attempts 1 → 2"); then versions removed and added ("version v3 added
// (weight 0, 1 endpoint)"), weights ("weight v2 10 → 25"),
// container_versions ("container_version v2 (unset) → 2"), endpoints per
// version by URL ("endpoint http://… removed from v1", "endpoint http://…
// added to v3"); then the shadow ("shadow v3 added (percent 10)", "shadow
// version v2 → v3", "shadow v3 percent 10 → 50", "shadow removed"). A
// tenant added or removed also lists each of its models added or removed.
//
// Values print as in the file: durations as Go durations ("250ms"), floats
// in the shortest form that reads back exactly ("0.2", "100"), an empty
// string or an absent optional value as "(unset)", lists as "[a, b]". API
// key hashes are never printed: a key shows as its name, if it has one
// ("api key ci rotated"), or is counted ("api keys 2 → 3", "api key
// rotated").
func Diff(from, to []configs.Tenant) []Change {
	var out []Change
	matchByName(from, to, func(t *configs.Tenant) string { return t.Name },
		func(name string, a, b *configs.Tenant) {
			out = append(out, diffTenant(name, a, b)...)
		})
	return out
}

// diffTenant is Diff for one tenant; a or b is nil when it was added or
// removed.
func diffTenant(name string, a, b *configs.Tenant) []Change {
	var out []Change
	tenant := func(texts ...string) {
		for _, s := range texts {
			out = append(out, Change{Tenant: name, Text: s})
		}
	}
	switch {
	case a == nil:
		tenant(fmt.Sprintf("tenant added (%s)", count(len(b.APIKeys), "api key")))
	case b == nil:
		tenant("tenant removed")
	default:
		tenant(settings("", reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem(), tenantOwn)...)
		tenant(diffKeys(a.APIKeys, b.APIKeys)...)
	}
	var am, bm []configs.Model
	if a != nil {
		am = a.Models
	}
	if b != nil {
		bm = b.Models
	}
	matchByName(am, bm, func(m *configs.Model) string { return m.Name },
		func(model string, x, y *configs.Model) {
			for _, s := range diffModel(x, y) {
				out = append(out, Change{Tenant: name, Model: model, Text: s})
			}
		})
	return out
}

// tenantOwn and modelOwn are the fields Diff compares itself rather than
// through settings, by mapstructure name.
var (
	tenantOwn = map[string]bool{"name": true, "api_keys": true, "models": true}
	modelOwn  = map[string]bool{"name": true, "versions": true, "shadow": true}
	shadowOwn = map[string]bool{"version": true}
	// versionOwn is all of configs.Version today; a setting added to it
	// shows as "version v2 setting a → b".
	versionOwn = map[string]bool{"name": true, "weight": true, "container_version": true, "endpoints": true}
)

// diffModel is Diff for one model; a or b is nil when it was added or
// removed.
func diffModel(a, b *configs.Model) []string {
	switch {
	case a == nil:
		vs := slices.Clone(b.Versions)
		slices.SortFunc(vs, func(x, y configs.Version) int { return cmp.Compare(x.Name, y.Name) })
		weights := make([]string, len(vs))
		for i, v := range vs {
			weights[i] = v.Name + "=" + strconv.Itoa(v.Weight)
		}
		return []string{"model added (versions " + strings.Join(weights, " ") + ")"}
	case b == nil:
		return []string{"model removed"}
	}
	out := settings("", reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem(), modelOwn)
	out = append(out, diffVersions(a.Versions, b.Versions)...)
	return append(out, diffShadow(a.Shadow, b.Shadow)...)
}

// diffVersions lists versions removed and added, then weight, then
// container_version, then any other setting, then endpoint changes, each
// in version-name order.
func diffVersions(a, b []configs.Version) []string {
	type pair struct {
		name string
		a, b *configs.Version
	}
	var both []pair
	var out []string
	matchByName(a, b, func(v *configs.Version) string { return v.Name },
		func(name string, x, y *configs.Version) {
			switch {
			case x == nil:
				s := fmt.Sprintf("version %s added (weight %d, %s", name, y.Weight, count(len(y.Endpoints), "endpoint"))
				if y.ContainerVersion != "" {
					s += ", container_version " + y.ContainerVersion
				}
				out = append(out, s+")")
			case y == nil:
				out = append(out, "version "+name+" removed")
			default:
				both = append(both, pair{name, x, y})
			}
		})
	for _, p := range both {
		if p.a.Weight != p.b.Weight {
			out = append(out, fmt.Sprintf("weight %s %d → %d", p.name, p.a.Weight, p.b.Weight))
		}
	}
	for _, p := range both {
		if p.a.ContainerVersion != p.b.ContainerVersion {
			out = append(out, fmt.Sprintf("container_version %s %s → %s",
				p.name, show(p.a.ContainerVersion), show(p.b.ContainerVersion)))
		}
	}
	for _, p := range both {
		out = append(out, settings("version "+p.name+" ", reflect.ValueOf(p.a).Elem(), reflect.ValueOf(p.b).Elem(), versionOwn)...)
	}
	for _, p := range both {
		removed, added := setDiff(p.a.Endpoints, p.b.Endpoints)
		for _, e := range removed {
			out = append(out, "endpoint "+e+" removed from "+p.name)
		}
		for _, e := range added {
			out = append(out, "endpoint "+e+" added to "+p.name)
		}
	}
	return out
}

// diffShadow compares two models' shadows; nil is no shadow.
func diffShadow(a, b *configs.Shadow) []string {
	switch {
	case a == nil && b == nil:
		return nil
	case a == nil:
		return []string{fmt.Sprintf("shadow %s added (percent %s)", b.Version, format(reflect.ValueOf(b.Percent)))}
	case b == nil:
		return []string{"shadow removed"}
	}
	var out []string
	if a.Version != b.Version {
		out = append(out, "shadow version "+a.Version+" → "+b.Version)
	}
	return append(out, settings("shadow "+b.Version+" ", reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem(), shadowOwn)...)
}

// diffKeys compares two tenants' API keys without showing a hash: a count
// line when the number changed, then per key name (sorted) "rotated" (a
// key of that name replaced by another), "added", "removed" or a rename of
// a kept key, then the unnamed keys rotated, added and removed, counted.
func diffKeys(a, b []configs.APIKey) []string {
	var out []string
	if len(a) != len(b) {
		out = append(out, fmt.Sprintf("api keys %d → %d", len(a), len(b)))
	}
	byHash := func(keys []configs.APIKey) map[string]string {
		m := make(map[string]string, len(keys))
		for _, k := range keys {
			m[strings.ToLower(k.SHA256)] = k.Name
		}
		return m
	}
	ah, bh := byHash(a), byHash(b)
	removed, added := map[string]int{}, map[string]int{} // by key name
	var renamed []string
	for h, n := range ah {
		switch bn, kept := bh[h]; {
		case !kept:
			removed[n]++
		case bn != n:
			renamed = append(renamed, "api key name "+show(n)+" → "+show(bn))
		}
	}
	for h, n := range bh {
		if _, kept := ah[h]; !kept {
			added[n]++
		}
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range removed {
			if n != "" && !yield(n) {
				return
			}
		}
		for n := range added {
			if _, dup := removed[n]; n != "" && !dup && !yield(n) {
				return
			}
		}
	})
	keyLines := func(label string, r, a int) []string {
		var out []string
		rot := min(r, a)
		for _, l := range []struct {
			n    int
			what string
		}{{rot, "rotated"}, {a - rot, "added"}, {r - rot, "removed"}} {
			switch {
			case l.n == 0:
			case label != "" && l.n == 1:
				out = append(out, "api key "+label+" "+l.what)
			case label != "":
				out = append(out, fmt.Sprintf("%d api keys %s %s", l.n, label, l.what))
			case l.n == 1:
				out = append(out, "api key "+l.what)
			default:
				out = append(out, fmt.Sprintf("%d api keys %s", l.n, l.what))
			}
		}
		return out
	}
	for _, n := range names {
		out = append(out, keyLines(n, removed[n], added[n])...)
	}
	slices.Sort(renamed)
	out = append(out, renamed...)
	return append(out, keyLines("", removed[""], added[""])...)
}

// settings returns "prefix name a → b" for every field of the structs a
// and b (of one type) that differs, in field order, naming fields by their
// mapstructure tag and skipping those in own. It enters nested structs and
// pointers to structs (a nil pointer counts as the zero value), prefixing
// their fields with the field's name ("breaker open_for 10s → 30s").
// Lists of strings are compared as sets.
func settings(prefix string, a, b reflect.Value, own map[string]bool) []string {
	var out []string
	for i := range a.NumField() {
		f := a.Type().Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		if !f.IsExported() || name == "" || name == "-" || own[name] {
			continue
		}
		x, y := a.Field(i), b.Field(i)
		t := f.Type
		if t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct {
			x, y, t = orZero(x), orZero(y), t.Elem()
		}
		if t.Kind() == reflect.Struct && t != reflect.TypeFor[time.Duration]() {
			out = append(out, settings(prefix+name+" ", x, y, nil)...)
			continue
		}
		if !sameValue(x, y) {
			out = append(out, prefix+name+" "+format(x)+" → "+format(y))
		}
	}
	return out
}

// orZero is the struct *p points at, or a zero one when p is nil.
func orZero(p reflect.Value) reflect.Value {
	if p.IsNil() {
		return reflect.Zero(p.Type().Elem())
	}
	return p.Elem()
}

// sameValue compares two setting values: scalars by value, pointers by
// what they point at (both nil is the same), lists of strings as sets.
func sameValue(x, y reflect.Value) bool {
	switch x.Kind() {
	case reflect.Pointer:
		if x.IsNil() || y.IsNil() {
			return x.IsNil() == y.IsNil()
		}
		return sameValue(x.Elem(), y.Elem())
	case reflect.Slice:
		r, a := setDiff(stringsOf(x), stringsOf(y))
		return len(r) == 0 && len(a) == 0
	default:
		return x.Equal(y)
	}
}

// format prints a setting value for a diff line.
func format(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return unset
		}
		return format(v.Elem())
	case reflect.Slice:
		s := stringsOf(v)
		slices.Sort(s)
		return "[" + strings.Join(s, ", ") + "]"
	case reflect.String:
		return show(v.String())
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'f', -1, 64)
	}
	if d, ok := v.Interface().(time.Duration); ok {
		return d.String()
	}
	return fmt.Sprint(v.Interface())
}

// stringsOf copies a []string held in v.
func stringsOf(v reflect.Value) []string {
	s := make([]string, v.Len())
	for i := range s {
		s[i] = v.Index(i).String()
	}
	return s
}

// unset prints an empty string or an absent optional value. Names, URLs and
// header names cannot contain parentheses, so it cannot be a value.
const unset = "(unset)"

// show prints a string value.
func show(s string) string {
	if s == "" {
		return unset
	}
	return s
}

// count is "1 endpoint", "2 endpoints".
func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// setDiff returns the sorted strings of a missing from b and of b missing
// from a.
func setDiff(a, b []string) (removed, added []string) {
	in := func(s []string, x string) bool { return slices.Contains(s, x) }
	for _, x := range a {
		if !in(b, x) && !in(removed, x) {
			removed = append(removed, x)
		}
	}
	for _, x := range b {
		if !in(a, x) && !in(added, x) {
			added = append(added, x)
		}
	}
	slices.Sort(removed)
	slices.Sort(added)
	return removed, added
}

// matchByName calls f for every name in a or b, in name order, with the
// element of that name in each (nil when absent). Names are unique in a
// validated routing; with duplicates the last one counts.
func matchByName[T any](a, b []T, name func(*T) string, f func(name string, x, y *T)) {
	index := func(s []T) map[string]*T {
		m := make(map[string]*T, len(s))
		for i := range s {
			m[name(&s[i])] = &s[i]
		}
		return m
	}
	am, bm := index(a), index(b)
	names := make([]string, 0, len(am)+len(bm))
	for n := range am {
		names = append(names, n)
	}
	for n := range bm {
		if _, dup := am[n]; !dup {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		f(n, am[n], bm[n])
	}
}

// Canonical returns a deep copy of routing in canonical form: tenants,
// models and versions sorted by name, API keys by hash (lower-cased),
// endpoints and shadow ignore_fields sorted and without repeats, empty
// lists nil (an empty
// ignore_fields an empty non-nil list, which defaults leave alone) and
// all-zero model limits nil. Two routings route alike exactly when their
// Canonical forms are reflect.DeepEqual, which is exactly when Diff finds
// no change between them. routing is only read.
func Canonical(routing []configs.Tenant) []configs.Tenant {
	out := deepCopy(reflect.ValueOf(routing)).Interface().([]configs.Tenant)
	slices.SortFunc(out, func(a, b configs.Tenant) int { return cmp.Compare(a.Name, b.Name) })
	for i := range out {
		t := &out[i]
		for j := range t.APIKeys {
			t.APIKeys[j].SHA256 = strings.ToLower(t.APIKeys[j].SHA256)
		}
		slices.SortFunc(t.APIKeys, func(a, b configs.APIKey) int { return cmp.Compare(a.SHA256, b.SHA256) })
		t.APIKeys = nilIfEmpty(t.APIKeys)
		slices.SortFunc(t.Models, func(a, b configs.Model) int { return cmp.Compare(a.Name, b.Name) })
		t.Models = nilIfEmpty(t.Models)
		for j := range t.Models {
			m := &t.Models[j]
			if m.Limits != nil && m.Limits.Unlimited() {
				m.Limits = nil
			}
			if sh := m.Shadow; sh != nil {
				slices.Sort(sh.IgnoreFields)
				sh.IgnoreFields = slices.Compact(sh.IgnoreFields)
				if sh.IgnoreFields == nil {
					sh.IgnoreFields = []string{}
				}
			}
			slices.SortFunc(m.Versions, func(a, b configs.Version) int { return cmp.Compare(a.Name, b.Name) })
			m.Versions = nilIfEmpty(m.Versions)
			for k := range m.Versions {
				v := &m.Versions[k]
				slices.Sort(v.Endpoints)
				v.Endpoints = nilIfEmpty(slices.Compact(v.Endpoints))
				slices.Sort(v.GRPCEndpoints)
				v.GRPCEndpoints = nilIfEmpty(slices.Compact(v.GRPCEndpoints))
			}
		}
	}
	return nilIfEmpty(out)
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// deepCopy copies v and everything it points at (the config types hold
// only exported fields, pointers, slices and scalars).
func deepCopy(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		n := reflect.New(v.Type().Elem())
		n.Elem().Set(deepCopy(v.Elem()))
		return n
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		n := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			n.Index(i).Set(deepCopy(v.Index(i)))
		}
		return n
	case reflect.Struct:
		n := reflect.New(v.Type()).Elem()
		n.Set(v)
		for i := range v.NumField() {
			if n.Field(i).CanSet() {
				n.Field(i).Set(deepCopy(v.Field(i)))
			}
		}
		return n
	}
	return v
}
