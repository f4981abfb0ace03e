package modelserver

import (
	"fmt"
	"net/http"
	"strings"
)

// route is a resolved request target.
type route int

const (
	routeLive route = iota
	routeHealthReady
	routeMetadata
	routeModelReady
	routeInfer
	routePredict
)

// resolve maps a path to a route. A non-zero status means the request must
// be answered with that status and message.
func (s *Server) resolve(path string) (rt route, status int, msg string) {
	switch path {
	case "/v2/health/live":
		return routeLive, 0, ""
	case "/v2/health/ready":
		return routeHealthReady, 0, ""
	}
	var segs []string
	var v1 bool
	if rest, ok := strings.CutPrefix(path, "/v2/models/"); ok {
		segs = strings.Split(rest, "/")
	} else if rest, ok := strings.CutPrefix(path, "/v1/models/"); ok {
		segs, v1 = strings.Split(rest, "/"), true
		// The action is a suffix of the last segment: {name}:predict or
		// {name}/versions/{v}:predict.
		last, ok := strings.CutSuffix(segs[len(segs)-1], ":predict")
		if !ok || last == "" {
			return 0, http.StatusNotFound, "not found"
		}
		segs[len(segs)-1] = last
	} else {
		return 0, http.StatusNotFound, "not found"
	}

	name, version, action := segs[0], "", ""
	switch {
	case len(segs) == 1:
	case len(segs) == 2 && !v1:
		action = segs[1]
	case len(segs) == 3 && segs[1] == "versions":
		version = segs[2]
	case len(segs) == 4 && segs[1] == "versions" && !v1:
		version, action = segs[2], segs[3]
	default:
		return 0, http.StatusNotFound, "not found"
	}
	switch {
	case v1:
		rt = routePredict
	case action == "":
		rt = routeMetadata
	case action == "ready":
		rt = routeModelReady
	case action == "infer":
		rt = routeInfer
	default:
		return 0, http.StatusNotFound, "not found"
	}
	if name == "" || (len(segs) >= 3 && version == "") {
		return 0, http.StatusNotFound, "not found"
	}
	if name != s.model.Name {
		return 0, http.StatusNotFound, fmt.Sprintf("model %s not found", quote(name))
	}
	if version != "" && version != s.model.Version {
		return 0, http.StatusNotFound, fmt.Sprintf("model %s version %s not found", quote(name), quote(version))
	}
	return rt, 0, ""
}
