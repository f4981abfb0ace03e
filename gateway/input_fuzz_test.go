package gateway

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/modelgate/modelgate/router"
	"github.com/valyala/fasthttp"
)

// FuzzUpstreamPath checks, for any request-target, that a request the
// gateway would proxy reaches the model container with exactly the
// container path of the route it was decided on (the model's unversioned
// path, or the versioned one naming a container_version), never anything
// of the client's raw path: the target is parsed as fasthttp's server does,
// rewritten by prepareUpstreamRequest with the version's precomputed path,
// written as the upstream HostClient writes it (path normalization
// disabled), and read back as the container's HTTP server would. Seeds:
// testdata/fuzz/FuzzUpstreamPath.
func FuzzUpstreamPath(f *testing.F) {
	for _, s := range []string{
		"/v2/models/fraud/infer", "//v2//models//fraud//infer", "/v2/models/x/%2e%2e/fraud/infer",
		"/v2/models/fraud%2Finfer", "/v1/models/fraud/versions/v1:predict?x=%2e%2e#frag",
		"/v2/models/%66raud/versions/v%31/ready", "/v2/models/a/../b/infer?q=/../",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		for _, cv := range []string{"", "1"} {
			upstreamPath(t, target, cv)
		}
	})
}

// upstreamPath is one FuzzUpstreamPath check, for a version whose
// container_version is cv.
func upstreamPath(t *testing.T, target, cv string) {
	var req fasthttp.Request
	req.Header.SetMethod("POST")
	req.SetRequestURI(target)
	rt := router.ParsePath(req.URI().Path())
	if !rt.Kind.Proxied() {
		return
	}
	paths := router.NewContainerPaths(string(rt.Model), cv)
	routed := string(router.AppendContainerPath(nil, rt, []byte(cv)))
	if p := string(paths.Of(rt.Kind)); p != routed {
		t.Fatalf("target %q, container version %q: precomputed path %q, built %q", target, cv, p, routed)
	}
	var rid [maxRequestIDLen]byte
	prepareUpstreamRequest(&req, paths.Of(rt.Kind), []byte("acme"), []byte("v1"), requestID(nil, rid[:]))
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
}
