package configs

import (
	"encoding/hex"
	"fmt"
	"math"
	"net"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Error is one mistake in a config, located by its YAML path.
type Error struct {
	// Path is the YAML path, e.g. "tenants[0].models[1].versions[2].weight".
	Path string
	// Msg says what is wrong, e.g. "must not be negative".
	Msg string
}

func (e Error) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Errors is every mistake found in a config, in file order. Error() joins
// them one per line.
type Errors []Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// MaxUpstreamModelLen bounds a version's upstream_model.
const MaxUpstreamModelLen = 256

// validUpstreamModel reports whether s may be a version's upstream_model.
func validUpstreamModel(s string) bool {
	if len(s) > MaxUpstreamModelLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// MaxNameLen bounds model and version names; tenant names are ≤ 63.
const MaxNameLen = 128

// ValidName reports whether s is a valid tenant, model or version name:
// 1–MaxNameLen characters of [A-Za-z0-9._-], not "." or "..".
// The request path parser applies the same rule to client input.
func ValidName[T string | []byte](s T) bool {
	if len(s) == 0 || len(s) > MaxNameLen || s[0] == '.' && (len(s) == 1 || len(s) == 2 && s[1] == '.') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

type validator struct{ errs Errors }

func (v *validator) add(path, format string, args ...any) {
	v.errs = append(v.errs, Error{Path: path, Msg: fmt.Sprintf(format, args...)})
}

// Validate checks a defaulted config and returns Errors, or nil.
func (c *Config) Validate() error {
	v := &validator{}
	v.server(&c.Server)
	v.state(&c.State)
	if h := c.Admin.TokenSHA256; h != "" && !isSHA256Hex(h) {
		v.add("admin.token_sha256", "must be 64 hex characters (the SHA-256 of the token)")
	}
	v.operators(c)
	if c.Admin.KeepRevisions < 0 {
		v.add("admin.keep_revisions", "must not be negative")
	}
	switch c.Logging.Level {
	case "debug", "info", "warn", "error":
	default:
		v.add("logging.level", "must be one of debug, info, warn, error, got %q", c.Logging.Level)
	}
	if r := c.Logging.AccessLogSampleRatio; r != nil && !inRange(*r, 0, 1) {
		v.add("logging.access_log_sample_ratio", "must be between 0 and 1")
	}
	if r := c.Tracing.SamplingRatio; r != nil && !inRange(*r, 0, 1) {
		v.add("tracing.sampling_ratio", "must be between 0 and 1")
	}
	if e := c.Tracing.Endpoint; e != "" {
		v.url("tracing.endpoint", e)
	}
	if len(c.Tenants) == 0 {
		// Also what an editor's truncate-then-write shows a watcher: a
		// gateway without tenants answers 401 to everyone and, its admin
		// token gone with the rest, could not even be reloaded back.
		v.add("tenants", "at least one tenant is required")
	}
	tenantNames := map[string]int{}
	keyOwner := map[string]string{}
	for i := range c.Tenants {
		t := &c.Tenants[i]
		p := fmt.Sprintf("tenants[%d]", i)
		switch {
		case t.Name == "":
			v.add(p+".name", "is required")
		case len(t.Name) > 63 || !ValidName(t.Name):
			v.add(p+".name", "must be 1-63 characters of A-Z a-z 0-9 . _ -, got %q", t.Name)
		default:
			if j, dup := tenantNames[t.Name]; dup {
				v.add(p+".name", "duplicate tenant %q (also tenants[%d])", t.Name, j)
			}
			tenantNames[t.Name] = i
		}
		if len(t.APIKeys) == 0 {
			v.add(p+".api_keys", "at least one key is required")
		}
		for j, k := range t.APIKeys {
			kp := fmt.Sprintf("%s.api_keys[%d].sha256", p, j)
			h := strings.ToLower(k.SHA256)
			switch {
			case h == "":
				v.add(kp, "is required")
			case !isSHA256Hex(h):
				v.add(kp, "must be 64 hex characters (the SHA-256 of the key, never the key itself)")
			default:
				if owner, dup := keyOwner[h]; dup {
					v.add(kp, "key already belongs to %s", owner)
				}
				keyOwner[h] = p
			}
		}
		v.limits(p+".limits", &t.Limits)
		v.scope(p+".limits", &t.Limits, &c.State)
		if len(t.Models) == 0 {
			v.add(p+".models", "at least one model is required")
		}
		modelNames := map[string]int{}
		for j := range t.Models {
			m := &t.Models[j]
			mp := fmt.Sprintf("%s.models[%d]", p, j)
			if ValidName(m.Name) {
				if k, dup := modelNames[m.Name]; dup {
					v.add(mp+".name", "duplicate model %q (also models[%d])", m.Name, k)
				}
				modelNames[m.Name] = j
			}
			v.model(mp, m)
			if m.Limits != nil {
				v.scope(mp+".limits", m.Limits, &c.State)
			}
		}
	}
	if len(v.errs) == 0 {
		return nil
	}
	return v.errs
}

// operators checks admin.operators: names and tokens unique (tokens also
// against admin.token_sha256), roles known, tenant scopes naming
// configured tenants.
func (v *validator) operators(c *Config) {
	names := map[string]int{}
	tokens := map[string]string{}
	if h := c.Admin.TokenSHA256; isSHA256Hex(h) {
		tokens[strings.ToLower(h)] = "admin.token_sha256"
	}
	tenants := map[string]bool{}
	for _, t := range c.Tenants {
		tenants[t.Name] = true
	}
	for i, o := range c.Admin.Operators {
		p := fmt.Sprintf("admin.operators[%d]", i)
		switch j, dup := names[o.Name]; {
		case !ValidName(o.Name):
			v.add(p+".name", "must be 1-128 characters of A-Z a-z 0-9 . _ -, got %q", o.Name)
		case dup:
			v.add(p+".name", "duplicate operator %q (also admin.operators[%d])", o.Name, j)
		default:
			names[o.Name] = i
		}
		switch h := strings.ToLower(o.TokenSHA256); {
		case !isSHA256Hex(h):
			v.add(p+".token_sha256", "must be 64 hex characters (the SHA-256 of the token)")
		case tokens[h] != "":
			v.add(p+".token_sha256", "token already belongs to %s", tokens[h])
		default:
			tokens[h] = p
		}
		if RoleRank(o.Role) == 0 {
			v.add(p+".role", "must be one of %s, %s, %s, %s, got %q", RoleViewer, RoleOperator, RoleApprover, RoleAdmin, o.Role)
		}
		for j, t := range o.Tenants {
			if !tenants[t] {
				v.add(fmt.Sprintf("%s.tenants[%d]", p, j), "names no tenant: %q", t)
			}
		}
	}
}

func (v *validator) server(s *Server) {
	for _, a := range []struct{ path, addr string }{{"server.listen", s.Listen}, {"server.admin_listen", s.AdminListen}} {
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			v.add(a.path, "must be host:port, got %q", a.addr)
		}
	}
	if s.Listen == s.AdminListen && !strings.HasSuffix(s.Listen, ":0") {
		v.add("server.admin_listen", "must differ from server.listen")
	}
	if g := s.GRPCListen; g != "" {
		switch _, _, err := net.SplitHostPort(g); {
		case err != nil:
			v.add("server.grpc_listen", "must be host:port, got %q", g)
		case strings.HasSuffix(g, ":0"):
		case g == s.Listen:
			v.add("server.grpc_listen", "must differ from server.listen")
		case g == s.AdminListen:
			v.add("server.grpc_listen", "must differ from server.admin_listen")
		}
	}
	if s.MaxBodyBytes < 0 {
		v.add("server.max_body_bytes", "must not be negative")
	}
	if s.MaxAnswerBytes < 0 {
		v.add("server.max_answer_bytes", "must not be negative")
	}
	if s.MaxConnections < 0 {
		v.add("server.max_connections", "must not be negative")
	}
	if s.MaxHeaderBytes < 1024 {
		v.add("server.max_header_bytes", "must be at least 1024")
	}
	for _, d := range []struct {
		path string
		neg  bool
	}{{"server.read_timeout", s.ReadTimeout < 0}, {"server.write_timeout", s.WriteTimeout < 0}, {"server.idle_timeout", s.IdleTimeout < 0}, {"server.shutdown_timeout", s.ShutdownTimeout < 0}} {
		if d.neg {
			v.add(d.path, "must not be negative")
		}
	}
	v.tls("server.tls", s.TLS)
	v.tls("server.admin_tls", s.AdminTLS)
}

func (v *validator) tls(p string, t *TLS) {
	if t == nil {
		return
	}
	if t.CertFile == "" {
		v.add(p+".cert_file", "is required")
	}
	if t.KeyFile == "" {
		v.add(p+".key_file", "is required")
	}
	if t.MinVersion != "1.2" && t.MinVersion != "1.3" {
		v.add(p+".min_version", "must be \"1.2\" or \"1.3\", got %q", t.MinVersion)
	}
}

func (v *validator) limits(p string, l *Limits) {
	if l.RequestsPerSecond < 0 || math.IsNaN(l.RequestsPerSecond) || math.IsInf(l.RequestsPerSecond, 0) {
		v.add(p+".requests_per_second", "must be a finite number, not negative")
	}
	if l.Burst < 0 {
		v.add(p+".burst", "must not be negative")
	}
	if l.MaxInFlight < 0 {
		v.add(p+".max_in_flight", "must not be negative")
	}
	if l.MaxQueue < 0 {
		v.add(p+".max_queue", "must not be negative")
	}
	if l.MaxQueueWait < 0 {
		v.add(p+".max_queue_wait", "must not be negative")
	}
	if l.TokensPerMinute < 0 || l.TokensPerMinute > MaxTokensPerMinute {
		v.add(p+".tokens_per_minute", "must be between 0 and %d", MaxTokensPerMinute)
	}
}

func (v *validator) model(p string, m *Model) {
	if m.Name == "" {
		v.add(p+".name", "is required")
	} else if !ValidName(m.Name) {
		v.add(p+".name", "must be 1-%d characters of A-Z a-z 0-9 . _ -, got %q", MaxNameLen, m.Name)
	}
	if m.Timeout < 0 {
		v.add(p+".timeout", "must not be negative")
	}
	if m.ConnectTimeout < 0 {
		v.add(p+".connect_timeout", "must not be negative")
	}
	if h := m.StickyHeader; h != "" && !validHeaderName(h) {
		v.add(p+".sticky_header", "must be a valid HTTP header name, got %q", h)
	}
	if m.Limits != nil {
		v.limits(p+".limits", m.Limits)
	}
	if len(m.Versions) == 0 {
		v.add(p+".versions", "at least one version is required")
	}
	names := map[string]int{}
	total := 0
	for i, ver := range m.Versions {
		vp := fmt.Sprintf("%s.versions[%d]", p, i)
		switch {
		case ver.Name == "":
			v.add(vp+".name", "is required")
		case !ValidName(ver.Name):
			v.add(vp+".name", "must be 1-%d characters of A-Z a-z 0-9 . _ -, got %q", MaxNameLen, ver.Name)
		default:
			if j, dup := names[ver.Name]; dup {
				v.add(vp+".name", "duplicate version %q (also versions[%d])", ver.Name, j)
			}
			names[ver.Name] = i
		}
		if cv := ver.ContainerVersion; cv != "" && !ValidName(cv) {
			v.add(vp+".container_version", "must be 1-%d characters of A-Z a-z 0-9 . _ -, got %q", MaxNameLen, cv)
		}
		if um := ver.UpstreamModel; um != "" && !validUpstreamModel(um) {
			v.add(vp+".upstream_model", "must be at most %d bytes of UTF-8 without control characters", MaxUpstreamModelLen)
		}
		if ver.Weight < 0 {
			v.add(vp+".weight", "must not be negative")
		} else {
			total += ver.Weight
		}
		switch n := len(ver.Endpoints); {
		case n == 0:
			v.add(vp+".endpoints", "at least one endpoint is required")
		case n > MaxEndpointsPerVersion:
			v.add(vp+".endpoints", "at most %d endpoints, got %d", MaxEndpointsPerVersion, n)
		}
		seen := map[string]bool{}
		for j, e := range ver.Endpoints {
			ep := fmt.Sprintf("%s.endpoints[%d]", vp, j)
			v.url(ep, e)
			if seen[e] {
				v.add(ep, "duplicate endpoint %q", e)
			}
			seen[e] = true
		}
		v.grpcEndpoints(vp+".grpc_endpoints", ver.GRPCEndpoints)
	}
	if len(m.Versions) > 0 && total == 0 {
		v.add(p+".versions", "at least one version must have a positive weight")
	}
	if f := m.Fallback; f != "" {
		if _, ok := names[f]; !ok {
			v.add(p+".fallback", "names no version of this model: %q", f)
		}
	}
	if sh := m.Shadow; sh != nil {
		sp := p + ".shadow"
		if sh.Version == "" {
			v.add(sp+".version", "is required")
		} else if _, ok := names[sh.Version]; !ok {
			v.add(sp+".version", "names no version of this model: %q", sh.Version)
		}
		if pc := sh.SharePercent(); !inRange(pc, 0, 100) {
			v.add(sp+".percent", "must be between 0 and 100")
		}
		if !inRange(sh.Tolerance, 0, math.MaxFloat64) {
			v.add(sp+".tolerance", "must be a finite number, not negative")
		}
		if !inRange(sh.RelativeTolerance, 0, math.MaxFloat64) {
			v.add(sp+".relative_tolerance", "must be a finite number, not negative")
		}
		if sh.MaxInFlight < 0 {
			v.add(sp+".max_in_flight", "must not be negative")
		}
		if sh.QueueLen() < 0 {
			v.add(sp+".max_queue", "must not be negative")
		}
		if sh.MaxQueueBytes < 0 {
			v.add(sp+".max_queue_bytes", "must not be negative")
		}
		if sh.MaxBodyBytes < 0 {
			v.add(sp+".max_body_bytes", "must not be negative")
		}
		if sh.Timeout < 0 {
			v.add(sp+".timeout", "must not be negative")
		}
	}
	b := m.Breaker
	if !inRange(b.FailureRatio, 0, 1) {
		v.add(p+".breaker.failure_ratio", "must be between 0 and 1")
	}
	if b.OpenFor < 0 {
		v.add(p+".breaker.open_for", "must not be negative")
	}
	if b.Interval < 0 {
		v.add(p+".breaker.interval", "must not be negative")
	}
	switch b.ServerErrors {
	case ServerErrorsCorroborated, ServerErrorsFailure:
	default:
		v.add(p+".breaker.server_errors", "must be %q or %q, not %q", ServerErrorsCorroborated, ServerErrorsFailure, b.ServerErrors)
	}
	if b.MaxEjectionPercent < 0 || b.MaxEjectionPercent > 100 {
		v.add(p+".breaker.max_ejection_percent", "must be between 0 and 100")
	}
	if pt := b.Panic(); pt < 0 || pt > 100 {
		v.add(p+".breaker.panic_threshold", "must be between 0 and 100")
	}
	h := m.HealthCheck
	if !strings.HasPrefix(h.Path, "/") {
		v.add(p+".health_check.path", "must start with /")
	}
	if rest := strings.NewReplacer(ModelPlaceholder, "", VersionPlaceholder, "").Replace(h.Path); strings.ContainsAny(rest, "{}") {
		v.add(p+".health_check.path", "unknown placeholder: only "+ModelPlaceholder+" (the model's name) and "+VersionPlaceholder+" (a version's container_version) are replaced")
	}
	if h.PerVersion() {
		for i, ver := range m.Versions {
			if ver.ContainerVersion == "" {
				v.add(p+".health_check.path", "%s needs a container_version on every version; versions[%d] (%q) has none", VersionPlaceholder, i, ver.Name)
				break
			}
		}
	}
	if h.Interval < 0 {
		v.add(p+".health_check.interval", "must not be negative")
	}
	if h.Timeout < 0 {
		v.add(p+".health_check.timeout", "must not be negative")
	}
	if h.UnhealthyAfter < 0 {
		v.add(p+".health_check.unhealthy_after", "must not be negative")
	}
	if h.HealthyAfter < 0 {
		v.add(p+".health_check.healthy_after", "must not be negative")
	}
	if m.Retry.RetryAttempts() < 0 {
		v.add(p+".retry.attempts", "must not be negative")
	}
	if !inRange(m.Retry.RetryBudget(), 0, 1) {
		v.add(p+".retry.budget", "must be between 0 and 1")
	}
	if m.Rollout != nil {
		v.rollout(p+".rollout", m)
	}
}

// grpcEndpoints checks a version's grpc_endpoints: at most
// MaxEndpointsPerVersion host:port addresses with a port, no duplicates.
func (v *validator) grpcEndpoints(p string, addrs []string) {
	if n := len(addrs); n > MaxEndpointsPerVersion {
		v.add(p, "at most %d endpoints, got %d", MaxEndpointsPerVersion, n)
	}
	seen := map[string]bool{}
	for i, a := range addrs {
		ep := fmt.Sprintf("%s[%d]", p, i)
		host, port, err := net.SplitHostPort(a)
		switch {
		case strings.Contains(a, "://"):
			v.add(ep, "must be host:port without a scheme, got %q", a)
		case err != nil || host == "" || port == "":
			v.add(ep, "must be host:port, got %q", a)
		case seen[a]:
			v.add(ep, "duplicate endpoint %q", a)
		}
		seen[a] = true
	}
}

func (v *validator) url(p, raw string) {
	if !strings.HasPrefix(raw, "http://") && !strings.HasPrefix(raw, "https://") {
		v.add(p, "must start with http:// or https://, got %q", raw)
		return
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		v.add(p, "must be a URL: %v", err)
	case u.Scheme != "http" && u.Scheme != "https":
		v.add(p, "must start with http:// or https://, got %q", raw)
	case u.Host == "":
		v.add(p, "must name a host, got %q", raw)
	case u.User != nil:
		v.add(p, "must not contain credentials")
	case u.RawQuery != "" || u.Fragment != "":
		v.add(p, "must not have a query or fragment")
	case u.Path != "" && u.Path != "/":
		v.add(p, "must be a base URL without a path, got %q", raw)
	}
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return s != ""
}

// inRange reports whether f is a number (not NaN; YAML's .nan and .inf
// parse as floats) within [lo, hi].
func inRange(f, lo, hi float64) bool { return f >= lo && f <= hi }
