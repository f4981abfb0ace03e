package router

import (
	"bytes"
	"testing"

	"github.com/modelgate/modelgate/configs"
)

// render is the canonical path of a parsed proxied route.
func render(r Route) string {
	var b bytes.Buffer
	switch r.Kind {
	case KindChat:
		return "/v1/chat/completions"
	case KindCompletion:
		return "/v1/completions"
	case KindEmbedding:
		return "/v1/embeddings"
	case KindInfer, KindModelMeta, KindModelReady:
		b.WriteString("/v2/models/")
	default:
		b.WriteString("/v1/models/")
	}
	b.Write(r.Model)
	if r.Pinned() {
		b.WriteString("/versions/")
		b.Write(r.Version)
	}
	switch r.Kind {
	case KindInfer:
		b.WriteString("/infer")
	case KindModelReady:
		b.WriteString("/ready")
	case KindPredict:
		b.WriteString(":predict")
	case KindExplain:
		b.WriteString(":explain")
	}
	return b.String()
}

// FuzzParsePath checks ParsePath on any bytes: it never panics; an OpenAI
// kind comes only from one of its exact paths and carries no names, a
// KServe or OIP kind never from a path under /openai or OpenAI's; a proxied
// route has valid names that are sub-slices of the path without '/', its
// canonical rendering parses back to the same route, and so does the
// container path AppendContainerPath builds for it, unversioned or with a
// container version (its own pinned version, or "1"); KindBadName comes
// only from API prefixes. Seeds: testdata/fuzz/FuzzParsePath (run as
// regression tests by plain `go test`).
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{
		"/v2/models/fraud/infer", "/v2/models/fraud/versions/v1/infer", "/v2/models/fraud/ready",
		"/v2/models/fraud", "/v1/models/fraud:predict", "/v1/models/fraud/versions/v2:explain",
		"/v2/health/live", "/v2/models/../x", "/v2/models//infer", "/v1/models/a:b:predict",
		"/v2/models/a/versions//infer", "/v1/models/..:predict", "/v2", "/v2/models", "/v1/models",
		"/v2/models/versions/versions/versions", "/v1/models/fraud/versions/3",
		"/openai/v1/chat/completions", "/v1/chat/completions", "/openai/v1/completions", "/v1/embeddings",
		"/openai/v1/models", "/v1/models/chat/completions", "/v1/models/completions:predict", "/openai/v1/models/x",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, path []byte) {
		in := bytes.Clone(path)
		r := ParsePath(path)
		if !bytes.Equal(in, path) {
			t.Fatalf("ParsePath modified its input %q to %q", in, path)
		}
		_ = r.Kind.String()
		if r.Kind == KindBadName && !bytes.HasPrefix(path, prefixV1Models) && !bytes.HasPrefix(path, prefixV2Models) {
			t.Fatalf("%q: KindBadName outside the model API", path)
		}
		if r.Kind.OpenAI() {
			if !openAIPaths[string(path)] || r.Model != nil || r.Version != nil {
				t.Fatalf("%q: OpenAI kind %v (names %q/%q) from a path that is not one of OpenAI's", path, r.Kind, r.Model, r.Version)
			}
		} else if r.Kind != KindNotFound && (bytes.HasPrefix(path, []byte("/openai/")) || openAIPaths[string(path)]) {
			t.Fatalf("%q: kind %v, want an OpenAI kind or not found", path, r.Kind)
		}
		if !r.Kind.Proxied() {
			if r.Model != nil || r.Version != nil {
				t.Fatalf("%q: kind %v with names %q/%q", path, r.Kind, r.Model, r.Version)
			}
			return
		}
		if r.Kind.OpenAI() {
			checkContainerPath(t, path, r, []byte("1"))
			return
		}
		if !configs.ValidName(r.Model) || (r.Pinned() && !configs.ValidName(r.Version)) {
			t.Fatalf("%q: proxied route with invalid names %q/%q", path, r.Model, r.Version)
		}
		if bytes.IndexByte(r.Model, '/') >= 0 || bytes.IndexByte(r.Version, '/') >= 0 {
			t.Fatalf("%q: names with a slash %q/%q", path, r.Model, r.Version)
		}
		canon := render(r)
		again := ParsePath([]byte(canon))
		if again.Kind != r.Kind || !bytes.Equal(again.Model, r.Model) || !bytes.Equal(again.Version, r.Version) {
			t.Fatalf("%q parsed to %v %q/%q, but its canonical %q parses to %v %q/%q",
				path, r.Kind, r.Model, r.Version, canon, again.Kind, again.Model, again.Version)
		}
		checkContainerPath(t, path, r, nil)
		checkContainerPath(t, path, r, []byte("1"))
		if r.Pinned() {
			checkContainerPath(t, path, r, r.Version)
		}
	})
}

// openAIPaths are the paths of the OpenAI kinds.
var openAIPaths = map[string]bool{
	"/openai/v1/chat/completions": true, "/openai/v1/completions": true, "/openai/v1/embeddings": true,
	"/v1/chat/completions": true, "/v1/completions": true, "/v1/embeddings": true, "/openai/v1/models": true,
}
