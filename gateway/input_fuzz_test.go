package gateway

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/modelgate/modelgate/router"
	"github.com/valyala/fasthttp"
)

// FuzzUpstreamPath checks, for any request-target, that a request the
// gateway would proxy reaches the model container with exactly the path
// the route was decided on: the target is parsed as fasthttp's server does,
// rewritten by prepareUpstreamRequest, written as the upstream HostClient
// writes it (path normalization disabled), and read back as the container's
// HTTP server would. Seeds: testdata/fuzz/FuzzUpstreamPath.
func FuzzUpstreamPath(f *testing.F) {
	for _, s := range []string{
		"/v2/models/fraud/infer", "//v2//models//fraud//infer", "/v2/models/x/%2e%2e/fraud/infer",
		"/v2/models/fraud%2Finfer", "/v1/models/fraud/versions/v1:predict?x=%2e%2e#frag",
		"/v2/models/%66raud/versions/v%31/ready", "/v2/models/a/../b/infer?q=/../",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		var req fasthttp.Request
		req.Header.SetMethod("POST")
		req.SetRequestURI(target)
		routed := string(req.URI().Path())
		rt := router.ParsePath([]byte(routed))
		if !rt.Kind.Proxied() {
			return
		}
		var rid [maxRequestIDLen]byte
		prepareUpstreamRequest(&req, []byte("acme"), []byte("v1"), requestID(nil, rid[:]))
		req.URI().DisablePathNormalizing = true // as the endpoint's HostClient does
		req.SetHost("model:8000")
		var wire bytes.Buffer
		w := bufio.NewWriter(&wire)
		if err := req.Write(w); err != nil {
			t.Fatalf("target %q: writing the upstream request: %v", target, err)
		}
		w.Flush()
		var got fasthttp.Request
		if err := got.Read(bufio.NewReader(bytes.NewReader(wire.Bytes()))); err != nil {
			t.Fatalf("target %q: the container cannot read the request %q: %v", target, wire.String(), err)
		}
		if p := string(got.URI().PathOriginal()); p != routed {
			t.Fatalf("target %q: routed on %q, container got raw path %q", target, routed, p)
		}
		if p := string(got.URI().Path()); p != routed {
			t.Fatalf("target %q: routed on %q, container normalizes to %q", target, routed, p)
		}
	})
}
