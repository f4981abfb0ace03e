package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/modelgate/modelgate/audit"
)

const auditVerifyUsage = `Usage:
  modelgate audit verify [--partial] FILE
      check the hash chain of an audit log (as the gateway writes it, or an
      export of one); exit 0 when intact, 1 naming the first bad entry,
      2 for usage errors. Without --partial a missing entry (a seq gap) is
      a failure; --partial accepts gaps, for exports of a filtered query.
`

// auditUsage is both audit commands' usage.
var auditUsage = auditListUsage + auditVerifyUsage[len("Usage:\n"):]

// auditCmd runs "modelgate audit verify …", or lists entries through the
// admin API ("modelgate audit [flags]", ctl_audit.go).
func auditCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "verify" {
		return auditList(ctx, args, stdout, stderr)
	}
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, auditVerifyUsage) }
	partial := fs.Bool("partial", false, "accept seq gaps (an export of a filtered query)")
	files, ok := parseInterspersed(fs, args[1:])
	if !ok {
		return 2
	}
	if len(files) != 1 {
		fmt.Fprintf(stderr, "modelgate audit verify: want one FILE, got %d\n\n%s", len(files), auditVerifyUsage)
		return 2
	}
	return auditVerify(files[0], *partial, stdout, stderr)
}

// parseInterspersed parses flags before, between and after the
// positional arguments, which it returns.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, bool) {
	var pos []string
	for {
		if fs.Parse(args) != nil {
			return nil, false
		}
		if fs.NArg() == 0 {
			return pos, true
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// auditVerify checks one file: exit 0 with "ok: N entries, seq A–B",
// 1 with "FILE:LINE: seq N: REASON" for the first bad entry.
func auditVerify(path string, partial bool, stdout, stderr io.Writer) int {
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintf(stderr, "modelgate audit verify: %v\n", err)
		return 1
	}
	defer f.Close()
	rep, err := audit.Verify(f)
	var verr *audit.VerifyError
	switch {
	case errors.As(err, &verr):
		if verr.Seq == 0 {
			fmt.Fprintf(stderr, "%s:%d: %s\n", path, verr.Line, verr.Reason)
		} else {
			fmt.Fprintf(stderr, "%s:%d: seq %d: %s\n", path, verr.Line, verr.Seq, verr.Reason)
		}
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "modelgate audit verify: %s: %v\n", path, err)
		return 1
	}
	if !partial {
		if rep.First > 1 {
			fmt.Fprintf(stderr, "%s:1: seq %d: %s missing before it (the log starts at seq 1); --partial accepts an export\n", path, rep.First, span(1, rep.First-1))
			return 1
		}
		if g := rep.FirstGap; rep.Gaps > 0 {
			fmt.Fprintf(stderr, "%s:%d: seq %d: %s missing before it (removed?); %d gap(s) in all; --partial accepts an export\n", path, g.Line, g.Seq, span(g.After+1, g.Seq-1), rep.Gaps)
			return 1
		}
	}
	switch {
	case rep.Entries == 0:
		fmt.Fprintln(stdout, "ok: 0 entries")
	case rep.Gaps > 0:
		fmt.Fprintf(stdout, "ok: %d entries, seq %d–%d, %d gap(s) (partial)\n", rep.Entries, rep.First, rep.Last, rep.Gaps)
	default:
		fmt.Fprintf(stdout, "ok: %d entries, seq %d–%d\n", rep.Entries, rep.First, rep.Last)
	}
	return 0
}

// span is "seq 5" or "seq 5–9".
func span(from, to uint64) string {
	if from == to {
		return fmt.Sprintf("seq %d", from)
	}
	return fmt.Sprintf("seq %d–%d", from, to)
}
