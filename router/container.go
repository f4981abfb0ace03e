package router

import "github.com/modelgate/modelgate/configs"

// MaxContainerPath is the longest path AppendContainerPath builds from
// valid names (configs.ValidName: at most configs.MaxNameLen each):
// "/v1/models/" + model + "/versions/" + container version + ":predict".
const MaxContainerPath = len("/v1/models/") + configs.MaxNameLen + len("/versions/") + configs.MaxNameLen + len(":predict")

// AppendContainerPath appends to dst the path a model container receives
// for r, a parsed proxied route, when the request is sent to a version
// whose container version is cv:
//
//   - cv empty: r's kind on the unversioned path of r.Model,
//     /v2/models/M/infer, /v2/models/M, /v2/models/M/ready,
//     /v1/models/M:predict, /v1/models/M:explain, /v1/models/M;
//   - cv set: the versioned path naming cv, /v2/models/M/versions/cv/infer,
//     /v1/models/M/versions/cv:predict and so on;
//   - an OpenAI kind (Kind.OpenAI): OpenAI's path without the /openai
//     prefix, /v1/chat/completions, /v1/completions, /v1/embeddings,
//     whatever r.Model and cv are (the model is named in the body, which
//     the gateway rewrites for a version's upstream_model).
//
// r.Version — the gateway's own version name, which only chose the version
// — is never sent. With valid names the result parses back (ParsePath) to
// r's kind and model with cv as its version (an OpenAI kind: to its kind).
// For a kind that is not
// proxied it returns dst unchanged. It allocates only when dst lacks the
// capacity (MaxContainerPath is always enough).
func AppendContainerPath(dst []byte, r Route, cv []byte) []byte {
	var tail string
	switch r.Kind {
	case KindInfer:
		tail = "/infer"
	case KindModelMeta:
	case KindModelReady:
		tail = "/ready"
	case KindPredict:
		tail = ":predict"
	case KindExplain:
		tail = ":explain"
	case KindV1Status:
	case KindChat:
		return append(dst, pathChat...)
	case KindCompletion:
		return append(dst, pathCompletion...)
	case KindEmbedding:
		return append(dst, pathEmbedding...)
	default:
		return dst
	}
	if r.Kind >= KindPredict { // KServe V1 (the OpenAI kinds returned above)
		dst = append(dst, prefixV1Models...)
	} else {
		dst = append(dst, prefixV2Models...)
	}
	dst = append(dst, r.Model...)
	if len(cv) > 0 {
		dst = append(dst, "/versions/"...)
		dst = append(dst, cv...)
	}
	return append(dst, tail...)
}

// numProxied is the number of proxied kinds, KindInfer to KindEmbedding.
const numProxied = int(KindEmbedding-KindInfer) + 1

// ContainerPaths holds the container path of every proxied kind for one
// version of one model (AppendContainerPath with the model's name and the
// version's container version), built once per routing snapshot so the
// request path only looks its path up. The zero value has no paths.
// Read-only after NewContainerPaths: safe for concurrent use.
type ContainerPaths struct {
	buf []byte             // the paths, one after the other in kind order
	end [numProxied]uint16 // end of each kind's path in buf
}

// NewContainerPaths builds the container paths of model's version whose
// container version is cv ("" for the unversioned paths). model and cv
// must be valid names (configs.ValidName), as validated configs have them.
func NewContainerPaths(model, cv string) ContainerPaths {
	// Exactly the bytes needed: a snapshot holds one of these per model
	// and one per version with a container version.
	n := len("/v2/models/") + len(model)
	if cv != "" {
		n += len("/versions/") + len(cv)
	}
	var p ContainerPaths
	p.buf = make([]byte, 0, 6*n+len("/infer/ready:predict:explain")+len(pathChat+pathCompletion+pathEmbedding))
	m, v := []byte(model), []byte(cv)
	for i := range numProxied {
		p.buf = AppendContainerPath(p.buf, Route{Kind: KindInfer + Kind(i), Model: m}, v)
		p.end[i] = uint16(len(p.buf))
	}
	return p
}

// Of returns the container path for requests of kind k, nil for a kind
// that is not proxied. The bytes belong to p: callers copy them (fasthttp's
// URI.SetPathBytes does) and never modify them.
func (p *ContainerPaths) Of(k Kind) []byte {
	if !k.Proxied() || k > KindEmbedding || len(p.buf) == 0 {
		return nil
	}
	i := int(k - KindInfer)
	start := 0
	if i > 0 {
		start = int(p.end[i-1])
	}
	return p.buf[start:p.end[i]:p.end[i]]
}
