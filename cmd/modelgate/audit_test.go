package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/audit"
)

// TestAuditVerify writes a real audit log, then runs `modelgate audit
// verify` on it and on tampered copies.
func TestAuditVerify(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "audit.log")
	l, err := audit.Open(good)
	if err != nil {
		t.Fatal(err)
	}
	var acme []audit.Entry
	for i := 1; i <= 50; i++ {
		e, err := l.Append(audit.Entry{Actor: "alice", Role: "operator", Remote: "127.0.0.1:4000", Action: audit.ActionWeights,
			Tenant: []string{"acme", "globex"}[i%2], Model: "fraud", BeforeRevision: uint64(i), AfterRevision: uint64(i + 1),
			Reason: fmt.Sprintf("step %d", i), Status: 200})
		if err != nil {
			t.Fatal(err)
		}
		if e.Tenant == "acme" {
			acme = append(acme, e)
		}
	}
	l.Close()
	lines := strings.SplitAfter(strings.TrimSuffix(readFile(t, good), "\n"), "\n")
	variant := func(name string, edit func(l []string) []string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(strings.Join(edit(append([]string(nil), lines...)), "")), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	edited := variant("edited.log", func(l []string) []string {
		l[19] = strings.Replace(l[19], `"reason":"step 20"`, `"reason":"step twenty"`, 1)
		return l
	})
	removed := variant("removed.log", func(l []string) []string { return append(l[:19:19], l[20:]...) })
	swapped := variant("swapped.log", func(l []string) []string {
		l[9], l[10] = l[10], l[9]
		return l
	})
	headless := variant("headless.log", func(l []string) []string { return l[5:] })
	var buf bytes.Buffer
	if err := audit.Export(&buf, acme); err != nil {
		t.Fatal(err)
	}
	export := filepath.Join(dir, "acme.jsonl")
	if err := os.WriteFile(export, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		desc     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{desc: "intact", args: []string{good}, wantCode: 0, wantOut: "ok: 50 entries, seq 1–50\n"},
		{desc: "intact, --partial", args: []string{"--partial", good}, wantCode: 0, wantOut: "ok: 50 entries, seq 1–50\n"},
		{desc: "edited", args: []string{edited}, wantCode: 1, wantErr: edited + ":20: seq 20: hash mismatch: the entry was edited\n"},
		{desc: "edited, --partial", args: []string{edited, "--partial"}, wantCode: 1, wantErr: edited + ":20: seq 20: hash mismatch"},
		{desc: "removed", args: []string{removed}, wantCode: 1, wantErr: removed + ":20: seq 21: seq 20 missing before it (removed?)"},
		{desc: "removed, --partial", args: []string{"--partial", removed}, wantCode: 0, wantOut: "ok: 49 entries, seq 1–50, 1 gap(s) (partial)\n"},
		{desc: "swapped", args: []string{swapped}, wantCode: 1, wantErr: swapped + ":11: seq 10: not after seq 11 on line 10: entries reordered or duplicated\n"},
		{desc: "first entries removed", args: []string{headless}, wantCode: 1, wantErr: headless + ":1: seq 6: seq 1–5 missing before it"},
		{desc: "filtered export", args: []string{export}, wantCode: 1, wantErr: export + ":1: seq 2: seq 1 missing before it"},
		{desc: "filtered export, --partial", args: []string{"--partial", export}, wantCode: 0, wantOut: "ok: 25 entries, seq 2–50, 24 gap(s) (partial)\n"},
		{desc: "missing file", args: []string{filepath.Join(dir, "nope.log")}, wantCode: 1, wantErr: "modelgate audit verify: open "},
		{desc: "no file", args: nil, wantCode: 2, wantErr: "modelgate audit verify: want one FILE, got 0"},
		{desc: "two files", args: []string{good, edited}, wantCode: 2, wantErr: "modelgate audit verify: want one FILE, got 2"},
		{desc: "unknown flag", args: []string{"--full", good}, wantCode: 2, wantErr: "flag provided but not defined: -full"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), append([]string{"audit", "verify"}, tt.args...), &out, &errOut)
			if code != tt.wantCode {
				t.Errorf("got exit code %d, want %d (stderr %q)", code, tt.wantCode, errOut.String())
			}
			if out.String() != tt.wantOut {
				t.Errorf("got stdout %q, want %q", out.String(), tt.wantOut)
			}
			if !strings.HasPrefix(errOut.String(), tt.wantErr) || (tt.wantErr == "") != (errOut.Len() == 0) {
				t.Errorf("got stderr %q, want it to start with %q", errOut.String(), tt.wantErr)
			}
		})
	}
}

func TestAuditUsage(t *testing.T) {
	// Plain "audit" lists entries through the admin API (ctl_audit.go).
	for _, args := range [][]string{{"audit", "verify"}, {"audit", "list"}} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "modelgate audit verify [--partial] FILE") {
			t.Errorf("%v: got exit %d, stderr %q; want 2 and the usage", args, code, errOut.String())
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
