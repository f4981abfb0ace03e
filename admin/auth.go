package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
)

// requireToken admits requests bearing the admin token in
// "Authorization: Bearer <token>": the token's SHA-256 is compared in
// constant time with admin.token_sha256 (hex, either case) of the config
// serving at that moment, so a reload rotates the token at once.
//
//   - admin.token_sha256 unset (or not a SHA-256): 403, the route is
//     disabled;
//   - header missing, not "Bearer ", or a wrong token: 401 with
//     WWW-Authenticate: Bearer realm="modelgate-admin".
//
// Neither answer says anything about the configured token.
func (a *api) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		want, err := hex.DecodeString(strings.ToLower(a.src.Config().Admin.TokenSHA256))
		if err != nil || len(want) != sha256.Size {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "admin API disabled: admin.token_sha256 is not configured"})
			return
		}
		token, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
		got := sha256.Sum256([]byte(token))
		if !ok || subtle.ConstantTimeCompare(got[:], want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="modelgate-admin"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong admin token"})
			return
		}
		next.ServeHTTP(w, req)
	})
}
