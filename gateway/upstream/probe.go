package upstream

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Probe is how a health check's answer is judged. The checked path decides
// it (ProbeOf), so health_check.path is the one setting that picks both
// what is asked and how the answer is read.
type Probe uint8

const (
	// ProbeServer is a server-level or custom path (/v2/health/ready,
	// /ping, /healthz): 2xx is healthy; 404, 405 and 501 mean the container
	// is up but does not serve the path, and count as healthy (the checker
	// warns once): a container without that path would otherwise be out of
	// service for good, and its up-ness is all such a path can tell. Other
	// answers are unhealthy. The body is not read.
	ProbeServer Probe = iota
	// ProbeOIPModel is the Open Inference Protocol's model readiness,
	// /v2/models/{m}/ready or /v2/models/{m}/versions/{v}/ready: ready only
	// on 2xx (a body stating "ready": false vetoes it). Any 4xx means not
	// ready, as the protocol says: KServe, Triton ≥ 2.42 and MLServer
	// answer an unloaded model 404, MLServer a loading one 400, Triton
	// before 2.42 every error 400.
	ProbeOIPModel
	// ProbeV1Model is a V1 model status, /v1/models/{m},
	// /v1/models/{m}/versions/{n} or /v1/models/{m}/labels/{l}: ready only
	// on 2xx whose body, when it states readiness, says ready: KServe V1's
	// {"ready": true}, or TF Serving's model_version_status listing a
	// version in state AVAILABLE (TF Serving answers 200 whatever the state:
	// LOADING, END after an unload). Any other status means not ready.
	ProbeV1Model
)

// MaxProbeBody bounds, in bytes, the answer a model-level check reads: a
// longer answer is not ready ("status answer too large") and is not read
// further. 64 KiB holds a TF Serving status of hundreds of versions.
const MaxProbeBody = 64 << 10

// String names the probe as the docs do.
func (p Probe) String() string {
	switch p {
	case ProbeOIPModel:
		return "oip_model"
	case ProbeV1Model:
		return "v1_model"
	default:
		return "server"
	}
}

// ProbeOf returns how answers on path (the checked path, placeholders
// replaced, any query ignored) are judged. Segments must be non-empty; a
// V1 path with a verb (":predict") is not a status path.
func ProbeOf(path string) Probe {
	path, _, _ = strings.Cut(path, "?")
	if rest, ok := strings.CutPrefix(path, "/v2/models/"); ok {
		s := strings.Split(rest, "/")
		switch {
		case len(s) == 2 && s[0] != "" && s[1] == "ready",
			len(s) == 4 && s[0] != "" && s[1] == "versions" && s[2] != "" && s[3] == "ready":
			return ProbeOIPModel
		}
		return ProbeServer
	}
	if rest, ok := strings.CutPrefix(path, "/v1/models/"); ok && !strings.Contains(rest, ":") {
		s := strings.Split(rest, "/")
		switch {
		case len(s) == 1 && s[0] != "",
			len(s) == 3 && s[0] != "" && (s[1] == "versions" || s[1] == "labels") && s[2] != "":
			return ProbeV1Model
		}
	}
	return ProbeServer
}

// verdict is one check's result. reason is a fixed text for the log (never
// bytes of the answer); empty when OK.
type verdict struct {
	ok bool
	// missing: the container does not serve a server-level path
	// (ProbeServer only), counted as healthy.
	missing bool
	reason  string
}

// Fixed reasons of model-level verdicts.
const (
	reasonStatus     = "status is not 2xx"
	reasonNotFound   = "404: the model is not loaded, or the container does not serve OIP (health_check.path: /v1/models/{model} for V1-only containers, /ping for TorchServe)"
	reasonV1NotFound = "404: the container does not know the model"
	reasonReadyFalse = `answer says "ready": false`
	reasonNoVersion  = "no version in state AVAILABLE"
	reasonUnreadable = "status answer is not a JSON object"
	reasonTooLarge   = "status answer too large"
)

// judge decides a check's verdict from the answer's status code and, for
// model-level probes, its body (at most MaxProbeBody bytes; tooLarge when
// the answer was longer). A transport error or timeout never reaches it:
// that is unhealthy whatever the probe.
func judge(p Probe, code int, body []byte, tooLarge bool) verdict {
	if p == ProbeServer {
		switch {
		case code >= 200 && code < 300:
			return verdict{ok: true}
		case code == 404, code == 405, code == 501:
			return verdict{ok: true, missing: true}
		}
		return verdict{reason: reasonStatus}
	}
	switch {
	case code == 404 && p == ProbeOIPModel:
		return verdict{reason: reasonNotFound}
	case code == 404:
		return verdict{reason: reasonV1NotFound}
	case code < 200 || code >= 300:
		return verdict{reason: reasonStatus}
	case tooLarge:
		return verdict{reason: reasonTooLarge}
	}
	return judgeBody(body)
}

// judgeBody reads a 2xx model-level answer: an empty body, or a JSON object
// that states nothing about readiness, leaves the 2xx to decide (Triton
// answers an empty 200); "ready" and "model_version_status", when present,
// must say ready.
func judgeBody(body []byte) verdict {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return verdict{ok: true}
	}
	var st struct {
		Ready    *bool `json:"ready"`
		Versions *[]struct {
			State string `json:"state"`
		} `json:"model_version_status"`
	}
	if body[0] != '{' || json.Unmarshal(body, &st) != nil {
		return verdict{reason: reasonUnreadable}
	}
	if st.Ready != nil && !*st.Ready {
		return verdict{reason: reasonReadyFalse}
	}
	if st.Versions != nil {
		for _, v := range *st.Versions {
			if v.State == "AVAILABLE" {
				return verdict{ok: true}
			}
		}
		return verdict{reason: reasonNoVersion}
	}
	return verdict{ok: true}
}
