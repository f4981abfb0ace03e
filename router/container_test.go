package router

import (
	"bytes"
	"strings"
	"testing"
)

func TestAppendContainerPath(t *testing.T) {
	tests := []struct {
		desc string
		path string // the client's path, parsed
		cv   string // the chosen version's container version
		want string
	}{
		{desc: "infer, unversioned", path: "/v2/models/fraud/infer", want: "/v2/models/fraud/infer"},
		{desc: "pinned infer, no container version", path: "/v2/models/fraud/versions/v2/infer", want: "/v2/models/fraud/infer"},
		{desc: "pinned infer, container version", path: "/v2/models/fraud/versions/v2/infer", cv: "1", want: "/v2/models/fraud/versions/1/infer"},
		{desc: "unpinned infer, container version", path: "/v2/models/fraud/infer", cv: "1", want: "/v2/models/fraud/versions/1/infer"},
		{desc: "metadata", path: "/v2/models/fraud", want: "/v2/models/fraud"},
		{desc: "pinned metadata", path: "/v2/models/fraud/versions/v2", want: "/v2/models/fraud"},
		{desc: "metadata, container version", path: "/v2/models/fraud/versions/v2", cv: "v0.1.0", want: "/v2/models/fraud/versions/v0.1.0"},
		{desc: "ready", path: "/v2/models/fraud/ready", want: "/v2/models/fraud/ready"},
		{desc: "pinned ready", path: "/v2/models/fraud/versions/v2/ready", want: "/v2/models/fraud/ready"},
		{desc: "ready, container version", path: "/v2/models/fraud/ready", cv: "3", want: "/v2/models/fraud/versions/3/ready"},
		{desc: "v1 predict", path: "/v1/models/fraud:predict", want: "/v1/models/fraud:predict"},
		{desc: "pinned v1 predict", path: "/v1/models/fraud/versions/v2:predict", want: "/v1/models/fraud:predict"},
		{desc: "v1 predict, container version", path: "/v1/models/fraud/versions/v2:predict", cv: "2", want: "/v1/models/fraud/versions/2:predict"},
		{desc: "pinned v1 explain", path: "/v1/models/fraud/versions/v2:explain", want: "/v1/models/fraud:explain"},
		{desc: "v1 explain, container version", path: "/v1/models/fraud:explain", cv: "2", want: "/v1/models/fraud/versions/2:explain"},
		{desc: "v1 status", path: "/v1/models/fraud", want: "/v1/models/fraud"},
		{desc: "pinned v1 status", path: "/v1/models/fraud/versions/v2", want: "/v1/models/fraud"},
		{desc: "v1 status, container version", path: "/v1/models/fraud", cv: "7", want: "/v1/models/fraud/versions/7"},
		{desc: "model named versions", path: "/v2/models/versions/versions/versions/infer", cv: "versions", want: "/v2/models/versions/versions/versions/infer"},
		{desc: "openai chat: fixed path", path: "/openai/v1/chat/completions", cv: "1", want: "/v1/chat/completions"},
		{desc: "openai completions, unprefixed", path: "/v1/completions", want: "/v1/completions"},
		{desc: "openai embeddings", path: "/openai/v1/embeddings", cv: "7", want: "/v1/embeddings"},
		{desc: "openai model list: nothing appended", path: "/openai/v1/models", want: ""},
		{desc: "not proxied: nothing appended", path: "/v2/health/ready", cv: "1", want: ""},
		{desc: "model list: nothing appended", path: "/v2/models", want: ""},
		{desc: "not found: nothing appended", path: "/v3/x", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			r := ParsePath([]byte(tt.path))
			got := AppendContainerPath([]byte("keep:"), r, []byte(tt.cv))
			if string(got) != "keep:"+tt.want {
				t.Errorf("AppendContainerPath(%s, %q): got %q, want %q after the caller's bytes", tt.path, tt.cv, got, "keep:"+tt.want)
			}
		})
	}
}

func TestAppendContainerPathLongest(t *testing.T) {
	name := strings.Repeat("m", 128)
	cv := strings.Repeat("v", 128)
	for k := KindInfer; k <= KindEmbedding; k++ {
		got := AppendContainerPath(nil, Route{Kind: k, Model: []byte(name)}, []byte(cv))
		if len(got) > MaxContainerPath {
			t.Errorf("%v: got %d bytes, over MaxContainerPath %d", k, len(got), MaxContainerPath)
		}
	}
	if got := AppendContainerPath(nil, Route{Kind: KindPredict, Model: []byte(name)}, []byte(cv)); len(got) != MaxContainerPath {
		t.Errorf("longest path: got %d bytes, want MaxContainerPath %d", len(got), MaxContainerPath)
	}
}

func TestAppendContainerPathDoesNotAllocate(t *testing.T) {
	r := ParsePath([]byte("/v2/models/fraud/versions/v2/infer"))
	cv := []byte("1")
	var buf [MaxContainerPath]byte
	if n := testing.AllocsPerRun(100, func() { _ = AppendContainerPath(buf[:0], r, cv) }); n != 0 {
		t.Errorf("got %v allocations per AppendContainerPath into a large enough buffer, want 0", n)
	}
}

func TestContainerPaths(t *testing.T) {
	tests := []struct {
		desc, cv string
		want     map[Kind]string
	}{
		{"unversioned", "", map[Kind]string{
			KindInfer: "/v2/models/fraud/infer", KindModelMeta: "/v2/models/fraud", KindModelReady: "/v2/models/fraud/ready",
			KindPredict: "/v1/models/fraud:predict", KindExplain: "/v1/models/fraud:explain", KindV1Status: "/v1/models/fraud",
			KindChat: "/v1/chat/completions", KindCompletion: "/v1/completions", KindEmbedding: "/v1/embeddings",
		}},
		{"container version 1", "1", map[Kind]string{
			KindInfer: "/v2/models/fraud/versions/1/infer", KindModelMeta: "/v2/models/fraud/versions/1",
			KindModelReady: "/v2/models/fraud/versions/1/ready", KindPredict: "/v1/models/fraud/versions/1:predict",
			KindExplain: "/v1/models/fraud/versions/1:explain", KindV1Status: "/v1/models/fraud/versions/1",
			KindChat: "/v1/chat/completions", KindCompletion: "/v1/completions", KindEmbedding: "/v1/embeddings",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			p := NewContainerPaths("fraud", tt.cv)
			if len(p.buf) != cap(p.buf) {
				t.Errorf("buffer: %d bytes used of %d allocated, want exactly what the paths need", len(p.buf), cap(p.buf))
			}
			for k := KindNotFound; k <= KindEmbedding+1; k++ {
				got := p.Of(k)
				if want, ok := tt.want[k]; string(got) != want || ok != (got != nil) {
					t.Errorf("Of(%d): got %q, want %q", k, got, want)
				}
				if cap(got) != len(got) {
					t.Errorf("Of(%v): capacity %d beyond its length %d: an append would overwrite the next path", k, cap(got), len(got))
				}
			}
		})
	}
	var zero ContainerPaths
	if got := zero.Of(KindInfer); got != nil {
		t.Errorf("zero ContainerPaths: got %q, want nil", got)
	}
	p := NewContainerPaths("fraud", "1")
	if n := testing.AllocsPerRun(100, func() { _ = p.Of(KindPredict) }); n != 0 {
		t.Errorf("got %v allocations per Of, want 0", n)
	}
}

// checkContainerPath checks that the container path built for r with cv
// parses back to r's kind and model with cv as its version (an OpenAI
// kind: to its kind, with no names).
func checkContainerPath(t *testing.T, path []byte, r Route, cv []byte) {
	t.Helper()
	var buf [MaxContainerPath]byte
	got := AppendContainerPath(buf[:0], r, cv)
	if len(got) > MaxContainerPath {
		t.Fatalf("%q with container version %q: %d bytes, over MaxContainerPath", path, cv, len(got))
	}
	back := ParsePath(got)
	if r.Kind.OpenAI() {
		cv = nil
	}
	if back.Kind != r.Kind || !bytes.Equal(back.Model, r.Model) || !bytes.Equal(back.Version, cv) {
		t.Fatalf("%q (%v %q) with container version %q: container path %q parses to %v %q/%q",
			path, r.Kind, r.Model, cv, got, back.Kind, back.Model, back.Version)
	}
}
