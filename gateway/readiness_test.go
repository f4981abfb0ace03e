package gateway

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/gateway/upstream"
	"github.com/modelgate/modelgate/internal/await"
	"github.com/modelgate/modelgate/internal/standin"
)

// probeHealth checks every 50 ms and decides on one result, so tests see
// a model's unload or load at once.
const probeHealth = "health_check: {interval: 50ms, timeout: 1s, unhealthy_after: 1, healthy_after: 1}"

// probeHealthAt is probeHealth with another path.
func probeHealthAt(path string) string {
	return "health_check: {path: \"" + path + "\", interval: 50ms, timeout: 1s, unhealthy_after: 1, healthy_after: 1}"
}

// modelEndpoint is the first endpoint of tenant/model/version in the
// serving snapshot.
func (h *harness) modelEndpoint(tenant, model, version string) *upstream.Endpoint {
	h.t.Helper()
	for _, t := range h.gw.snap.Load().tenants {
		if m := t.models[model]; t.name == tenant && m != nil {
			for _, v := range m.versions {
				if v.name == version {
					return v.endpoints[0]
				}
			}
		}
	}
	h.t.Fatalf("%s/%s/%s is not in the serving snapshot", tenant, model, version)
	return nil
}

// readyz returns the admin /readyz status and body.
func (h *harness) readyz() (int, readiness) {
	h.t.Helper()
	r := h.doAdmin("GET", "/readyz", "")
	var body readiness
	if err := json.Unmarshal([]byte(r.body), &body); err != nil {
		h.t.Fatalf("/readyz: %v in %q", err, r.body)
	}
	return r.code, body
}

// TestReadinessModelUnloaded: with the default model-level readiness, a
// KServe container whose model was unloaded (its /v2/health/ready still
// says ready; /v2/models/iris/ready answers 404) is out: its requests go to
// the fallback version; once the fallback's model is unloaded too the
// caller gets 503 and /readyz names the model. Load brings both back.
func TestReadinessModelUnloaded(t *testing.T) {
	primary := standin.NewKServe("iris", standin.Iris(), false)
	spare := standin.NewKServe("iris", standin.IrisAlt(), false)
	primaryURL, _ := standin.Start(t, primary)
	spareURL, _ := standin.Start(t, spare)
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "iris", probeHealth+"\nfallback: v2", "v1:1:"+primaryURL, "v2:0:"+spareURL))
	key, _ := testKey("acme")
	infer := func() response { return h.do("POST", "/v2/models/iris/infer", inferBody, "X-API-Key", key) }
	v1, v2 := h.modelEndpoint("acme", "iris", "v1"), h.modelEndpoint("acme", "iris", "v2")
	await.Until(t, 5*time.Second, "the first readiness checks", func() bool {
		return primary.PathCount("/v2/models/iris/ready") > 0 && spare.PathCount("/v2/models/iris/ready") > 0
	})
	if r := infer(); r.code != 200 || r.header.Get(HeaderVersion) != "v1" {
		t.Fatalf("loaded: got %d (version %q) %s, want 200 from v1", r.code, r.header.Get(HeaderVersion), r.body)
	}
	if code, body := h.readyz(); code != 200 {
		t.Fatalf("loaded: /readyz %d %+v, want 200", code, body)
	}

	primary.Unload()
	await.Until(t, 5*time.Second, "v1's endpoint to be out after its model's unload", func() bool { return !v1.Up() })
	served := primary.PathCount("/v2/models/iris/infer")
	for range 5 {
		if r := infer(); r.code != 200 || r.header.Get(HeaderVersion) != "v2" {
			t.Fatalf("v1 unloaded: got %d (version %q) %s, want 200 from the fallback v2", r.code, r.header.Get(HeaderVersion), r.body)
		}
	}
	if got := primary.PathCount("/v2/models/iris/infer"); got != served {
		t.Errorf("v1 unloaded: its container got %d more infer requests, want none", got-served)
	}
	code, body := h.readyz()
	if code != 200 || len(body.Models) != 0 || !slices.Equal(body.Versions, []string{"acme/iris/v1"}) {
		t.Errorf("v1 unloaded: /readyz %d %+v, want 200 with acme/iris/v1 without a healthy endpoint", code, body)
	}

	spare.Unload()
	await.Until(t, 5*time.Second, "v2's endpoint to be out", func() bool { return !v2.Up() })
	if r := infer(); r.code != 503 || !strings.Contains(r.body, "no healthy endpoint") {
		t.Errorf("both unloaded: got %d %s, want 503 no healthy endpoint", r.code, r.body)
	}
	code, body = h.readyz()
	if code != 503 || !slices.Equal(body.Models, []string{"acme/iris"}) || !slices.Equal(body.Versions, []string{"acme/iris/v1", "acme/iris/v2"}) {
		t.Errorf("both unloaded: /readyz %d %+v, want 503 naming acme/iris", code, body)
	}

	primary.Load()
	spare.Load()
	await.Until(t, 5*time.Second, "both endpoints back after Load", func() bool { return v1.Up() && v2.Up() })
	if r := infer(); r.code != 200 || r.header.Get(HeaderVersion) != "v1" {
		t.Errorf("reloaded: got %d (version %q) %s, want 200 from v1", r.code, r.header.Get(HeaderVersion), r.body)
	}
	if code, body := h.readyz(); code != 200 || len(body.Versions) != 0 {
		t.Errorf("reloaded: /readyz %d %+v, want 200 with nothing listed", code, body)
	}
}

// TestReadinessOIPServers: the default readiness follows each OIP server's
// model state: Triton (≥ 2.42: 404 for an unloaded model; before: 400) and
// MLServer (404 unloaded, 400 while loading) are out while their model is
// not ready, although their server-level /v2/health/ready says ready.
func TestReadinessOIPServers(t *testing.T) {
	ml := standin.NewMLServer("iris", standin.Version{Name: "v1", Classifier: standin.Iris()})
	for _, tc := range []struct {
		desc         string
		server       http.Handler
		unload, load func()
	}{
		{"KServe", standin.NewKServe("iris", standin.Iris(), false), nil, nil},
		{"Triton", standin.NewTriton("iris", false, standin.Version{Name: "1", Classifier: standin.Iris()}), nil, nil},
		{"Triton before 2.42", standin.NewTriton("iris", true, standin.Version{Name: "1", Classifier: standin.Iris()}), nil, nil},
		{"MLServer", standin.NewMLServer("iris", standin.Version{Name: "v1", Classifier: standin.Iris()}), nil, nil},
		{"MLServer loading", ml, func() { ml.SetReady(false) }, func() { ml.SetReady(true) }},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if tc.unload == nil {
				s := tc.server.(interface {
					Unload()
					Load()
				}) // KServe, Triton, MLServer
				tc.unload, tc.load = s.Unload, s.Load
			}
			url, _ := standin.Start(t, tc.server)
			h := startGateway(t, "tenants:\n"+tenantYAML("acme", "iris", probeHealth, "v1:1:"+url))
			key, _ := testKey("acme")
			ep := h.modelEndpoint("acme", "iris", "v1")
			if r := h.do("POST", "/v2/models/iris/infer", inferBody, "X-API-Key", key); r.code != 200 {
				t.Fatalf("loaded: got %d %s, want 200", r.code, r.body)
			}
			tc.unload()
			await.Until(t, 5*time.Second, "the endpoint to be out", func() bool { return !ep.Up() })
			if r := h.do("POST", "/v2/models/iris/infer", inferBody, "X-API-Key", key); r.code != 503 {
				t.Errorf("not ready: got %d %s, want 503", r.code, r.body)
			}
			if code, body := h.readyz(); code != 503 || !slices.Equal(body.Models, []string{"acme/iris"}) {
				t.Errorf("not ready: /readyz %d %+v, want 503 naming acme/iris", code, body)
			}
			tc.load()
			await.Until(t, 5*time.Second, "the endpoint back", func() bool { return ep.Up() })
			if r := h.do("POST", "/v2/models/iris/infer", inferBody, "X-API-Key", key); r.code != 200 {
				t.Errorf("ready again: got %d %s, want 200", r.code, r.body)
			}
		})
	}
}

// TestReadinessSharedContainer: two models behind one URL (a multi-model
// container). Each is probed on its own readiness path and has its own
// endpoint state, so unloading one takes only its own traffic away.
func TestReadinessSharedContainer(t *testing.T) {
	a := standin.NewKServe("a", standin.Iris(), false)
	b := standin.NewKServe("b", standin.Iris(), false)
	url, _ := standin.Start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v2/models/b/") {
			b.ServeHTTP(w, r)
			return
		}
		a.ServeHTTP(w, r)
	}))
	// One tenant with both models: the second model's lines, without the
	// tenant header, appended to the first.
	second := tenantYAML("acme", "b", probeHealth, "v1:1:"+url)
	second = second[strings.Index(second, "      - name: b"):]
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "a", probeHealth, "v1:1:"+url)+second)
	key, _ := testKey("acme")
	epA, epB := h.modelEndpoint("acme", "a", "v1"), h.modelEndpoint("acme", "b", "v1")
	if epA == epB {
		t.Fatal("models a and b share one endpoint state; want one per readiness path")
	}
	a.Unload()
	await.Until(t, 5*time.Second, "model a's endpoint to be out", func() bool { return !epA.Up() })
	for range 5 {
		if r := h.do("POST", "/v2/models/b/infer", inferBody, "X-API-Key", key); r.code != 200 {
			t.Fatalf("model b with a unloaded: got %d %s, want 200", r.code, r.body)
		}
	}
	if !epB.Up() {
		t.Error("model b's endpoint is out after model a's unload")
	}
	if code, body := h.readyz(); code != 503 || !slices.Equal(body.Models, []string{"acme/a"}) {
		t.Errorf("/readyz %d %+v, want 503 naming acme/a only", code, body)
	}
}

// TestReadinessV1Status: with health_check.path /v1/models/{model} the
// answer's state decides: TF Serving answers 200 whatever the state, so a
// model with no version AVAILABLE is out; KServe V1 answers 404 once
// unloaded.
func TestReadinessV1Status(t *testing.T) {
	tf := standin.NewTFServing("iris", standin.Version{Name: "1", Classifier: standin.Iris()}, standin.Version{Name: "2", Classifier: standin.IrisAlt()})
	ks := standin.NewKServe("iris", standin.Iris(), false)
	tfURL, _ := standin.Start(t, tf)
	ksURL, _ := standin.Start(t, ks)
	v1 := probeHealthAt("/v1/models/{model}")
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "iris", v1, "v1:1:"+tfURL)+tenantYAML("globex", "iris", v1, "v1:1:"+ksURL))
	tfEp, ksEp := h.modelEndpoint("acme", "iris", "v1"), h.modelEndpoint("globex", "iris", "v1")
	acme, _ := testKey("acme")
	globex, _ := testKey("globex")
	predict := func(key string) response {
		return h.do("POST", "/v1/models/iris:predict", `{"instances":[[5.1,3.5,1.4,0.2]]}`, "X-API-Key", key)
	}
	await.Until(t, 5*time.Second, "the first status checks", func() bool {
		return tf.PathCount("/v1/models/iris") > 0 && ks.PathCount("/v1/models/iris") > 0
	})
	for _, key := range []string{acme, globex} {
		if r := predict(key); r.code != 200 {
			t.Fatalf("loaded: got %d %s, want 200", r.code, r.body)
		}
	}

	tf.SetState("2", standin.TFStateLoading) // version 1 still AVAILABLE
	checks := tf.PathCount("/v1/models/iris")
	await.Until(t, 5*time.Second, "two more TF status checks", func() bool { return tf.PathCount("/v1/models/iris") >= checks+2 })
	if !tfEp.Up() {
		t.Fatal("TF Serving with version 1 AVAILABLE: endpoint out, want in")
	}
	tf.SetState("1", standin.TFStateEnd)
	await.Until(t, 5*time.Second, "the TF Serving endpoint to be out", func() bool { return !tfEp.Up() })
	if r := predict(acme); r.code != 503 {
		t.Errorf("TF Serving with no version AVAILABLE: got %d %s, want 503", r.code, r.body)
	}
	tf.SetState("2", standin.TFStateAvailable)
	await.Until(t, 5*time.Second, "the TF Serving endpoint back", func() bool { return tfEp.Up() })
	if r := predict(acme); r.code != 200 {
		t.Errorf("TF Serving version 2 AVAILABLE: got %d %s, want 200", r.code, r.body)
	}

	ks.Unload()
	await.Until(t, 5*time.Second, "the KServe V1 endpoint to be out", func() bool { return !ksEp.Up() })
	if code, body := h.readyz(); code != 503 || !slices.Equal(body.Models, []string{"globex/iris"}) {
		t.Errorf("/readyz %d %+v, want 503 naming globex/iris", code, body)
	}
	ks.Load()
	await.Until(t, 5*time.Second, "the KServe V1 endpoint back", func() bool { return ksEp.Up() })
}

// TestReadinessTorchServe: TorchServe has no /v2/models/{m}/ready (404,
// not ready under the default); with health_check.path /ping it is up, and
// out while /ping says Unhealthy.
func TestReadinessTorchServe(t *testing.T) {
	ts := standin.NewTorchServe("iris", standin.Version{Name: "1.0", Classifier: standin.Iris()})
	url, _ := standin.Start(t, ts)
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "iris", probeHealthAt("/ping"), "v1:1:"+url)+tenantYAML("globex", "iris", probeHealth, "v1:1:"+url))
	ping, def := h.modelEndpoint("acme", "iris", "v1"), h.modelEndpoint("globex", "iris", "v1")
	await.Until(t, 5*time.Second, "the default path's endpoint to be out", func() bool { return !def.Up() })
	if !ping.Up() {
		t.Fatal("TorchServe checked on /ping: endpoint out, want in")
	}
	checks := ts.PathCount("/ping")
	await.Until(t, 5*time.Second, "two more /ping checks", func() bool { return ts.PathCount("/ping") >= checks+2 })
	if !ping.Up() {
		t.Fatal("TorchServe checked on /ping: endpoint out after more checks, want in")
	}
	if code, body := h.readyz(); code != 503 || !slices.Equal(body.Models, []string{"globex/iris"}) {
		t.Errorf("/readyz %d %+v, want 503 naming only globex/iris (default path)", code, body)
	}
	ts.SetHealthy(false)
	await.Until(t, 5*time.Second, "the /ping endpoint out while Unhealthy", func() bool { return !ping.Up() })
	ts.SetHealthy(true)
	await.Until(t, 5*time.Second, "the /ping endpoint back", func() bool { return ping.Up() })
}

// TestReadinessPerVersion: with {version} in health_check.path each
// version of a multi-version container is probed for its own state (here
// TF Serving's /v1/models/M/versions/N): the version whose container
// version is loading is out and its requests fall back, while the other
// version of the same container keeps serving.
func TestReadinessPerVersion(t *testing.T) {
	tf := standin.NewTFServing("iris", standin.Version{Name: "1", Classifier: standin.Iris()}, standin.Version{Name: "2", Classifier: standin.IrisAlt()})
	url, _ := standin.Start(t, tf)
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "iris", probeHealthAt("/v1/models/{model}/versions/{version}")+"\nfallback: a",
		"a:1:"+url+"@1", "b:1:"+url+"@2"))
	a, b := h.modelEndpoint("acme", "iris", "a"), h.modelEndpoint("acme", "iris", "b")
	if a == b {
		t.Fatal("both versions share one endpoint state: their verdicts could not differ")
	}
	key, _ := testKey("acme")
	predict := func(path string) response {
		return h.do("POST", path, `{"instances":[[5.1,3.5,1.4,0.2]]}`, "X-API-Key", key)
	}
	await.Until(t, 5*time.Second, "the first checks of both versions", func() bool {
		return tf.PathCount("/v1/models/iris/versions/1") > 0 && tf.PathCount("/v1/models/iris/versions/2") > 0
	})
	if r := predict("/v1/models/iris/versions/b:predict"); r.code != 200 || r.header.Get(HeaderVersion) != "b" {
		t.Fatalf("both loaded: got %d (version %q) %s, want 200 from b", r.code, r.header.Get(HeaderVersion), r.body)
	}

	tf.SetState("2", standin.TFStateLoading)
	await.Until(t, 5*time.Second, "version b's endpoint out", func() bool { return !b.Up() })
	if !a.Up() {
		t.Fatal("version 1 AVAILABLE: a's endpoint out, want in")
	}
	sent := tf.PathCount("/v1/models/iris/versions/2:predict")
	for range 10 {
		if r := predict("/v1/models/iris:predict"); r.code != 200 || r.header.Get(HeaderVersion) != "a" {
			t.Fatalf("b loading: got %d (version %q) %s, want 200 from a", r.code, r.header.Get(HeaderVersion), r.body)
		}
	}
	if got := tf.PathCount("/v1/models/iris/versions/2:predict"); got != sent {
		t.Errorf("b loading: its container version got %d predictions, want none", got-sent)
	}
	if code, body := h.readyz(); code != 200 || !slices.Equal(body.Versions, []string{"acme/iris/b"}) {
		t.Errorf("/readyz %d %+v, want 200 listing acme/iris/b", code, body)
	}
	tf.SetState("2", standin.TFStateAvailable)
	await.Until(t, 5*time.Second, "version b back", func() bool { return b.Up() })
}
