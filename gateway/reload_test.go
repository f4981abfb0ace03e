package gateway

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape returns the admin /metrics exposition parsed.
func (h *harness) scrape() map[string]float64 {
	h.t.Helper()
	r := h.doAdmin("GET", "/metrics", "")
	if r.code != 200 {
		h.t.Fatalf("/metrics: got %d", r.code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(r.body))
	if err != nil {
		h.t.Fatalf("/metrics is not valid exposition: %v", err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var b bytes.Buffer
			b.WriteString(name)
			for _, l := range m.GetLabel() {
				b.WriteString("|" + l.GetName() + "=" + l.GetValue())
			}
			switch {
			case m.Counter != nil:
				out[b.String()] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[b.String()] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[b.String()] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

func TestReloadValidInvalidValid(t *testing.T) {
	v1 := startModel(t, "fraud", "v1")
	v2 := startModel(t, "fraud", "v2")
	good1 := "tenants:\n" + tenantYAML("acme", "fraud", "", "v1:1:"+v1.URL, "v2:0:"+v2.URL)
	good2 := "tenants:\n" + tenantYAML("acme", "fraud", "", "v1:0:"+v1.URL, "v2:1:"+v2.URL)
	bad := "tenants:\n" + tenantYAML("acme", "fraud", "", "v1:-1:"+v1.URL, "v2:1:"+v2.URL)
	h := startGateway(t, good1)
	key, _ := testKey("acme")
	version := func() string {
		return h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key).header.Get("X-Modelgate-Version")
	}
	ok := "modelgate_config_last_reload_successful"
	ep := h.endpoint(v1.URL)

	if got := version(); got != "v1" {
		t.Fatalf("initial config: got version %s, want v1", got)
	}
	err := h.reload(bad)
	var verrs configs.Errors
	if !errors.As(err, &verrs) || !strings.Contains(err.Error(), "tenants[0].models[0].versions[0].weight: must not be negative") {
		t.Fatalf("invalid reload: got error %v, want the validation message with its YAML path", err)
	}
	if got := version(); got != "v1" {
		t.Errorf("after invalid reload: got version %s, want v1 (last good config keeps serving)", got)
	}
	if m := h.scrape(); m[ok] != 0 {
		t.Errorf("after invalid reload: %s = %v, want 0", ok, m[ok])
	}
	if err := h.reload(good2); err != nil {
		t.Fatalf("valid reload: %v", err)
	}
	if got := version(); got != "v2" {
		t.Errorf("after valid reload: got version %s, want v2", got)
	}
	m := h.scrape()
	if m[ok] != 1 {
		t.Errorf("after valid reload: %s = %v, want 1", ok, m[ok])
	}
	if m["modelgate_config_reloads_total|result=failure"] != 1 || m["modelgate_config_reloads_total|result=success"] < 2 {
		t.Errorf("reload counters: got %v", m)
	}
	if h.endpoint(v1.URL) != ep {
		t.Errorf("endpoint state (connection pool) was recreated by a reload that kept the endpoint")
	}
	if m["modelgate_config_info|hash="+h.gw.Config().Hash] != 1 {
		t.Errorf("modelgate_config_info missing for hash %s", h.gw.Config().Hash)
	}
}

func TestFileWatchReload(t *testing.T) {
	v1 := startModel(t, "fraud", "v1")
	v2 := startModel(t, "fraud", "v2")
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud", "", "v1:1:"+v1.URL, "v2:0:"+v2.URL))
	key, _ := testKey("acme")
	h.writeConfig("tenants:\n" + tenantYAML("acme", "fraud", "", "v1:0:"+v1.URL, "v2:1:"+v2.URL))
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key)
		if r.header.Get("X-Modelgate-Version") == "v2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("file edit not applied within 5s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestMetricsPerVersion(t *testing.T) {
	v1 := startModel(t, "fraud", "v1")
	v2 := startModel(t, "fraud", "v2")
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "fraud", "", "v1:1:"+v1.URL, "v2:0:"+v2.URL))
	key, _ := testKey("acme")
	for range 3 {
		h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", key)
	}
	h.do("POST", "/v2/models/fraud/versions/v2/infer", `{"bad json`, "X-API-Key", key)
	h.do("POST", "/v2/models/fraud/infer", inferBody, "X-API-Key", "wrong")
	h.do("POST", "/v2/models/secret-model-name/infer", inferBody, "X-API-Key", key)
	m := h.scrape()
	for series, want := range map[string]float64{
		"modelgate_requests_total|code=200|model=fraud|role=primary|tenant=acme|version=v1":   3,
		"modelgate_requests_total|code=400|model=fraud|role=primary|tenant=acme|version=v2":   1,
		"modelgate_request_duration_seconds|model=fraud|role=primary|tenant=acme|version=v1":  3,
		"modelgate_upstream_duration_seconds|model=fraud|role=primary|tenant=acme|version=v1": 3,
		"modelgate_in_flight_requests|model=fraud|role=primary|tenant=acme|version=v1":        0,
		"modelgate_rejected_requests_total|model=|reason=unauthorized|tenant=":                1,
		"modelgate_rejected_requests_total|model=|reason=not_found|tenant=acme":               1,
	} {
		if got, ok := m[series]; !ok || got != want {
			t.Errorf("%s: got %v (present %v), want %v", series, got, ok, want)
		}
	}
	for series := range m {
		if strings.Contains(series, "secret-model-name") {
			t.Errorf("client input became a label value: %s", series)
		}
	}
	// Removing v2 removes its series.
	if err := h.reload("tenants:\n" + tenantYAML("acme", "fraud", "", "v1:1:"+v1.URL)); err != nil {
		t.Fatal(err)
	}
	for series := range h.scrape() {
		if strings.Contains(series, "version=v2") {
			t.Errorf("series of a removed version still exported: %s", series)
		}
	}
}
