package openai

import (
	"encoding/json"
	"slices"
)

// Error types of OpenAI's error shape, by what went wrong.
const (
	TypeInvalidRequest = "invalid_request_error" // 4xx but 401 and 429
	TypeAuthentication = "authentication_error"  // 401
	TypeRateLimit      = "rate_limit_error"      // 429
	TypeServer         = "server_error"          // 5xx
)

// TypeOf is the error type of an answer with status code.
func TypeOf(code int) string {
	switch {
	case code == 401:
		return TypeAuthentication
	case code == 429:
		return TypeRateLimit
	case code >= 500:
		return TypeServer
	default:
		return TypeInvalidRequest
	}
}

type errorShape struct {
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Param   any    `json:"param"`
		Code    string `json:"code"`
	} `json:"error"`
}

// ErrorBody is OpenAI's error body {"error": {"message", "type", "param":
// null, "code"}} for message, typ and code. Build it once per error (it
// allocates).
func ErrorBody(message, typ, code string) []byte {
	var e errorShape
	e.Error.Message, e.Error.Type, e.Error.Code = message, typ, code
	b, _ := json.Marshal(e)
	return b
}

// ErrorEvent is the server-sent event that ends a stream the gateway
// could not finish: "data: " + ErrorBody + "\n\n". OpenAI's clients raise
// it as an API error; no "data: [DONE]" follows.
func ErrorEvent(message, code string) []byte {
	b := append([]byte("data: "), ErrorBody(message, TypeServer, code)...)
	return append(b, "\n\n"...)
}

// ModelList is the GET /openai/v1/models answer for owner's models, sorted
// by name: {"object":"list","data":[{"id","object":"model","created":0,
// "owned_by"}...]}. created is 0: a gateway model has no creation time.
func ModelList(owner string, names []string) []byte {
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	names = slices.Sorted(slices.Values(names))
	list := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list", Data: make([]model, 0, len(names))}
	for _, n := range names {
		list.Data = append(list.Data, model{ID: n, Object: "model", OwnedBy: owner})
	}
	b, _ := json.Marshal(list)
	return b
}

// Quote is name as a JSON string with its quotes, for SetModel.
func Quote(name string) []byte {
	b, _ := json.Marshal(name)
	return b
}
