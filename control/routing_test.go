package control

import (
	"errors"
	"testing"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/revision"
)

func routingOf(t *testing.T, yaml string) []configs.Tenant {
	t.Helper()
	cfg, err := configs.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Tenants
}

const twoTenants = `
tenants:
  - name: acme
    api_keys: [{sha256: "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"}]
    models:
      - name: fraud
        versions:
          - {name: v1, weight: 90, endpoints: ["http://127.0.0.1:8001"]}
          - {name: v2, weight: 10, endpoints: ["http://127.0.0.1:8002"]}
  - name: globex
    api_keys: [{sha256: "3bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"}]
    models:
      - name: churn
        versions:
          - {name: a, weight: 1, endpoints: ["http://127.0.0.1:8003"]}
`

func all(string) bool { return true }

func TestWithWeights(t *testing.T) {
	base := routingOf(t, twoTenants)
	tests := []struct {
		desc          string
		tenant, model string
		weights       map[string]int
		visible       func(string) bool
		wantPath      string // InvalidError path; "" for none
		wantNotFound  bool
	}{
		{desc: "complete split", tenant: "acme", model: "fraud", weights: map[string]int{"v1": 75, "v2": 25}},
		{desc: "one version off", tenant: "acme", model: "fraud", weights: map[string]int{"v1": 0, "v2": 1}},
		{desc: "unknown version", tenant: "acme", model: "fraud", weights: map[string]int{"v1": 1, "v2": 1, "v9": 1}, wantPath: "weights.v9"},
		{desc: "version left out", tenant: "acme", model: "fraud", weights: map[string]int{"v1": 1}, wantPath: "weights.v2"},
		{desc: "negative", tenant: "acme", model: "fraud", weights: map[string]int{"v1": -1, "v2": 5}, wantPath: "weights.v1"},
		{desc: "all zero", tenant: "acme", model: "fraud", weights: map[string]int{"v1": 0, "v2": 0}, wantPath: "weights"},
		{desc: "no weights", tenant: "acme", model: "fraud", weights: nil, wantPath: "weights"},
		{desc: "unknown tenant", tenant: "initech", model: "fraud", weights: map[string]int{"v1": 1}, wantNotFound: true},
		{desc: "unknown model", tenant: "acme", model: "churn", weights: map[string]int{"a": 1}, wantNotFound: true},
		{desc: "tenant out of scope", tenant: "globex", model: "churn", weights: map[string]int{"a": 2},
			visible: func(t string) bool { return t == "acme" }, wantNotFound: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			visible := tt.visible
			if visible == nil {
				visible = all
			}
			got, err := withWeights(base, visible, tt.tenant, tt.model, tt.weights)
			var inv *InvalidError
			switch {
			case tt.wantNotFound:
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("got %v, want ErrNotFound", err)
				}
				return
			case tt.wantPath != "":
				if !errors.As(err, &inv) || inv.Path != tt.wantPath {
					t.Fatalf("got %v, want an InvalidError at %s", err, tt.wantPath)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			for _, v := range got[0].Models[0].Versions {
				if v.Weight != tt.weights[v.Name] {
					t.Errorf("version %s: weight %d, want %d", v.Name, v.Weight, tt.weights[v.Name])
				}
			}
			if base[0].Models[0].Versions[0].Weight != 90 || base[0].Models[0].Versions[1].Weight != 10 {
				t.Errorf("the edit changed its input routing: %+v", base[0].Models[0].Versions)
			}
			if &got[1].Models[0] != &base[1].Models[0] {
				t.Errorf("an untouched tenant's models were copied, want them shared")
			}
		})
	}
}

func TestRolledBack(t *testing.T) {
	file := routingOf(t, twoTenants)
	old := routingOf(t, twoTenants)
	old[0].Models[0].Versions[1].Weight = 50
	old[1].Models[0].Versions[0].Endpoints = []string{"http://127.0.0.1:9999"}
	old[0].APIKeys = []configs.APIKey{{SHA256: "revoked"}}
	running := routingOf(t, twoTenants)
	running[1].Models[0].Versions[0].Weight = 7

	got, err := rolledBack(running, old, file, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Models[0].Versions[1].Weight != 50 || got[1].Models[0].Versions[0].Endpoints[0] != "http://127.0.0.1:9999" {
		t.Errorf("every tenant: got %+v, want the old weights and endpoints", got)
	}
	if got[0].APIKeys[0].SHA256 != file[0].APIKeys[0].SHA256 {
		t.Errorf("a rollback brought back an old API key: %v", got[0].APIKeys)
	}

	got, err = rolledBack(running, old, file, []string{"acme"})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Models[0].Versions[1].Weight != 50 || got[1].Models[0].Versions[0].Weight != 7 {
		t.Errorf("scoped to acme: got acme v2 %d, globex a %d; want 50 (rolled back) and 7 (running)",
			got[0].Models[0].Versions[1].Weight, got[1].Models[0].Versions[0].Weight)
	}
	if _, err := rolledBack(running, old[:1], file, []string{"globex"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("scoped to a tenant the old revision lacks: got %v, want ErrNotFound", err)
	}
}

func TestWeightSources(t *testing.T) {
	file := routingOf(t, twoTenants)
	first := &revision.Revision{Source: revision.SourceFile, Routing: file}
	first.WeightSources = weightSources(nil, first, file)
	if s := first.WeightSources["acme/fraud/v2"]; s != revision.SourceFile {
		t.Fatalf("file revision: got %q", s)
	}
	api, _ := withWeights(file, all, "acme", "fraud", map[string]int{"v1": 75, "v2": 25})
	second := &revision.Revision{Source: revision.SourceAPI, Routing: api}
	second.WeightSources = weightSources(first, second, file)
	rb, _ := withWeights(api, all, "globex", "churn", map[string]int{"a": 3})
	third := &revision.Revision{Source: revision.SourceRollback, Routing: rb}
	third.WeightSources = weightSources(second, third, file)
	back, _ := withWeights(rb, all, "acme", "fraud", map[string]int{"v1": 90, "v2": 10})
	fourth := &revision.Revision{Source: revision.SourceAPI, Routing: back}
	fourth.WeightSources = weightSources(third, fourth, file)
	for _, tt := range []struct {
		r    *revision.Revision
		key  string
		want revision.Source
	}{
		{second, "acme/fraud/v2", revision.SourceAPI},
		{second, "globex/churn/a", revision.SourceFile},
		{third, "acme/fraud/v1", revision.SourceAPI}, // kept from the revision that set it
		{third, "globex/churn/a", revision.SourceRollback},
		{fourth, "acme/fraud/v1", revision.SourceFile}, // equal to the file's again
		{fourth, "globex/churn/a", revision.SourceRollback},
	} {
		if got := tt.r.WeightSources[tt.key]; got != tt.want {
			t.Errorf("revision of %s: %s from %q, want %q", tt.r.Source, tt.key, got, tt.want)
		}
	}
}
