package gateway

import (
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelgate/modelgate/internal/await"
	"github.com/modelgate/modelgate/internal/standin"
	"github.com/valyala/fasthttp"
)

// Bodies the iris stand-ins accept: one row of 4 features.
const (
	irisInfer   = `{"inputs":[{"name":"input-0","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2]}]}`
	irisPredict = `{"instances":[[5.1,3.5,1.4,0.2]]}`
)

// versionedPaths returns the paths under /versions/ that rec received.
func versionedPaths(rec *standin.Recorder) []string {
	var out []string
	for p := range rec.Paths() {
		if strings.Contains(p, "/versions/") {
			out = append(out, p)
		}
	}
	return out
}

// TestPinnedToKServe: two versions, each a KServe 0.12-like container
// serving one model and knowing nothing of versions (it answers every
// /versions/ path 501 or 404). Pinned requests reach the pinned version's
// container on the unversioned path, for every proxied kind (issue 12).
func TestPinnedToKServe(t *testing.T) {
	ks1, ks2 := standin.NewKServe("iris", standin.Iris(), false), standin.NewKServe("iris", standin.IrisAlt(), false)
	u1, _ := standin.Start(t, ks1)
	u2, _ := standin.Start(t, ks2)
	// No health checks: their probes of /v2/models/iris/ready would count.
	h := startGateway(t, "tenants:\n"+tenantYAML("acme", "iris", "health_check: {disabled: true}", "v1:1:"+u1, "v2:0:"+u2))
	key, _ := testKey("acme")
	tests := []struct {
		desc, method, path, body string
		version                  string // the version that must serve
		container                string // the path its container must receive
		wantBody                 string
	}{
		{"infer", "POST", "/v2/models/iris/versions/v2/infer", irisInfer, "v2", "/v2/models/iris/infer", `"outputs"`},
		{"model metadata", "GET", "/v2/models/iris/versions/v2", "", "v2", "/v2/models/iris", `"name":"iris"`},
		{"model ready", "GET", "/v2/models/iris/versions/v1/ready", "", "v1", "/v2/models/iris/ready", `"ready":true`},
		{"v1 predict", "POST", "/v1/models/iris/versions/v2:predict", irisPredict, "v2", "/v1/models/iris:predict", `"predictions"`},
		{"v1 status", "GET", "/v1/models/iris/versions/v1", "", "v1", "/v1/models/iris", `"ready":true`},
		{"pinned to weight 0, infer again", "POST", "/v2/models/iris/versions/v2/infer", irisInfer, "v2", "/v2/models/iris/infer", `"outputs"`},
	}
	recs := map[string]*standin.KServe{"v1": ks1, "v2": ks2}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			rec := recs[tt.version]
			before := rec.PathCount(tt.container)
			r := h.do(tt.method, tt.path, tt.body, "X-API-Key", key)
			if r.code != 200 || r.header.Get(HeaderVersion) != tt.version || !strings.Contains(r.body, tt.wantBody) {
				t.Fatalf("got %d (version %q) %s, want 200 from %s containing %s", r.code, r.header.Get(HeaderVersion), r.body, tt.version, tt.wantBody)
			}
			if got := rec.PathCount(tt.container) - before; got != 1 {
				t.Errorf("%s's container got %s %d times, want once", tt.version, tt.container, got)
			}
		})
	}
	for name, ks := range recs {
		if p := versionedPaths(&ks.Recorder); len(p) > 0 {
			t.Errorf("%s's container got versioned paths %v, want none", name, p)
		}
	}
}

// TestContainerVersion: versions with container_version reach containers
// with versions of their own (Triton's and TF Serving's numbers, MLServer's
// strings) on the versioned path naming them, pinned or not, and the
// container answers from that version; the unversioned path is never sent.
func TestContainerVersion(t *testing.T) {
	type call struct {
		desc, method, path, body string
		version                  string // the gateway version that must serve
		container                string // the path the container must receive
		wantBody                 string
	}
	iris := func(names ...string) []standin.Version {
		return []standin.Version{{Name: names[0], Classifier: standin.Iris()}, {Name: names[1], Classifier: standin.IrisAlt()}}
	}
	tests := []struct {
		desc        string
		server      func() (http.Handler, *standin.Recorder)
		cv1, cv2    string // container versions of the gateway's stable and canary
		extra       string // model settings the server needs
		unversioned []string
		calls       []call
	}{
		{desc: "Triton", cv1: "1", cv2: "2",
			server: func() (http.Handler, *standin.Recorder) {
				tr := standin.NewTriton("iris", false, iris("1", "2")...)
				return tr, &tr.Recorder
			},
			unversioned: []string{"/v2/models/iris/infer", "/v2/models/iris"},
			calls: []call{
				{"unpinned infer", "POST", "/v2/models/iris/infer", irisInfer, "stable", "/v2/models/iris/versions/1/infer", `"model_version":"1"`},
				{"pinned infer", "POST", "/v2/models/iris/versions/stable/infer", irisInfer, "stable", "/v2/models/iris/versions/1/infer", `"model_version":"1"`},
				{"pinned to the other", "POST", "/v2/models/iris/versions/canary/infer", irisInfer, "canary", "/v2/models/iris/versions/2/infer", `"model_version":"2"`},
				{"pinned metadata", "GET", "/v2/models/iris/versions/canary", "", "canary", "/v2/models/iris/versions/2", `"versions":["2"]`},
				{"unpinned metadata", "GET", "/v2/models/iris", "", "stable", "/v2/models/iris/versions/1", `"versions":["1"]`},
				{"pinned ready", "GET", "/v2/models/iris/versions/canary/ready", "", "canary", "/v2/models/iris/versions/2/ready", ""},
			}},
		{desc: "TF Serving", cv1: "1", cv2: "2", extra: `health_check: {path: "/v1/models/{model}"}`,
			server: func() (http.Handler, *standin.Recorder) {
				tf := standin.NewTFServing("iris", iris("1", "2")...)
				return tf, &tf.Recorder
			},
			unversioned: []string{"/v1/models/iris:predict"},
			calls: []call{
				{"unpinned predict", "POST", "/v1/models/iris:predict", irisPredict, "stable", "/v1/models/iris/versions/1:predict", `"predictions"`},
				{"pinned predict", "POST", "/v1/models/iris/versions/canary:predict", irisPredict, "canary", "/v1/models/iris/versions/2:predict", `"predictions"`},
				{"pinned status", "GET", "/v1/models/iris/versions/canary", "", "canary", "/v1/models/iris/versions/2", `"version": "2"`},
				{"unpinned status", "GET", "/v1/models/iris", "", "stable", "/v1/models/iris/versions/1", `"version": "1"`},
			}},
		{desc: "MLServer", cv1: "v0.1.0", cv2: "v0.2.0",
			server: func() (http.Handler, *standin.Recorder) {
				ml := standin.NewMLServer("iris", iris("v0.1.0", "v0.2.0")...)
				return ml, &ml.Recorder
			},
			unversioned: []string{"/v2/models/iris/infer"},
			calls: []call{
				{"unpinned infer", "POST", "/v2/models/iris/infer", irisInfer, "stable", "/v2/models/iris/versions/v0.1.0/infer", `"model_version":"v0.1.0"`},
				{"pinned infer", "POST", "/v2/models/iris/versions/canary/infer", irisInfer, "canary", "/v2/models/iris/versions/v0.2.0/infer", `"model_version":"v0.2.0"`},
				{"pinned ready", "GET", "/v2/models/iris/versions/stable/ready", "", "stable", "/v2/models/iris/versions/v0.1.0/ready", ""},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			srv, rec := tt.server()
			u, _ := standin.Start(t, srv)
			h := startGateway(t, "tenants:\n"+tenantYAML("acme", "iris", tt.extra, "stable:1:"+u+"@"+tt.cv1, "canary:0:"+u+"@"+tt.cv2))
			key, _ := testKey("acme")
			for _, c := range tt.calls {
				before := rec.PathCount(c.container)
				r := h.do(c.method, c.path, c.body, "X-API-Key", key)
				if r.code != 200 || r.header.Get(HeaderVersion) != c.version || !strings.Contains(r.body, c.wantBody) {
					t.Errorf("%s: got %d (version %q) %s, want 200 from %s containing %s", c.desc, r.code, r.header.Get(HeaderVersion), r.body, c.version, c.wantBody)
				}
				if got := rec.PathCount(c.container) - before; got != 1 {
					t.Errorf("%s: the container got %s %d times, want once (paths: %v)", c.desc, c.container, got, rec.Paths())
				}
			}
			for _, p := range tt.unversioned {
				if n := rec.PathCount(p); n != 0 {
					t.Errorf("the container got the unversioned path %s %d times, want never", p, n)
				}
			}
		})
	}
}

// TestFallbackContainerPath: a request that falls back is sent on the
// fallback version's container path, which differs from the failed one's:
// a pinned request from a versioned container to a KServe-like one (the
// unversioned path), and an unpinned one to a Triton-like container with a
// container_version.
func TestFallbackContainerPath(t *testing.T) {
	t.Run("pinned, versioned to unversioned", func(t *testing.T) {
		ks := standin.NewKServe("iris", standin.Iris(), false)
		u, _ := standin.Start(t, ks)
		h := startGateway(t, "tenants:\n"+tenantYAML("acme", "iris", "health_check: {disabled: true}\nfallback: v1\nfallback_pinned: true",
			"v1:1:"+u, "v2:1:"+deadURL(t)+"@2"))
		key, _ := testKey("acme")
		for _, tt := range []struct{ method, path, body, container string }{
			{"POST", "/v2/models/iris/versions/v2/infer", irisInfer, "/v2/models/iris/infer"},
			{"POST", "/v1/models/iris/versions/v2:predict", irisPredict, "/v1/models/iris:predict"},
			{"GET", "/v2/models/iris/versions/v2", "", "/v2/models/iris"},
		} {
			before := ks.PathCount(tt.container)
			r := h.do(tt.method, tt.path, tt.body, "X-API-Key", key)
			if r.code != 200 || r.header.Get(HeaderVersion) != "v1" {
				t.Errorf("%s %s: got %d (version %q) %s, want 200 from the fallback v1", tt.method, tt.path, r.code, r.header.Get(HeaderVersion), r.body)
			}
			if got := ks.PathCount(tt.container) - before; got != 1 {
				t.Errorf("%s %s: the fallback's container got %s %d times, want once", tt.method, tt.path, tt.container, got)
			}
		}
		if p := versionedPaths(&ks.Recorder); len(p) > 0 {
			t.Errorf("the fallback's container got versioned paths %v, want none", p)
		}
		if fb := h.scrape()["modelgate_fallbacks_total|from=v2|model=iris|tenant=acme|to=v1"]; fb != 3 {
			t.Errorf("modelgate_fallbacks_total{from=v2,to=v1}: got %v, want 3", fb)
		}
	})
	t.Run("unpinned, unversioned to versioned", func(t *testing.T) {
		tr := standin.NewTriton("iris", false, standin.Version{Name: "1", Classifier: standin.Iris()}, standin.Version{Name: "2", Classifier: standin.IrisAlt()})
		u, _ := standin.Start(t, tr)
		h := startGateway(t, "tenants:\n"+tenantYAML("acme", "iris", "health_check: {disabled: true}\nfallback: old",
			"new:1:"+deadURL(t), "old:0:"+u+"@1"))
		key, _ := testKey("acme")
		r := h.do("POST", "/v2/models/iris/infer", irisInfer, "X-API-Key", key)
		if r.code != 200 || r.header.Get(HeaderVersion) != "old" || !strings.Contains(r.body, `"model_version":"1"`) {
			t.Fatalf("got %d (version %q) %s, want 200 from the fallback, Triton's version 1", r.code, r.header.Get(HeaderVersion), r.body)
		}
		if got := tr.PathCount("/v2/models/iris/versions/1/infer"); got != 1 {
			t.Errorf("Triton got /v2/models/iris/versions/1/infer %d times, want once (paths: %v)", got, tr.Paths())
		}
	})
}

// TestShadowContainerPath: the shadow copy is sent on the shadow version's
// container path, not the primary's, in both directions.
func TestShadowContainerPath(t *testing.T) {
	tritonIris := func() *standin.Triton {
		return standin.NewTriton("iris", false, standin.Version{Name: "1", Classifier: standin.Iris()}, standin.Version{Name: "2", Classifier: standin.IrisAlt()})
	}
	tests := []struct {
		desc      string
		primary   func(t *testing.T) string // the primary version's "url[@container_version]"
		shadow    func(t *testing.T) (string, *standin.Recorder)
		container string // the path the shadow's container must receive
	}{
		{"KServe primary, Triton shadow with container_version",
			func(t *testing.T) string {
				u, _ := standin.Start(t, standin.NewKServe("iris", standin.Iris(), false))
				return u
			},
			func(t *testing.T) (string, *standin.Recorder) {
				tr := tritonIris()
				u, _ := standin.Start(t, tr)
				return u + "@2", &tr.Recorder
			},
			"/v2/models/iris/versions/2/infer"},
		{"Triton primary with container_version, KServe shadow",
			func(t *testing.T) string { u, _ := standin.Start(t, tritonIris()); return u + "@1" },
			func(t *testing.T) (string, *standin.Recorder) {
				ks := standin.NewKServe("iris", standin.IrisAlt(), false)
				u, _ := standin.Start(t, ks)
				return u, &ks.Recorder
			},
			"/v2/models/iris/infer"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			shadowURL, rec := tt.shadow(t)
			h := startGateway(t, "tenants:\n"+tenantYAML("acme", "iris", "health_check: {disabled: true}\nshadow: {version: v2}",
				"v1:1:"+tt.primary(t), "v2:0:"+shadowURL))
			key, _ := testKey("acme")
			const n = 3
			for range n {
				if r := h.do("POST", "/v2/models/iris/infer", irisInfer, "X-API-Key", key); r.code != 200 || r.header.Get(HeaderVersion) != "v1" {
					t.Fatalf("got %d (version %q) %s, want 200 from v1", r.code, r.header.Get(HeaderVersion), r.body)
				}
			}
			await.Until(t, 10*time.Second, "every copy compared", func() bool { return h.shadowStatsOf("acme", "iris").Requests == n })
			st := h.shadowStatsOf("acme", "iris")
			if st.Outcomes["shadow_error"] != 0 {
				t.Errorf("outcomes %v, want no shadow_error", st.Outcomes)
			}
			if got := rec.PathCount(tt.container); got != n {
				t.Errorf("the shadow's container got %s %d times, want %d (paths: %v)", tt.container, got, n, rec.Paths())
			}
		})
	}
}

// TestContainerPathAllocs: a pinned request and one to a version with a
// container_version allocate nothing on the request path.
func TestContainerPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var last atomic.Pointer[string] // the last path the backend received
	last.Store(new(string))
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) != *last.Load() {
			p := string(ctx.Path()) // allocates in the backend only, and only on change
			last.Store(&p)
		}
		ctx.SetContentType("application/json")
		ctx.SetBody(benchResponse)
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown() })
	u := "http://" + ln.Addr().String()
	g := newQuietGateway(t, parseConfig(t, "server:\n  listen: 127.0.0.1:0\n  admin_listen: 127.0.0.1:0\ntenants:\n"+
		tenantYAML("acme", "fraud", "health_check: {disabled: true}", "v1:1:"+u, "v2:0:"+u+"@7")))
	for _, tt := range []struct{ path, container string }{
		{"/v2/models/fraud/versions/v1/infer", "/v2/models/fraud/infer"},
		{"/v2/models/fraud/versions/v2/infer", "/v2/models/fraud/versions/7/infer"},
		{"/v1/models/fraud/versions/v2:predict", "/v1/models/fraud/versions/7:predict"},
	} {
		serve := inProcess(t, g, "acme", tt.path)
		for range 50 {
			serve()
		}
		if got := *last.Load(); got != tt.container {
			t.Errorf("%s: the container got %q, want %q", tt.path, got, tt.container)
		}
		if n := testing.AllocsPerRun(200, serve); n != 0 {
			t.Errorf("%s: got %v allocations per request, want 0", tt.path, n)
		}
	}
}
