package observability

import (
	"iter"
	"slices"
	"testing"
)

func samples(ss ...EndpointSample) func() iter.Seq[EndpointSample] {
	return func() iter.Seq[EndpointSample] { return slices.Values(ss) }
}

// endpointUp returns the endpoint label of every modelgate_endpoint_up
// series, sorted.
func endpointUp(t *testing.T, m *Metrics) []string {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mf := range mfs {
		if mf.GetName() != "modelgate_endpoint_up" {
			continue
		}
		for _, s := range mf.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "endpoint" {
					got = append(got, l.GetValue())
				}
			}
		}
	}
	slices.Sort(got)
	return got
}

// TestEndpointSources checks that added sources are exported beside the
// main one until removed.
func TestEndpointSources(t *testing.T) {
	m := NewMetrics()
	m.Resilience.SetEndpointSource(samples(EndpointSample{Tenant: "t", Model: "m", Version: "v", Endpoint: "http://a:80", Up: true}))
	remove := m.Resilience.AddEndpointSource(samples(EndpointSample{Tenant: "t", Model: "m", Version: "v", Endpoint: "grpc://a:9000"}))
	if got, want := endpointUp(t, m), []string{"grpc://a:9000", "http://a:80"}; !slices.Equal(got, want) {
		t.Errorf("with two sources: got %v, want %v", got, want)
	}
	remove()
	remove() // idempotent
	if got, want := endpointUp(t, m), []string{"http://a:80"}; !slices.Equal(got, want) {
		t.Errorf("after remove: got %v, want %v", got, want)
	}
}
