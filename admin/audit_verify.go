package admin

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/modelgate/modelgate/audit"
)

// auditVerifier is an Auditor that checks its own hash chain
// (audit.Log.Verify). GET /admin/audit/verify is served when the Auditor
// given to WithAudit is one.
type auditVerifier interface {
	Verify() (audit.Report, error)
}

// auditVerifyView is the GET /admin/audit/verify body. A scoped principal
// gets OK only: the counts and the bad entry would tell of other tenants'
// entries.
type auditVerifyView struct {
	// OK: every entry is intact and linked to the one before, the log
	// starts at seq 1 and no seq is missing.
	OK       bool      `json:"ok"`
	Entries  *int      `json:"entries,omitempty"`
	First    *uint64   `json:"first_seq,omitempty"`
	Last     *uint64   `json:"last_seq,omitempty"`
	Gaps     *int      `json:"gaps,omitempty"`
	FirstBad *badEntry `json:"first_bad,omitempty"`
}

// badEntry is where the chain breaks: the first bad entry
// (audit.VerifyError), or the first gap ("entries missing").
type badEntry struct {
	Line   int    `json:"line"`
	Seq    uint64 `json:"seq"`
	Reason string `json:"reason"`
}

// auditVerify answers GET /admin/audit/verify (viewer): the whole log
// checked by audit.Verify now, 200 whether or not it verifies (ok says),
// 500 when it cannot be read.
func (a *api) auditVerify(w http.ResponseWriter, req *http.Request) {
	rep, err := a.audit.(auditVerifier).Verify()
	var ve *audit.VerifyError
	if err != nil && !errors.As(err, &ve) {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "reading the audit log: " + err.Error()})
		return
	}
	v := auditVerifyView{OK: ve == nil && rep.Gaps == 0 && (rep.Entries == 0 || rep.First == 1)}
	if principalOf(req).Scoped() {
		writeJSON(w, http.StatusOK, auditVerifyView{OK: v.OK})
		return
	}
	v.Entries, v.First, v.Last, v.Gaps = &rep.Entries, &rep.First, &rep.Last, &rep.Gaps
	switch {
	case ve != nil:
		v.FirstBad = &badEntry{Line: ve.Line, Seq: ve.Seq, Reason: ve.Reason}
	case rep.Gaps > 0:
		g := rep.FirstGap
		v.FirstBad = &badEntry{Line: g.Line, Seq: g.Seq, Reason: fmt.Sprintf("entries %d…%d missing before it", g.After+1, g.Seq-1)}
	case rep.Entries > 0 && rep.First != 1:
		v.FirstBad = &badEntry{Line: 1, Seq: rep.First, Reason: "the log does not start at seq 1: its first entries are missing"}
	}
	writeJSON(w, http.StatusOK, v)
}
