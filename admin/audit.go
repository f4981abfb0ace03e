package admin

import (
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/modelgate/modelgate/audit"
	"github.com/modelgate/modelgate/revision"
)

// Auditor is the audit log the admin API writes and reads (audit.Log).
type Auditor interface {
	Append(e audit.Entry) (audit.Entry, error)
	Query(f audit.Filter) ([]audit.Entry, error)
}

// auditRecord is what a mutation's audit entry says, gathered while the
// request is handled.
type auditRecord struct {
	principal     *Principal
	remote        string
	action        string
	Tenant, Model string
	before, After *revision.Revision
	Reason        string
}

// auditStart begins the record of a mutation by p, with the revision
// running now as its "before".
func (a *api) auditStart(req *http.Request, p *Principal, action, tenant, model string) auditRecord {
	rec := auditRecord{principal: p, remote: remoteHost(req), action: action, Tenant: tenant, Model: model}
	if a.ctl != nil {
		rec.before = a.ctl.Running()
	}
	return rec
}

// finish answers status with body and records the outcome in the audit
// log, refused attempts included. A failing audit write is logged by the
// log's owner; the answer stands (the change, if any, is applied).
func (a *api) finish(w http.ResponseWriter, rec auditRecord, status int, body any) {
	writeJSON(w, status, body)
	if a.audit == nil {
		return
	}
	e := audit.Entry{Actor: rec.principal.Name, Role: rec.principal.Role, Remote: rec.remote, Action: rec.action,
		Tenant: rec.Tenant, Model: rec.Model, Reason: rec.Reason, Status: status}
	if rec.before != nil {
		e.BeforeRevision, e.BeforeHash = rec.before.N, rec.before.Hash
	}
	if rec.After != nil {
		e.AfterRevision, e.AfterHash = rec.After.N, rec.After.Hash
	}
	_, _ = a.audit.Append(e)
}

// auditRefused records a request require refused (401, 403): who, if the
// token was known, from where and what it asked for.
func (a *api) auditRefused(req *http.Request, p *Principal, status int) {
	if a.audit == nil || req.Method == http.MethodGet {
		return // reads are not audited, refused or not
	}
	action := "forbidden"
	if status == http.StatusUnauthorized {
		action = audit.ActionLoginFailed
	}
	e := audit.Entry{Remote: remoteHost(req), Action: action, Reason: req.Method + " " + req.URL.Path, Status: status}
	if p != nil {
		e.Actor, e.Role = p.Name, p.Role
	}
	_, _ = a.audit.Append(e)
}

// auditLog answers GET /admin/audit: the entries the principal may see,
// filtered by since (RFC 3339 or a duration back from now, e.g. 1h),
// until, actor and tenant, newest limit of them (default 1000), in log
// order, as JSON lines (the log's own format, so `modelgate audit verify
// --partial` checks an export).
func (a *api) auditLog(w http.ResponseWriter, req *http.Request) {
	p := principalOf(req)
	q := req.URL.Query()
	f := audit.Filter{Actor: q.Get("actor"), Tenants: p.Tenants}
	var err error
	if f.Since, err = timeParam(q.Get("since")); err == nil {
		f.Until, err = timeParam(q.Get("until"))
	}
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "since and until must be RFC 3339 times or durations back from now (1h)"})
		return
	}
	if t := q.Get("tenant"); t != "" {
		if !p.Sees(t) {
			f.Tenants = []string{} // nothing: another tenant's entries are invisible
			writeAudit(w, nil)
			return
		}
		f.Tenants = []string{t}
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "limit must be a positive number"})
			return
		}
		f.Limit = n
	}
	entries, err := a.audit.Query(f)
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "reading the audit log: " + err.Error()})
		return
	}
	writeAudit(w, entries)
}

func writeAudit(w http.ResponseWriter, entries []audit.Entry) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	_ = audit.Export(w, entries)
}

// timeParam parses an RFC 3339 time or a duration back from now; "" is
// the zero time.
func timeParam(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	return time.Parse(time.RFC3339, s)
}

// remoteHost is the client's address without the port.
func remoteHost(req *http.Request) string {
	if h, _, err := net.SplitHostPort(req.RemoteAddr); err == nil {
		return h
	}
	return req.RemoteAddr
}
