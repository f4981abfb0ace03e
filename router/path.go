package router

import (
	"bytes"

	"github.com/modelgate/modelgate/configs"
)

// Kind is what a request path asks for.
type Kind uint8

// The kinds of request path the gateway serves.
const (
	KindNotFound     Kind = iota // no such API path
	KindBadName                  // API path with an invalid model or version name
	KindLive                     // GET /v2/health/live (the gateway itself)
	KindReady                    // GET /v2/health/ready (the gateway itself)
	KindServerMeta               // GET /v2 (the gateway's OIP server metadata, for a tenant)
	KindModelList                // GET /v2/models, GET /v1/models (the tenant's models)
	KindOpenAIModels             // GET /openai/v1/models (the tenant's models, OpenAI's list shape)
	KindInfer                    // POST /v2/models/{m}[/versions/{v}]/infer
	KindModelMeta                // GET  /v2/models/{m}[/versions/{v}]
	KindModelReady               // GET  /v2/models/{m}[/versions/{v}]/ready
	KindPredict                  // POST /v1/models/{m}[/versions/{v}]:predict
	KindExplain                  // POST /v1/models/{m}[/versions/{v}]:explain
	KindV1Status                 // GET  /v1/models/{m}[/versions/{v}]
	KindChat                     // POST [/openai]/v1/chat/completions (model in the body)
	KindCompletion               // POST [/openai]/v1/completions (model in the body)
	KindEmbedding                // POST [/openai]/v1/embeddings (model in the body)
)

// Route is a parsed request path. Model and Version alias the parsed path:
// they are valid only as long as the path bytes are. The OpenAI kinds
// (Kind.OpenAI) name no model in the path: Model and Version are nil, and
// the gateway reads the model from the body (router/openai).
type Route struct {
	Kind    Kind
	Model   []byte
	Version []byte // empty unless pinned
}

// Pinned reports whether the path names a version.
func (r Route) Pinned() bool { return len(r.Version) > 0 }

// Method is the HTTP method the route's kind accepts.
func (k Kind) Method() string {
	switch k {
	case KindInfer, KindPredict, KindExplain, KindChat, KindCompletion, KindEmbedding:
		return "POST"
	default:
		return "GET"
	}
}

// Proxied reports whether requests of this kind go to a model container.
func (k Kind) Proxied() bool { return k >= KindInfer }

// Tenant reports whether the gateway answers requests of this kind itself
// for the caller's tenant (an API key is required): server metadata and
// the model list.
func (k Kind) Tenant() bool {
	return k == KindServerMeta || k == KindModelList || k == KindOpenAIModels
}

// OpenAI reports whether the kind is one of OpenAI's API paths: its
// errors take OpenAI's shape ({"error": {"message", "type", "code"}}),
// and a proxied one names its model in the body.
func (k Kind) OpenAI() bool { return k == KindOpenAIModels || k >= KindChat }

// String names the kind for logs and spans.
func (k Kind) String() string {
	return [...]string{"not_found", "bad_name", "live", "ready", "server_metadata", "model_list",
		"openai_models", "infer", "model_metadata", "model_ready", "predict", "explain", "v1_status",
		"chat_completions", "completions", "embeddings"}[k]
}

var (
	prefixV2Models = []byte("/v2/models/")
	prefixV1Models = []byte("/v1/models/")
	segVersions    = []byte("versions")
)

// The OpenAI paths: exact, with or without the /openai prefix (KServe
// serves them under /openai/v1/...; OpenAI's clients append /chat/completions
// and so on to a base URL ending in /v1). None starts with /v1/models/ or
// /v2/models/, so they never collide with the KServe V1 and OIP paths.
const (
	pathChat       = "/v1/chat/completions"
	pathCompletion = "/v1/completions"
	pathEmbedding  = "/v1/embeddings"
	prefixOpenAI   = "/openai"
)

// ParsePath parses a normalized request path (as fasthttp's Path() returns
// it: percent-decoded, dot segments resolved, slashes merged). Model and
// version names must satisfy configs.ValidName; a path of the right shape
// with a bad name is KindBadName. The OpenAI paths are matched exactly:
// /v1/chat/completions, /v1/completions, /v1/embeddings, each also under
// /openai, and GET /openai/v1/models (GET /v1/models stays KServe's V1
// model list). It does not allocate.
func ParsePath(path []byte) Route {
	if k := openAIKind(path); k != KindNotFound {
		return Route{Kind: k}
	}
	switch {
	case bytes.HasPrefix(path, prefixV2Models):
		return parseV2(path[len(prefixV2Models):])
	case bytes.HasPrefix(path, prefixV1Models):
		return parseV1(path[len(prefixV1Models):])
	case string(path) == "/v2/health/live":
		return Route{Kind: KindLive}
	case string(path) == "/v2/health/ready":
		return Route{Kind: KindReady}
	case string(path) == "/v2":
		return Route{Kind: KindServerMeta}
	case string(path) == "/v2/models" || string(path) == "/v1/models":
		return Route{Kind: KindModelList}
	}
	return Route{}
}

// openAIKind is the OpenAI kind of path, KindNotFound for none.
func openAIKind(path []byte) Kind {
	p := path
	if bytes.HasPrefix(p, []byte(prefixOpenAI)) {
		p = p[len(prefixOpenAI):]
		if string(p) == "/v1/models" {
			return KindOpenAIModels
		}
	}
	switch string(p) {
	case pathChat:
		return KindChat
	case pathCompletion:
		return KindCompletion
	case pathEmbedding:
		return KindEmbedding
	}
	return KindNotFound
}

// parseV2 parses what follows /v2/models/.
func parseV2(rest []byte) Route {
	var segs [5][]byte
	n, ok := split(rest, segs[:])
	if !ok || n == 0 {
		return Route{}
	}
	r := Route{Model: segs[0]}
	tail := segs[1:n]
	if len(tail) >= 2 && bytes.Equal(tail[0], segVersions) {
		r.Version = tail[1]
		tail = tail[2:]
	}
	switch {
	case len(tail) == 0:
		r.Kind = KindModelMeta
	case len(tail) == 1 && string(tail[0]) == "infer":
		r.Kind = KindInfer
	case len(tail) == 1 && string(tail[0]) == "ready":
		r.Kind = KindModelReady
	default:
		return Route{}
	}
	return checkNames(r)
}

// parseV1 parses what follows /v1/models/.
func parseV1(rest []byte) Route {
	var segs [3][]byte
	n, ok := split(rest, segs[:])
	if !ok || n == 0 || n == 2 {
		return Route{}
	}
	last := segs[n-1]
	verb := KindV1Status
	if i := bytes.LastIndexByte(last, ':'); i >= 0 {
		switch string(last[i+1:]) {
		case "predict":
			verb = KindPredict
		case "explain":
			verb = KindExplain
		default:
			return Route{}
		}
		segs[n-1] = last[:i]
	}
	r := Route{Kind: verb, Model: segs[0]}
	if n == 3 {
		if !bytes.Equal(segs[1], segVersions) {
			return Route{}
		}
		r.Version = segs[2]
	}
	return checkNames(r)
}

func checkNames(r Route) Route {
	if !configs.ValidName(r.Model) || (r.Version != nil && !configs.ValidName(r.Version)) {
		return Route{Kind: KindBadName}
	}
	return r
}

// split cuts p at '/' into out, reporting false if there are more segments
// than fit, or an empty segment (a trailing slash, say).
func split(p []byte, out [][]byte) (int, bool) {
	n := 0
	for len(p) > 0 {
		if n == len(out) {
			return n, false
		}
		i := bytes.IndexByte(p, '/')
		if i < 0 {
			out[n] = p
			return n + 1, true
		}
		if i == 0 {
			return n, false
		}
		out[n] = p[:i]
		n++
		p = p[i+1:]
		if len(p) == 0 {
			return n, false
		}
	}
	return n, true
}
