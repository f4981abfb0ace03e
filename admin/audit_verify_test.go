package admin

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/modelgate/modelgate/audit"
	"github.com/prometheus/client_golang/prometheus"
)

// auditHandler serves operatorsConfig with a real audit log of n entries
// (tenants acme and globex in turn) and returns its path.
func auditHandler(t *testing.T, n int) (h func(token string) answer, path string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "audit.log")
	log, err := audit.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	for i := range n {
		if _, err := log.Append(audit.Entry{Actor: "otto", Role: "operator", Action: audit.ActionWeights,
			Tenant: []string{"acme", "globex"}[i%2], Model: "fraud", Reason: "step", Status: 200}); err != nil {
			t.Fatal(err)
		}
	}
	src := newSource(t, operatorsConfig())
	hh := Handler(src, &parseReloader{src: src}, prometheus.NewRegistry(), WithAudit(log))
	return func(token string) answer {
		t.Helper()
		return serve(t, hh, "GET", "/admin/audit/verify", "Authorization", "Bearer "+token)
	}, path
}

func TestAuditVerify(t *testing.T) {
	get, path := auditHandler(t, 4)
	r := get("viewer")
	var v auditVerifyView
	if err := json.Unmarshal([]byte(r.body), &v); r.code != 200 || err != nil {
		t.Fatalf("GET /admin/audit/verify as viewer: %d %s", r.code, r.body)
	}
	if !v.OK || *v.Entries != 4 || *v.First != 1 || *v.Last != 4 || *v.Gaps != 0 || v.FirstBad != nil {
		t.Errorf("intact log: %s, want ok with 4 entries 1…4", r.body)
	}
	if r := get("scoped"); r.code != 200 || r.body != "{\n  \"ok\": true\n}\n" {
		t.Errorf("as a scoped operator: %d %s, want ok alone", r.code, r.body)
	}
	if r := get("nobody"); r.code != 401 {
		t.Errorf("wrong token: %d, want 401", r.code)
	}

	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bytes.Replace(b, []byte(`"tenant":"globex"`), []byte(`"tenant":"acme!!"`), 1), 0o600); err != nil {
		t.Fatal(err)
	}
	r = get("operator")
	v = auditVerifyView{}
	if err := json.Unmarshal([]byte(r.body), &v); r.code != 200 || err != nil {
		t.Fatalf("edited log: %d %s", r.code, r.body)
	}
	if v.OK || v.FirstBad == nil || v.FirstBad.Seq != 2 || v.FirstBad.Line != 2 || *v.Entries != 1 {
		t.Errorf("seq 2 edited: %s, want not ok, first bad seq 2 on line 2, 1 entry before it", r.body)
	}
	if r := get("scoped"); r.body != "{\n  \"ok\": false\n}\n" {
		t.Errorf("edited log as a scoped operator: %s, want ok false alone", r.body)
	}
}

// TestAuditVerifyNeedsALog: an Auditor that cannot verify itself serves
// no /admin/audit/verify.
func TestAuditVerifyNeedsALog(t *testing.T) {
	src := newSource(t, operatorsConfig())
	h := Handler(src, &parseReloader{src: src}, prometheus.NewRegistry(), WithAudit(queryOnly{}))
	if r := serve(t, h, "GET", "/admin/audit/verify", "Authorization", "Bearer viewer"); r.code != 404 {
		t.Errorf("got %d %s, want 404", r.code, r.body)
	}
}

// queryOnly is an Auditor without Verify.
type queryOnly struct{}

func (queryOnly) Append(e audit.Entry) (audit.Entry, error) { return e, nil }
func (queryOnly) Query(audit.Filter) ([]audit.Entry, error) { return nil, nil }
