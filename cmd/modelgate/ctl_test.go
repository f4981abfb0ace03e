package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelgate/modelgate/audit"
	"github.com/modelgate/modelgate/internal/await"
)

// cliRun is one CLI command's outcome.
type cliRun struct {
	code           int
	stdout, stderr string
}

// cli runs `modelgate ARGS...` through run, as the binary would.
func cli(t *testing.T, args ...string) cliRun {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return cliRun{code, out.String(), errOut.String()}
}

// as runs a CLI command against gw with token; --admin and --token in
// args win.
func (r *running) as(token string, args ...string) cliRun {
	r.t.Helper()
	return cli(r.t, append([]string{args[0], "--admin", "http://" + r.admin, "--token", token}, args[1:]...)...)
}

// want fails unless the command exited code and its stdout contains every
// one of outs.
func (c cliRun) want(t *testing.T, code int, outs ...string) {
	t.Helper()
	if c.code != code {
		t.Errorf("got exit %d, want %d; stdout:\n%s\nstderr:\n%s", c.code, code, c.stdout, c.stderr)
	}
	for _, o := range outs {
		if !strings.Contains(c.stdout, o) {
			t.Errorf("stdout lacks %q; got:\n%s", o, c.stdout)
		}
	}
}

// tableRows splits a table's lines (after skip header lines) into cells.
func tableRows(out string, skip int) [][]string {
	var rows [][]string
	for i, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if i >= skip {
			rows = append(rows, strings.Fields(l))
		}
	}
	return rows
}

// aligned reports whether every line of a table starts its columns where
// the header (line skip) starts them, for the first n columns (counted in
// characters, as tabwriter aligns them).
func aligned(out string, skip, n int) bool {
	var lines [][]rune
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		lines = append(lines, []rune(l))
	}
	header := lines[skip]
	var starts []int
	for i := 0; i < len(header) && len(starts) < n; i++ {
		if header[i] != ' ' && (i == 0 || header[i-1] == ' ') {
			starts = append(starts, i)
		}
	}
	for _, l := range lines[skip+1:] {
		for _, s := range starts[1:] {
			if len(l) <= s || l[s] == ' ' || l[s-1] != ' ' {
				return false
			}
		}
	}
	return true
}

// TestCLIRoutesWeightsRevisionsRollback drives every CLI command but plan
// through a real gateway, in table and JSON output, while the weights
// change.
func TestCLIRoutesWeightsRevisionsRollback(t *testing.T) {
	v1, v2 := startModel(t, "v1", 0), startModel(t, "v2", 0)
	path, _ := writeConfig(t, planeConfig(v1, v2, 90, 10))
	gw := startServe(t, path, t.TempDir())

	// weights: the new revision and its changes.
	gw.as("otto", "weights", "acme/fraud", "v1=60", "v2=40", "--reason", "canary 40%").want(t, 0,
		`revision 2 (api by otto: "canary 40%"), on top of revision 1:`,
		"\n  acme/fraud: weight v1 90 → 60\n", "\n  acme/fraud: weight v2 10 → 40\n")
	if got := gw.versionsServed("k-acme", "fraud", 200); got["v2"] < 40 {
		t.Errorf("after v1=60 v2=40: versions served %v", got)
	}

	t.Run("routes", func(t *testing.T) {
		r := gw.as("vera", "routes")
		r.want(t, 0, "revision 2 (api by otto, ", "drift: yes")
		rows := tableRows(r.stdout, 1)
		want := [][]string{
			{"TENANT", "MODEL", "VERSION", "WEIGHT", "SHARE", "SOURCE", "ENDPOINTS"},
			{"acme", "fraud", "v1", "60", "60.0%", "api", v1.URL},
			{"acme", "fraud", "v2", "40", "40.0%", "api", v2.URL},
			{"globex", "fraud", "v1", "1", "100.0%", "file", v1.URL},
		}
		if !equalRows(rows, want) {
			t.Errorf("routes table:\n%s\nwant rows %v", r.stdout, want)
		}
		if !aligned(r.stdout, 1, 7) {
			t.Errorf("routes table not aligned:\n%s", r.stdout)
		}
		r = gw.as("vera", "routes", "globex")
		if rows := tableRows(r.stdout, 2); r.code != 0 || len(rows) != 1 || rows[0][0] != "globex" {
			t.Errorf("routes globex: exit %d\n%s", r.code, r.stdout)
		}
		// -o json: the API's document as is; filtered, the same shape.
		r = gw.as("vera", "routes", "-o", "json")
		if api := gw.call("GET", "/admin/routes", "vera", ""); r.code != 0 || r.stdout != api.body {
			t.Errorf("routes -o json:\n%s\nwant the API's body:\n%s", r.stdout, api.body)
		}
		r = gw.as("vera", "routes", "-o", "json", "acme/fraud") // flags before the argument too
		var rb routesBody
		if err := json.Unmarshal([]byte(r.stdout), &rb); err != nil || r.code != 0 || rb.Revision != 2 || !rb.Drift ||
			len(rb.Tenants) != 1 || rb.weights("acme", "fraud") != "v1=60(api) v2=40(api)" {
			t.Errorf("routes acme/fraud -o json: exit %d, %v:\n%s", r.code, err, r.stdout)
		}
	})

	t.Run("revisions and diff", func(t *testing.T) {
		r := gw.as("vera", "revisions")
		r.want(t, 0)
		rows := tableRows(r.stdout, 0)
		if len(rows) != 3 || strings.Join(rows[0], " ") != "REV TIME SOURCE ACTOR CHANGES REASON" ||
			!strings.HasPrefix(strings.Join(rows[1], " "), "2 ") || !strings.Contains(r.stdout, "api     otto   acme/fraud: weight v1 90 → 60 (+1 more)  canary 40%") ||
			rows[2][0] != "1" || !aligned(r.stdout, 0, 6) {
			t.Errorf("revisions table:\n%s", r.stdout)
		}
		if r := gw.as("vera", "revisions", "--limit", "1"); len(tableRows(r.stdout, 1)) != 1 {
			t.Errorf("revisions --limit 1:\n%s", r.stdout)
		}
		r = gw.as("vera", "revisions", "-o", "json", "--before", "2")
		if api := gw.call("GET", "/admin/revisions?before=2", "vera", ""); r.code != 0 || r.stdout != api.body || !strings.Contains(r.stdout, `"n": 1`) {
			t.Errorf("revisions -o json --before 2:\n%s\nwant the API's body:\n%s", r.stdout, api.body)
		}
		gw.as("vera", "diff", "2").want(t, 0, "revision 1 → 2:\n  acme/fraud: weight v1 90 → 60\n  acme/fraud: weight v2 10 → 40\n")
		r = gw.as("vera", "diff", "1", "2", "-o", "json")
		var d struct {
			From, To uint64
			Changes  []string
		}
		if err := json.Unmarshal([]byte(r.stdout), &d); err != nil || d.From != 2 || d.To != 1 || len(d.Changes) != 2 ||
			d.Changes[0] != "acme/fraud: weight v1 60 → 90" {
			t.Errorf("diff 1 2 -o json: %v\n%s", err, r.stdout)
		}
		gw.as("vera", "diff", "2", "2").want(t, 0, "revision 2 → 2:\n  no changes\n")
	})

	// The entry of the change above is strictly older than mark, and
	// everything after mark is newer (entries have millisecond times).
	a := gw.call("GET", "/admin/audit?limit=1", "vera", "")
	var last audit.Entry
	if err := last.UnmarshalJSON([]byte(strings.TrimSpace(a.body))); err != nil {
		t.Fatal(err)
	}
	await.Until(t, time.Second, "the clock to pass the last entry's millisecond", func() bool {
		return time.Now().Truncate(time.Millisecond).After(last.Time)
	})
	mark := time.Now().UTC().Truncate(time.Millisecond)

	t.Run("rollback", func(t *testing.T) {
		r := gw.as("otto", "rollback", "1", "--reason", "back to the file", "-o", "json")
		var rev struct {
			N       uint64
			Source  string
			Changes []string
		}
		if err := json.Unmarshal([]byte(r.stdout), &rev); err != nil || r.code != 0 || rev.N != 3 || rev.Source != "rollback" || len(rev.Changes) != 2 {
			t.Errorf("rollback -o json: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
		}
		rb, _ := gw.routes("vera")
		if rb.Drift || rb.weights("acme", "fraud") != "v1=90(file) v2=10(file)" {
			t.Errorf("after rollback 1: drift %v, %s", rb.Drift, rb.weights("acme", "fraud"))
		}
		gw.as("otto", "weights", "acme/fraud", "v1=50", "v2=50", "-o", "json").want(t, 0, `"n": 4`, `"source": "api"`)
		gw.as("otto", "rollback", "3").want(t, 0, `revision 5 (rollback by otto: "rollback to revision 3"), on top of revision 4:`,
			"  acme/fraud: weight v1 50 → 90\n")
	})

	t.Run("audit", func(t *testing.T) {
		r := gw.as("vera", "audit")
		r.want(t, 0)
		rows := tableRows(r.stdout, 0)
		if strings.Join(rows[0], " ") != "SEQ TIME ACTOR ROLE ACTION TENANT/MODEL REVISION STATUS REASON" || !aligned(r.stdout, 0, 9) {
			t.Errorf("audit table:\n%s", r.stdout)
		}
		for _, want := range []string{"otto   operator  weights     acme/fraud    1→2       200     canary 40%",
			"otto   operator  rollback    -             2→3       200     back to the file"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("audit table lacks %q:\n%s", want, r.stdout)
			}
		}
		// --tenant: acme's entries only (a rollback is about no one tenant).
		r = gw.as("vera", "audit", "--tenant", "acme")
		for _, row := range tableRows(r.stdout, 1) {
			if row[5] != "acme/fraud" {
				t.Errorf("audit --tenant acme lists %v", row)
			}
		}
		if n := len(tableRows(r.stdout, 1)); r.code != 0 || n != 2 {
			t.Errorf("audit --tenant acme: exit %d, %d entries, want 2:\n%s", r.code, n, r.stdout)
		}
		if r := gw.as("vera", "audit", "--tenant", "globex"); r.code != 0 || len(tableRows(r.stdout, 1)) != 0 {
			t.Errorf("audit --tenant globex: exit %d\n%s", r.code, r.stdout)
		}
		// --since: what happened after mark only (the rollbacks and the
		// second weights change); a duration back from now: all of it.
		r = gw.as("vera", "audit", "--since", mark.Format(time.RFC3339Nano))
		if rows := tableRows(r.stdout, 1); r.code != 0 || len(rows) != 3 || rows[0][4] != "rollback" || rows[1][4] != "weights" {
			t.Errorf("audit --since mark: exit %d, want 3 entries:\n%s%s", r.code, r.stdout, r.stderr)
		}
		if r := gw.as("vera", "audit", "--since", "1h", "--actor", "otto"); len(tableRows(r.stdout, 1)) != 4 {
			t.Errorf("audit --since 1h --actor otto: want otto's 4 entries:\n%s", r.stdout)
		}
		if r := gw.as("vera", "audit", "--limit", "2"); len(tableRows(r.stdout, 1)) != 2 {
			t.Errorf("audit --limit 2:\n%s", r.stdout)
		}

		// -o json exports that audit verify checks.
		dir := t.TempDir()
		for _, args := range [][]string{{}, {"--tenant", "acme"}, {"--since", mark.Format(time.RFC3339Nano)}} {
			r := gw.as("vera", append([]string{"audit", "-o", "json"}, args...)...)
			if api := gw.call("GET", "/admin/audit?"+query(args), "vera", ""); r.code != 0 || r.stdout != api.body {
				t.Errorf("audit -o json %v:\n%s\nwant the API's body:\n%s", args, r.stdout, api.body)
			}
			f := filepath.Join(dir, "export.jsonl")
			if err := os.WriteFile(f, []byte(r.stdout), 0o600); err != nil {
				t.Fatal(err)
			}
			if v := cli(t, "audit", "verify", "--partial", f); v.code != 0 || !strings.HasPrefix(v.stdout, "ok: ") {
				t.Errorf("audit -o json %v | audit verify --partial: exit %d %s%s", args, v.code, v.stdout, v.stderr)
			}
		}
	})
}

// query turns "--k v" flag pairs into a URL query.
func query(flags []string) string {
	q := url.Values{}
	for i := 0; i+1 < len(flags); i += 2 {
		q.Set(strings.TrimPrefix(flags[i], "--"), flags[i+1])
	}
	return q.Encode()
}

func equalRows(got, want [][]string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if strings.Join(got[i], "\t") != strings.Join(want[i], "\t") {
			return false
		}
	}
	return true
}

// racingProxy serves, on a loopback listener, a reverse proxy to the admin
// listener of gw that lands another operator's change (olga's v1=1 v2=1,
// through the admin listener directly) right after it has read the first
// GET /admin/routes answer and before passing it on: between a CLI
// command's read and its write. olga returns the status of her change.
func racingProxy(t *testing.T, gw *running) (proxyURL string, olga func() int) {
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: gw.admin})
	var once sync.Once
	status := make(chan int, 1)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.Method == http.MethodGet && resp.Request.URL.Path == "/admin/routes" {
			once.Do(func() {
				req, _ := http.NewRequest("PUT", "http://"+gw.admin+"/admin/tenants/acme/models/fraud/weights",
					strings.NewReader(`{"weights": {"v1": 1, "v2": 1}, "reason": "olga was quicker"}`))
				req.Header.Set("Authorization", "Bearer olga")
				code := 0
				if resp, err := gw.client.Do(req); err == nil {
					resp.Body.Close()
					code = resp.StatusCode
				}
				status <- code
			})
		}
		return nil
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return srv.URL, func() int {
		select {
		case c := <-status:
			return c
		default:
			return 0
		}
	}
}

// TestCLIExitCodes checks every exit code against a real gateway: 0 done,
// 1 refused or failed, 2 usage, 3 conflict (412), 4 authentication or
// role; and that no message shows the token.
func TestCLIExitCodes(t *testing.T) {
	v1, v2 := startModel(t, "v1", 0), startModel(t, "v2", 0)
	path, _ := writeConfig(t, planeConfig(v1, v2, 90, 10))
	gw := startServe(t, path, t.TempDir())
	gw.as("otto", "weights", "acme/fraud", "v1=80", "v2=20").want(t, 0, "revision 2 ")

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := "http://" + closed.Addr().String()
	closed.Close()

	tests := []struct {
		desc    string
		token   string
		args    []string
		code    int
		wantErr string
	}{
		{desc: "routes", token: "vera", args: []string{"routes"}, code: 0},
		{desc: "unknown version: 422", token: "otto", args: []string{"weights", "acme/fraud", "v1=1", "v9=1"}, code: 1,
			wantErr: "modelgate weights: 422 Unprocessable Entity: weights.v9: "},
		{desc: "version left out: 422", token: "otto", args: []string{"weights", "acme/fraud", "v1=1"}, code: 1, wantErr: "weights.v2: "},
		{desc: "unknown model: 404", token: "otto", args: []string{"weights", "acme/churn", "v1=1"}, code: 1, wantErr: "404 Not Found"},
		{desc: "another tenant's model: 404", token: "sam", args: []string{"weights", "globex/fraud", "v1=1"}, code: 1,
			wantErr: `404 Not Found: tenant "globex": not found`}, // as for a tenant that does not exist:
		{desc: "no such tenant: 404", token: "sam", args: []string{"weights", "nope/fraud", "v1=1"}, code: 1, wantErr: `404 Not Found: tenant "nope": not found`},
		{desc: "another tenant's routes", token: "sam", args: []string{"routes", "globex"}, code: 1, wantErr: `no tenant "globex"`},
		{desc: "unknown revision", token: "otto", args: []string{"rollback", "99"}, code: 1, wantErr: "404 Not Found: no such revision: 99"},
		{desc: "diff of an unknown revision", token: "vera", args: []string{"diff", "99"}, code: 1, wantErr: "404 Not Found"},
		{desc: "no gateway there", token: "vera", args: []string{"routes", "--admin", nobody}, code: 1,
			wantErr: "modelgate routes: cannot reach the admin API at " + nobody + ": "},
		{desc: "plan of a missing file", token: "vera", args: []string{"plan", "--config", filepath.Join(t.TempDir(), "nope.yaml")}, code: 1, wantErr: "no such file"},
		{desc: "stale --if-match: 412", token: "otto", args: []string{"weights", "acme/fraud", "v1=1", "v2=1", "--if-match", "1"}, code: 3,
			wantErr: "modelgate weights: 412 Precondition Failed: "},
		{desc: "stale rollback: 412", token: "otto", args: []string{"rollback", "1", "--if-match", "1"}, code: 3,
			wantErr: "modelgate rollback: 412 Precondition Failed: "},
		{desc: "no token: 401", token: "", args: []string{"routes"}, code: 4, wantErr: "modelgate routes: 401 Unauthorized: missing or wrong admin token\nmodelgate routes: no token given: set MODELGATE_ADMIN_TOKEN or --token\n"},
		{desc: "wrong token: 401", token: "s3cret-but-wrong", args: []string{"weights", "acme/fraud", "v1=1", "v2=1"}, code: 4, wantErr: "401 Unauthorized"},
		{desc: "viewer changes weights: 403", token: "vera", args: []string{"weights", "acme/fraud", "v1=1", "v2=1"}, code: 4,
			wantErr: "modelgate weights: 403 Forbidden: needs role operator (yours: viewer)"},
		{desc: "viewer rolls back: 403", token: "vera", args: []string{"rollback", "1"}, code: 4, wantErr: "403 Forbidden"},
	}
	// Usage errors send nothing: they are run against an address where
	// nothing listens, which would be exit 1.
	for _, args := range [][]string{
		{"weights", "acme/fraud"}, {"weights", "acme", "v1=1"}, {"weights", "acme/fraud", "v1=x"}, {"weights", "acme/fraud", "v1=1", "v1=2"},
		{"weights", "acme/fraud/x", "v1=1"}, {"routes", "a", "b"}, {"routes", "acme/"}, {"routes", "-o", "yaml"}, {"revisions", "--bogus"},
		{"revisions", "5"}, {"diff"}, {"diff", "x"}, {"diff", "1"}, {"diff", "1", "2", "3"}, {"rollback"}, {"rollback", "0"},
		{"plan", "new.yaml"}, {"audit", "list"}, {"audit", "--since", "yesterday"}, {"audit", "--limit", "-1"},
	} {
		tests = append(tests, struct {
			desc    string
			token   string
			args    []string
			code    int
			wantErr string
		}{desc: "usage " + strings.Join(args, " "), token: "otto", args: append(args, "--admin", nobody), code: 2, wantErr: "\n\nUsage:\n"})
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			r := gw.as(tt.token, tt.args...)
			if r.code != tt.code || tt.code != 0 && !strings.HasPrefix(r.stderr, "modelgate ") || !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("got exit %d, stderr %q; want %d, stderr with %q", r.code, r.stderr, tt.code, tt.wantErr)
			}
			if tt.code != 0 && r.stdout != "" {
				t.Errorf("exit %d with stdout %q", r.code, r.stdout)
			}
			if strings.Contains(r.stderr+r.stdout, "s3cret") {
				t.Errorf("a message shows the token: %q", r.stderr)
			}
		})
	}
	if rb, _ := gw.routes("vera"); rb.Revision != 2 || rb.weights("acme", "fraud") != "v1=80(api) v2=20(api)" {
		t.Errorf("refused commands changed the routing: revision %d, %s", rb.Revision, rb.weights("acme", "fraud"))
	}

	// A change landing between the CLI's read and its write: 412, exit
	// 3, and the other operator's change stands.
	for _, args := range [][]string{{"weights", "acme/fraud", "v1=0", "v2=100"}, {"rollback", "1"}} {
		t.Run("raced "+args[0], func(t *testing.T) {
			before, _ := gw.routes("vera")
			proxy, olga := racingProxy(t, gw)
			r := cli(t, append(args, "--admin", proxy, "--token", "otto")...)
			if r.code != 3 || !strings.Contains(r.stderr, "412 Precondition Failed") ||
				!strings.Contains(r.stderr, "the routing changed since it was read (running revision now ") {
				t.Errorf("got exit %d, stderr %q; want 3 and the 412", r.code, r.stderr)
			}
			rb, _ := gw.routes("vera")
			if olga() != 200 || rb.Revision != before.Revision+1 || rb.weights("acme", "fraud") != "v1=1(api) v2=1(api)" {
				t.Errorf("after the race: revision %d (was %d), %s; want olga's change only", rb.Revision, before.Revision, rb.weights("acme", "fraud"))
			}
		})
	}
}

// TestCLIEnv: MODELGATE_ADMIN and MODELGATE_ADMIN_TOKEN stand in for
// --admin and --token, which win over them.
func TestCLIEnv(t *testing.T) {
	v1, v2 := startModel(t, "v1", 0), startModel(t, "v2", 0)
	path, _ := writeConfig(t, planeConfig(v1, v2, 90, 10))
	gw := startServe(t, path, t.TempDir())
	t.Setenv(EnvAdmin, gw.admin) // host:port, as admin_listen has it
	t.Setenv(EnvAdminToken, "vera")
	cli(t, "routes", "acme/fraud").want(t, 0, "revision 1 (file by file, ")
	if r := cli(t, "weights", "acme/fraud", "v1=1", "v2=1"); r.code != 4 {
		t.Errorf("weights as the env's viewer: exit %d, want 4", r.code)
	}
	cli(t, "weights", "acme/fraud", "v1=1", "v2=1", "--token", "otto").want(t, 0, "revision 2 (api by otto)")
	t.Setenv(EnvAdmin, "http://127.0.0.1:1/")
	cli(t, "revisions", "--admin", "http://"+gw.admin+"/").want(t, 0, "2    ")
	if r := cli(t, "revisions"); r.code != 1 || !strings.Contains(r.stderr, "cannot reach the admin API at http://127.0.0.1:1:") {
		t.Errorf("unreachable MODELGATE_ADMIN: exit %d, %q", r.code, r.stderr)
	}
}
