package revision

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/configs"
)

var (
	hashA = strings.Repeat("a", 64)
	hashB = strings.Repeat("b", 64)
	hashC = strings.Repeat("c", 64)
	hashD = strings.Repeat("d", 64)
	hashE = strings.Repeat("e", 64)
)

// baseYAML sets every section Diff compares: named and unnamed keys, tenant
// and model limits, a shadow, container versions, several endpoints.
var baseYAML = `
tenants:
  - name: acme
    api_keys:
      - {sha256: "` + hashA + `", name: ci}
      - {sha256: "` + hashB + `"}
    limits: {requests_per_second: 100, max_in_flight: 32}
    models:
      - name: fraud
        timeout: 2s
        sticky_header: X-User-ID
        fallback: v1
        shadow: {version: v3, percent: 10, tolerance: 0.001}
        versions:
          - {name: v1, weight: 90, endpoints: ["http://10.0.0.5:8000", "http://10.0.0.6:8000"]}
          - {name: v2, weight: 10, container_version: "2", endpoints: ["http://10.0.0.7:8000"]}
          - {name: v3, weight: 0, endpoints: ["http://10.0.0.8:8000"]}
      - name: churn
        limits: {requests_per_second: 50}
        versions:
          - {name: v1, weight: 1, endpoints: ["http://10.0.1.1:8000"]}
  - name: globex
    api_keys: [{sha256: "` + hashC + `"}]
    models:
      - name: churn
        versions:
          - {name: v1, weight: 1, endpoints: ["http://10.0.2.1:8000"]}
`

func parse(t *testing.T, yaml string) []configs.Tenant {
	t.Helper()
	cfg, err := configs.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("parsing config: %v", err)
	}
	return cfg.Tenants
}

// find returns the named tenant, and the named model of it when model is set.
func find(r []configs.Tenant, tenant, model string) (*configs.Tenant, *configs.Model) {
	for i := range r {
		if r[i].Name != tenant {
			continue
		}
		for j := range r[i].Models {
			if r[i].Models[j].Name == model {
				return &r[i], &r[i].Models[j]
			}
		}
		return &r[i], nil
	}
	return nil, nil
}

func version(m *configs.Model, name string) *configs.Version {
	for i := range m.Versions {
		if m.Versions[i].Name == name {
			return &m.Versions[i]
		}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

func lines(cs []Change) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.String()
	}
	return out
}

func TestDiff(t *testing.T) {
	base := parse(t, baseYAML)
	fraud := func(edit func(m *configs.Model)) func([]configs.Tenant) {
		return func(r []configs.Tenant) { _, m := find(r, "acme", "fraud"); edit(m) }
	}
	acme := func(edit func(t *configs.Tenant)) func([]configs.Tenant) {
		return func(r []configs.Tenant) { t, _ := find(r, "acme", ""); edit(t) }
	}
	tests := []struct {
		desc string
		edit func(r []configs.Tenant)
		want []string
	}{
		{desc: "identical", edit: func([]configs.Tenant) {}},
		{
			desc: "only the order of lists and the case of hashes changed",
			edit: func(r []configs.Tenant) {
				slices.Reverse(r)
				t, _ := find(r, "acme", "")
				slices.Reverse(t.Models)
				_, m := find(r, "acme", "fraud")
				slices.Reverse(t.APIKeys)
				t.APIKeys[0].SHA256 = strings.ToUpper(t.APIKeys[0].SHA256)
				slices.Reverse(m.Versions)
				slices.Reverse(version(m, "v1").Endpoints)
				slices.Reverse(m.Shadow.IgnoreFields)
				_, churn := find(r, "globex", "churn")
				churn.Limits = &configs.Limits{} // all zero: as unlimited as none
			},
		},
		{
			desc: "weights",
			edit: fraud(func(m *configs.Model) { version(m, "v1").Weight, version(m, "v2").Weight = 75, 25 }),
			want: []string{"acme/fraud: weight v1 90 → 75", "acme/fraud: weight v2 10 → 25"},
		},
		{
			desc: "tenant limits",
			edit: acme(func(t *configs.Tenant) {
				t.Limits.RequestsPerSecond, t.Limits.Burst, t.Limits.MaxQueueWait = 200.5, 201, 250*time.Millisecond
			}),
			want: []string{
				"acme: limits requests_per_second 100 → 200.5",
				"acme: limits burst 100 → 201",
				"acme: limits max_queue_wait 0s → 250ms",
			},
		},
		{
			desc: "unnamed api key added",
			edit: acme(func(t *configs.Tenant) { t.APIKeys = append(t.APIKeys, configs.APIKey{SHA256: hashD}) }),
			want: []string{"acme: api keys 2 → 3", "acme: api key added"},
		},
		{
			desc: "unnamed api key rotated",
			edit: acme(func(t *configs.Tenant) { t.APIKeys[1].SHA256 = hashD }),
			want: []string{"acme: api key rotated"},
		},
		{
			desc: "named api key rotated, another added",
			edit: acme(func(t *configs.Tenant) {
				t.APIKeys[0].SHA256 = hashD
				t.APIKeys = append(t.APIKeys, configs.APIKey{SHA256: hashE, Name: "deploy"})
			}),
			want: []string{"acme: api keys 2 → 3", "acme: api key ci rotated", "acme: api key deploy added"},
		},
		{
			desc: "named api key removed, unnamed ones rotated",
			edit: acme(func(t *configs.Tenant) {
				t.APIKeys = []configs.APIKey{{SHA256: hashD}}
			}),
			want: []string{"acme: api keys 2 → 1", "acme: api key ci removed", "acme: api key rotated"},
		},
		{
			desc: "both api keys replaced by unnamed ones",
			edit: acme(func(t *configs.Tenant) {
				t.APIKeys = []configs.APIKey{{SHA256: hashD}, {SHA256: hashE}, {SHA256: strings.Repeat("f", 64)}}
			}),
			want: []string{"acme: api keys 2 → 3", "acme: api key ci removed", "acme: api key rotated", "acme: 2 api keys added"},
		},
		{
			desc: "api key renamed",
			edit: acme(func(t *configs.Tenant) { t.APIKeys[0].Name, t.APIKeys[1].Name = "deploy", "spare" }),
			want: []string{"acme: api key name (unset) → spare", "acme: api key name ci → deploy"},
		},
		{
			desc: "tenant added and removed",
			edit: func(r []configs.Tenant) {
				r[1] = configs.Tenant{Name: "initech", APIKeys: []configs.APIKey{{SHA256: hashD}}, Models: []configs.Model{
					{Name: "churn", Versions: []configs.Version{{Name: "a", Weight: 3}, {Name: "b", Weight: 1}}},
					{Name: "fraud", Versions: []configs.Version{{Name: "v1", Weight: 1}}},
				}}
			},
			want: []string{
				"globex: tenant removed",
				"globex/churn: model removed",
				"initech: tenant added (1 api key)",
				"initech/churn: model added (versions a=3 b=1)",
				"initech/fraud: model added (versions v1=1)",
			},
		},
		{
			desc: "model added and removed",
			edit: func(r []configs.Tenant) {
				t, _ := find(r, "acme", "")
				_, fraud := find(r, "acme", "fraud")
				g, _ := find(r, "globex", "")
				g.Models = append(g.Models, *fraud)
				t.Models = slices.DeleteFunc(t.Models, func(m configs.Model) bool { return m.Name == "churn" })
			},
			want: []string{"acme/churn: model removed", "globex/fraud: model added (versions v1=90 v2=10 v3=0)"},
		},
		{
			desc: "model settings",
			edit: fraud(func(m *configs.Model) {
				m.Timeout, m.ConnectTimeout, m.StickyHeader = 5*time.Second, 1500*time.Millisecond, ""
				m.Fallback, m.FallbackPinned, m.LogPayloads = "v2", true, true
			}),
			want: []string{
				"acme/fraud: timeout 2s → 5s",
				"acme/fraud: connect_timeout 2s → 1.5s",
				"acme/fraud: sticky_header X-User-ID → (unset)",
				"acme/fraud: fallback v1 → v2",
				"acme/fraud: fallback_pinned false → true",
				"acme/fraud: log_payloads false → true",
			},
		},
		{
			desc: "model limits set and removed",
			edit: func(r []configs.Tenant) {
				_, fraud := find(r, "acme", "fraud")
				fraud.Limits = &configs.Limits{MaxInFlight: 8, MaxQueue: 4}
				_, churn := find(r, "acme", "churn")
				churn.Limits = nil
			},
			want: []string{
				"acme/churn: limits requests_per_second 50 → 0",
				"acme/churn: limits burst 50 → 0",
				"acme/fraud: limits max_in_flight 0 → 8",
				"acme/fraud: limits max_queue 0 → 4",
			},
		},
		{
			desc: "breaker",
			edit: fraud(func(m *configs.Model) {
				b := &m.Breaker
				b.ConsecutiveFailures, b.FailureRatio, b.OpenFor = 3, 0.25, 90*time.Second
				b.ServerErrors, b.PanicThreshold, b.Disabled = configs.ServerErrorsFailure, ptr(0), true
			}),
			want: []string{
				"acme/fraud: breaker consecutive_failures 5 → 3",
				"acme/fraud: breaker failure_ratio 0.5 → 0.25",
				"acme/fraud: breaker open_for 10s → 1m30s",
				"acme/fraud: breaker server_errors corroborated → failure",
				"acme/fraud: breaker panic_threshold 50 → 0",
				"acme/fraud: breaker disabled false → true",
			},
		},
		{
			desc: "health check and retry",
			edit: fraud(func(m *configs.Model) {
				m.HealthCheck.Path, m.HealthCheck.Interval = "/v2/health/ready", 2500*time.Millisecond
				m.Retry.Attempts, m.Retry.Budget, m.Retry.OnTimeout = ptr(3), ptr(0.0), true
			}),
			want: []string{
				"acme/fraud: health_check path /v2/models/{model}/ready → /v2/health/ready",
				"acme/fraud: health_check interval 5s → 2.5s",
				"acme/fraud: retry attempts 1 → 3",
				"acme/fraud: retry budget 0.2 → 0",
				"acme/fraud: retry on_timeout false → true",
			},
		},
		{
			desc: "retry attempts unset",
			edit: fraud(func(m *configs.Model) { m.Retry.Attempts = nil }),
			want: []string{"acme/fraud: retry attempts 1 → (unset)"},
		},
		{
			desc: "versions added and removed",
			edit: fraud(func(m *configs.Model) {
				m.Versions = slices.DeleteFunc(m.Versions, func(v configs.Version) bool { return v.Name == "v1" })
				m.Versions = append(m.Versions,
					configs.Version{Name: "v4", Endpoints: []string{"http://10.0.0.9:8000"}},
					configs.Version{Name: "v5", Weight: 5, ContainerVersion: "5", Endpoints: []string{"http://a:1", "http://b:1"}})
			}),
			want: []string{
				"acme/fraud: version v1 removed",
				"acme/fraud: version v4 added (weight 0, 1 endpoint)",
				"acme/fraud: version v5 added (weight 5, 2 endpoints, container_version 5)",
			},
		},
		{
			desc: "container versions and endpoints",
			edit: fraud(func(m *configs.Model) {
				version(m, "v1").ContainerVersion = "1"
				version(m, "v2").ContainerVersion = "3"
				version(m, "v1").Endpoints = []string{"http://10.0.0.5:8000"}
				v3 := version(m, "v3")
				v3.Endpoints = append(v3.Endpoints, "http://10.0.0.10:8000", "http://10.0.0.9:8000")
			}),
			want: []string{
				"acme/fraud: container_version v1 (unset) → 1",
				"acme/fraud: container_version v2 2 → 3",
				"acme/fraud: endpoint http://10.0.0.6:8000 removed from v1",
				"acme/fraud: endpoint http://10.0.0.10:8000 added to v3",
				"acme/fraud: endpoint http://10.0.0.9:8000 added to v3",
			},
		},
		{
			desc: "shadow settings",
			edit: fraud(func(m *configs.Model) {
				m.Shadow.Percent, m.Shadow.IgnoreFields, m.Shadow.MaxQueue = ptr(50.0), []string{"id"}, ptr(0)
			}),
			want: []string{
				"acme/fraud: shadow v3 percent 10 → 50",
				"acme/fraud: shadow v3 ignore_fields [id, model_name, model_version] → [id]",
				"acme/fraud: shadow v3 max_queue 64 → 0",
			},
		},
		{
			desc: "shadow moved to another version",
			edit: fraud(func(m *configs.Model) { m.Shadow.Version, m.Shadow.Tolerance = "v2", 0 }),
			want: []string{"acme/fraud: shadow version v3 → v2", "acme/fraud: shadow v2 tolerance 0.001 → 0"},
		},
		{
			desc: "shadow added and removed",
			edit: func(r []configs.Tenant) {
				_, fraud := find(r, "acme", "fraud")
				_, churn := find(r, "globex", "churn")
				churn.Shadow, fraud.Shadow = fraud.Shadow, nil
			},
			want: []string{"acme/fraud: shadow removed", "globex/churn: shadow v3 added (percent 10)"},
		},
		{
			desc: "every kind at once, in the documented order",
			edit: func(r []configs.Tenant) {
				t, fraud := find(r, "acme", "fraud")
				t.Limits.MaxInFlight = 16
				t.APIKeys[1].SHA256 = hashD
				fraud.Timeout = time.Second
				fraud.Breaker.MinRequests = 10
				fraud.Shadow.Percent = ptr(12.5)
				version(fraud, "v3").Weight = 5
				version(fraud, "v2").Endpoints = []string{"http://10.0.0.17:8000"}
				fraud.Versions = append(fraud.Versions, configs.Version{Name: "v0", Endpoints: []string{"http://x:1"}})
				_, churn := find(r, "globex", "churn")
				churn.Limits = &configs.Limits{RequestsPerSecond: 0.001, Burst: 1}
			},
			want: []string{
				"acme: limits max_in_flight 32 → 16",
				"acme: api key rotated",
				"acme/fraud: timeout 2s → 1s",
				"acme/fraud: breaker min_requests 20 → 10",
				"acme/fraud: version v0 added (weight 0, 1 endpoint)",
				"acme/fraud: weight v3 0 → 5",
				"acme/fraud: endpoint http://10.0.0.7:8000 removed from v2",
				"acme/fraud: endpoint http://10.0.0.17:8000 added to v2",
				"acme/fraud: shadow v3 percent 10 → 12.5",
				"globex/churn: limits requests_per_second 0 → 0.001",
				"globex/churn: limits burst 0 → 1",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			to := Canonical(base)
			tt.edit(to)
			before := Canonical(base)
			got := lines(Diff(base, to))
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
			if !reflect.DeepEqual(Canonical(base), before) {
				t.Error("Diff changed its input")
			}
			if eq := reflect.DeepEqual(Canonical(base), Canonical(to)); eq != (len(got) == 0) {
				t.Errorf("Canonical forms equal: %v, but %d changes", eq, len(got))
			}
			// The reverse diff has as many lines (every change has an inverse).
			if back := Diff(to, base); len(back) != len(got) {
				t.Errorf("reverse diff has %d changes, want %d:\n\t%s", len(back), len(got), strings.Join(lines(back), "\n\t"))
			}
		})
	}
}

func TestDiffChangeFields(t *testing.T) {
	base := parse(t, baseYAML)
	to := Canonical(base)
	to[0].Limits.Burst = 1
	_, m := find(to, "acme", "fraud")
	m.Timeout = time.Second
	want := []Change{
		{Tenant: "acme", Text: "limits burst 100 → 1"},
		{Tenant: "acme", Model: "fraud", Text: "timeout 2s → 1s"},
	}
	if got := Diff(base, to); !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
	if got := Diff(base, base); got != nil {
		t.Errorf("Diff(a, a): got %#v, want nil", got)
	}
}

// goodRoutings are the routings of configs/testdata/*.good.yaml and of
// baseYAML, by name.
func goodRoutings(t *testing.T) map[string][]configs.Tenant {
	t.Helper()
	files, err := filepath.Glob("../configs/testdata/*.good.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no good configs found: %v", err)
	}
	out := map[string][]configs.Tenant{"base": parse(t, baseYAML)}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = parse(t, string(data))
	}
	return out
}

func TestDiffSelfEmpty(t *testing.T) {
	for name, r := range goodRoutings(t) {
		t.Run(name, func(t *testing.T) {
			if got := Diff(r, r); len(got) != 0 {
				t.Errorf("Diff(a, a): got %q, want nothing", lines(got))
			}
			before, c := Canonical(r), Canonical(r)
			if got := Diff(r, c); len(got) != 0 {
				t.Errorf("Diff(a, Canonical(a)): got %q, want nothing", lines(got))
			}
			if !reflect.DeepEqual(Canonical(c), c) {
				t.Error("Canonical is not idempotent")
			}
			c[0].APIKeys[0].Name += "-changed"
			c[0].Models[0].Versions[0].Endpoints[0] += "/changed"
			c[0].Models[0].Retry.Attempts = ptr(7)
			if !reflect.DeepEqual(Canonical(r), before) {
				t.Error("Canonical shares memory with its input")
			}
		})
	}
}

// TestDiffEmptyIffEqual checks Diff(a, b) is empty exactly when a and b
// are equal in canonical form: for every pair of the good configs, and for
// every one-setting change of the base routing (each scalar reachable from
// the tenants, list elements included, changed in turn), which Diff must
// report. A setting added to the config types is covered without editing
// this test.
func TestDiffEmptyIffEqual(t *testing.T) {
	rs := goodRoutings(t)
	for an, a := range rs {
		for bn, b := range rs {
			eq := reflect.DeepEqual(Canonical(a), Canonical(b))
			if d := Diff(a, b); eq != (len(d) == 0) {
				t.Errorf("%s → %s: equal %v, but changes %q", an, bn, eq, lines(d))
			}
		}
	}
	base := rs["base"]
	n := 0
	for ; ; n++ {
		to := deepCopy(reflect.ValueOf(base)).Interface().([]configs.Tenant)
		k, path := n, ""
		if !mutate(reflect.ValueOf(to), &k, "tenants", &path) {
			break
		}
		d := Diff(base, to)
		if len(d) == 0 {
			t.Errorf("changing %s: no change reported", path)
		}
		if reflect.DeepEqual(Canonical(base), Canonical(to)) {
			t.Errorf("changing %s: Canonical forms still equal", path)
		}
		if testing.Verbose() {
			t.Logf("%s: %q", path, lines(d))
		}
	}
	if n < 100 {
		t.Errorf("only %d settings changed, want every one of the base routing", n)
	}
}

// mutate changes the *k-th scalar (counting down *k) reachable from v and
// reports whether there was one; *path names it.
func mutate(v reflect.Value, k *int, at string, path *string) bool {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("mapstructure"), ",")
			if mutate(v.Field(i), k, at+"."+name, path) {
				return true
			}
		}
		return false
	case reflect.Slice:
		for i := range v.Len() {
			if mutate(v.Index(i), k, at+"["+strconv.Itoa(i)+"]", path) {
				return true
			}
		}
		if v.Type().Elem().Kind() == reflect.String { // one more element
			if *k == 0 {
				v.Set(reflect.Append(v, reflect.ValueOf("http://extra:1")))
				*path = at + " +1"
				return true
			}
			*k--
		}
		return false
	case reflect.Pointer:
		if v.IsNil() {
			if v.Type().Elem().Kind() == reflect.Struct {
				return false // absent sections: covered by the table test
			}
			if *k == 0 {
				v.Set(reflect.New(v.Type().Elem()))
				*path = at + " set"
				return true
			}
			*k--
			return false
		}
		return mutate(v.Elem(), k, at, path)
	}
	if *k > 0 {
		*k--
		return false
	}
	*path = at
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(v.Uint() + 1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(v.Float() + 0.5)
	case reflect.String:
		v.SetString(v.String() + "x")
	default:
		panic("mutate: unexpected kind " + v.Kind().String() + " at " + at)
	}
	return true
}
