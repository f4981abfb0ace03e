package router

import "testing"

func TestParsePath(t *testing.T) {
	tests := []struct {
		path    string
		kind    Kind
		model   string
		version string
	}{
		{"/v2/health/live", KindLive, "", ""},
		{"/v2/health/ready", KindReady, "", ""},
		{"/v2", KindServerMeta, "", ""},
		{"/v2/models", KindModelList, "", ""},
		{"/v1/models", KindModelList, "", ""},
		{"/v2/models/fraud/infer", KindInfer, "fraud", ""},
		{"/v2/models/fraud/versions/v2/infer", KindInfer, "fraud", "v2"},
		{"/v2/models/fraud", KindModelMeta, "fraud", ""},
		{"/v2/models/fraud/versions/v2", KindModelMeta, "fraud", "v2"},
		{"/v2/models/fraud/ready", KindModelReady, "fraud", ""},
		{"/v2/models/fraud/versions/v2/ready", KindModelReady, "fraud", "v2"},
		{"/v1/models/fraud:predict", KindPredict, "fraud", ""},
		{"/v1/models/fraud/versions/3:predict", KindPredict, "fraud", "3"},
		{"/v1/models/fraud:explain", KindExplain, "fraud", ""},
		{"/v1/models/fraud", KindV1Status, "fraud", ""},
		{"/v1/models/fraud/versions/3", KindV1Status, "fraud", "3"},
		{"/v2/models/model.v1_x-y/infer", KindInfer, "model.v1_x-y", ""},

		{"/openai/v1/chat/completions", KindChat, "", ""},
		{"/openai/v1/completions", KindCompletion, "", ""},
		{"/openai/v1/embeddings", KindEmbedding, "", ""},
		{"/openai/v1/models", KindOpenAIModels, "", ""},
		{"/v1/chat/completions", KindChat, "", ""},
		{"/v1/completions", KindCompletion, "", ""},
		{"/v1/embeddings", KindEmbedding, "", ""},
		{"/v1/models/chat", KindV1Status, "chat", ""}, // a KServe model named "chat"
		{"/v1/models/completions:predict", KindPredict, "completions", ""},
		{"/v1/models/embeddings/versions/2:explain", KindExplain, "embeddings", "2"},

		{"/", KindNotFound, "", ""},
		{"/openai", KindNotFound, "", ""},
		{"/openai/v1", KindNotFound, "", ""},
		{"/openai/v1/models/fraud", KindNotFound, "", ""},
		{"/openai/v2/models/fraud/infer", KindNotFound, "", ""},
		{"/openai/v1/chat/completions/", KindNotFound, "", ""},
		{"/v1/chat", KindNotFound, "", ""},
		{"/v1/chat/completions/x", KindNotFound, "", ""},
		{"/OPENAI/v1/chat/completions", KindNotFound, "", ""},
		{"/v1/embeddings:predict", KindNotFound, "", ""},
		{"/v2/health", KindNotFound, "", ""},
		{"/v2/", KindNotFound, "", ""},
		{"/v1", KindNotFound, "", ""},
		{"/v1/models/", KindNotFound, "", ""},
		{"/v2/modelsx", KindNotFound, "", ""},
		{"/v2/models/", KindNotFound, "", ""},
		{"/v2/models/fraud/", KindNotFound, "", ""},
		{"/v2/models/fraud/infer/", KindNotFound, "", ""},
		{"/v2/models/fraud/predict", KindNotFound, "", ""},
		{"/v2/models/fraud/versions/infer", KindModelMeta, "fraud", "infer"}, // a version named "infer"
		{"/v2/models/fraud/versions/v1/infer/x", KindNotFound, "", ""},
		{"/v2/models//infer", KindNotFound, "", ""},
		{"/v1/models/fraud:train", KindNotFound, "", ""},
		{"/v1/models/fraud/3:predict", KindNotFound, "", ""},
		{"/v1/models/fraud/releases/3:predict", KindNotFound, "", ""},
		{"/v3/models/fraud/infer", KindNotFound, "", ""},

		{"/v2/models/fr aud/infer", KindBadName, "", ""},
		{"/v2/models/../infer", KindBadName, "", ""},
		{"/v2/models/fraud/versions/v%01/infer", KindBadName, "", ""},
		{"/v1/models/..:predict", KindBadName, "", ""},
		{"/v1/models/fraud/versions/.:predict", KindBadName, "", ""},
		{"/v1/models/:predict", KindBadName, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got := ParsePath([]byte(tt.path))
			if got.Kind != tt.kind || string(got.Model) != tt.model || string(got.Version) != tt.version {
				t.Errorf("got {%v %q %q}, want {%v %q %q}", got.Kind, got.Model, got.Version, tt.kind, tt.model, tt.version)
			}
		})
	}
}

func TestKindMethodAndProxied(t *testing.T) {
	for _, tt := range []struct {
		kind            Kind
		method          string
		proxied, tenant bool
	}{
		{KindInfer, "POST", true, false}, {KindPredict, "POST", true, false}, {KindExplain, "POST", true, false},
		{KindModelMeta, "GET", true, false}, {KindModelReady, "GET", true, false}, {KindV1Status, "GET", true, false},
		{KindServerMeta, "GET", false, true}, {KindModelList, "GET", false, true}, {KindOpenAIModels, "GET", false, true},
		{KindChat, "POST", true, false}, {KindCompletion, "POST", true, false}, {KindEmbedding, "POST", true, false},
		{KindLive, "GET", false, false}, {KindReady, "GET", false, false}, {KindNotFound, "GET", false, false}, {KindBadName, "GET", false, false},
	} {
		if got := tt.kind.Method(); got != tt.method {
			t.Errorf("%v.Method(): got %s, want %s", tt.kind, got, tt.method)
		}
		if got := tt.kind.Proxied(); got != tt.proxied {
			t.Errorf("%v.Proxied(): got %v, want %v", tt.kind, got, tt.proxied)
		}
		if got := tt.kind.Tenant(); got != tt.tenant {
			t.Errorf("%v.Tenant(): got %v, want %v", tt.kind, got, tt.tenant)
		}
	}
}

func TestParsePathDoesNotAllocate(t *testing.T) {
	p := []byte("/v2/models/fraud/versions/v2/infer")
	if n := testing.AllocsPerRun(100, func() { _ = ParsePath(p) }); n != 0 {
		t.Errorf("got %v allocations per ParsePath, want 0", n)
	}
}

// TestOpenAIPathsDoNotCollide: no KServe V1 or OIP path parses to an
// OpenAI kind and no OpenAI path to a KServe or OIP one, for every model
// name that could be mistaken for a piece of an OpenAI path.
func TestOpenAIPathsDoNotCollide(t *testing.T) {
	names := []string{"chat", "completions", "embeddings", "models", "v1", "openai", "chat.completions"}
	for _, m := range names {
		for _, p := range []string{
			"/v1/models/" + m, "/v1/models/" + m + ":predict", "/v1/models/" + m + ":explain",
			"/v1/models/" + m + "/versions/1:predict", "/v2/models/" + m + "/infer", "/v2/models/" + m,
		} {
			if got := ParsePath([]byte(p)); got.Kind.OpenAI() || string(got.Model) != m {
				t.Errorf("%s: got {%v %q}, want a KServe/OIP kind for model %q", p, got.Kind, got.Model, m)
			}
		}
	}
	for p := range openAIPaths {
		if got := ParsePath([]byte(p)); !got.Kind.OpenAI() {
			t.Errorf("%s: got %v, want an OpenAI kind", p, got.Kind)
		}
	}
	if got := ParsePath([]byte("/v1/models")); got.Kind != KindModelList {
		t.Errorf("/v1/models: got %v, want KServe's model list", got.Kind)
	}
	p := []byte("/openai/v1/chat/completions")
	if n := testing.AllocsPerRun(100, func() { _ = ParsePath(p) }); n != 0 {
		t.Errorf("got %v allocations per ParsePath of an OpenAI path, want 0", n)
	}
}
