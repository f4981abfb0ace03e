package configs

import (
	"reflect"
	"testing"
)

// TestDefaultsFromOnePlace: SetDefaults gives an unset model exactly
// DefaultModel, an unset shadow DefaultShadow with the model's timeout, and
// the server DefaultConfig's; explicit values (an explicit 0 included) are
// kept, and no two models share a default's pointer.
func TestDefaultsFromOnePlace(t *testing.T) {
	zero, zeroQueue := 0.0, 0
	c := Config{Tenants: []Tenant{{Name: "acme", Models: []Model{
		{Name: "a"},
		{Name: "b", Retry: Retry{Budget: &zero}, Shadow: &Shadow{Version: "v2", MaxQueue: &zeroQueue, IgnoreFields: []string{}}},
	}}}}
	c.SetDefaults()
	a, b := c.Tenants[0].Models[0], c.Tenants[0].Models[1]
	want := DefaultModel()
	want.Name = "a"
	if !reflect.DeepEqual(a, want) {
		t.Errorf("unset model:\n got %+v\nwant %+v", a, want)
	}
	if *b.Retry.Budget != 0 || *b.Shadow.MaxQueue != 0 || b.Shadow.IgnoreFields == nil || len(b.Shadow.IgnoreFields) != 0 {
		t.Errorf("explicit zero values not kept: budget %v, max_queue %v, ignore_fields %v", *b.Retry.Budget, *b.Shadow.MaxQueue, b.Shadow.IgnoreFields)
	}
	if b.Shadow.Timeout != b.Timeout || b.Shadow.MaxInFlight != DefaultShadowMaxInFlight || *b.Shadow.Percent != DefaultShadowPercent {
		t.Errorf("shadow defaults: got %+v", *b.Shadow)
	}
	if a.Retry.Attempts == b.Retry.Attempts {
		t.Error("two models share the default retry.attempts pointer")
	}
	def := DefaultConfig()
	if c.Server != def.Server || c.Logging.Level != def.Logging.Level || c.Tracing.ServiceName != def.Tracing.ServiceName {
		t.Errorf("server defaults: got %+v, want %+v", c.Server, def.Server)
	}
}
