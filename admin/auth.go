package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"

	"github.com/modelgate/modelgate/configs"
)

// Principal is who made an admin request: one of admin.operators, or the
// admin.token_sha256 holder (named "admin", role admin), as the config
// serving at that moment has them, so a reload adds, removes or re-scopes
// operators at once.
type Principal struct {
	Name string
	Role string
	// Tenants scope the principal; nil: every tenant.
	Tenants []string
}

// Sees reports whether tenant is within the principal's scope.
func (p *Principal) Sees(tenant string) bool {
	return p.Tenants == nil || slices.Contains(p.Tenants, tenant)
}

// Scoped reports whether the principal is limited to some tenants.
func (p *Principal) Scoped() bool { return p.Tenants != nil }

type principalKey struct{}

// principalOf is the principal require admitted for req.
func principalOf(req *http.Request) *Principal {
	p, _ := req.Context().Value(principalKey{}).(*Principal)
	return p
}

// authenticate finds the principal whose token req bears in
// "Authorization: Bearer <token>": the token's SHA-256 is compared in
// constant time with every configured hash (hex, either case), all of
// them, so the time taken says nothing of which one matched. configured is
// false when the config has no token at all.
func authenticate(cfg *configs.Config, req *http.Request) (p *Principal, configured bool) {
	token, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	got := sha256.Sum256([]byte(token))
	check := func(hexHash string) bool {
		want, err := hex.DecodeString(strings.ToLower(hexHash))
		if err != nil || len(want) != sha256.Size {
			return false
		}
		configured = true
		return subtle.ConstantTimeCompare(got[:], want) == 1
	}
	if check(cfg.Admin.TokenSHA256) && ok {
		p = &Principal{Name: "admin", Role: configs.RoleAdmin}
	}
	for _, o := range cfg.Admin.Operators {
		if check(o.TokenSHA256) && ok && p == nil {
			p = &Principal{Name: o.Name, Role: o.Role}
			if len(o.Tenants) > 0 {
				p.Tenants = slices.Clone(o.Tenants)
			}
		}
	}
	return p, configured
}

// require admits requests of a principal whose role is at least role
// (configs.RoleRank) and passes it on in the request's context:
//
//   - no token configured at all (neither admin.token_sha256 nor
//     admin.operators): 403, the admin API is disabled;
//   - header missing, not "Bearer ", or a token of nobody: 401 with
//     WWW-Authenticate: Bearer realm="modelgate-admin";
//   - a known token whose role is too low: 403 naming the role needed.
//
// No answer says anything about the configured tokens. Refused mutations
// are audited.
func (a *api) require(role string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		p, configured := authenticate(a.src.Config(), req)
		switch {
		case !configured:
			a.refused(req, nil, http.StatusForbidden)
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "admin API disabled: neither admin.token_sha256 nor admin.operators is configured"})
		case p == nil:
			a.refused(req, nil, http.StatusUnauthorized)
			w.Header().Set("WWW-Authenticate", `Bearer realm="modelgate-admin"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong admin token"})
		case configs.RoleRank(p.Role) < configs.RoleRank(role):
			a.refused(req, p, http.StatusForbidden)
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "needs role " + role + " (yours: " + p.Role + ")"})
		default:
			next.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), principalKey{}, p)))
		}
	})
}

// refused records a refused admin request in the audit log (audit.go).
func (a *api) refused(req *http.Request, p *Principal, status int) { a.auditRefused(req, p, status) }
