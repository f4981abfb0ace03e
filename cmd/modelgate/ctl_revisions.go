package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

const revisionsUsage = `Usage:
  modelgate revisions [--limit N] [--before N] [flags]
      the routing revisions, newest first (GET /admin/revisions): number, time,
      source, actor, reason and the first of its changes; --limit N of them
      (default: the server's, 50), --before N: those older than revision N.
`

const diffUsage = `Usage:
  modelgate diff N [M] [flags]
      what changed from revision M (default N-1) to revision N, as a semantic
      diff (GET /admin/revisions/N/diff?from=M).
`

const rollbackUsage = `Usage:
  modelgate rollback N [--reason TEXT] [--if-match M] [flags]
      restore revision N's routing exactly, as a new revision (POST
      /admin/rollback). Like weights, it is made only if the routing is still
      the revision read just before (else exit 3, nothing changes); --if-match M:
      only if revision M is running.
`

func revisionsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "modelgate revisions"
	var limit, before uint64
	c, pos, code := parseCtl(ctx, name, revisionsUsage, args, stdout, stderr, func(fs *flag.FlagSet) {
		fs.Uint64Var(&limit, "limit", 0, "at most N revisions")
		fs.Uint64Var(&before, "before", 0, "revisions older than N")
	})
	if c == nil {
		return code
	}
	if len(pos) > 0 {
		return usageError(stderr, name, revisionsUsage, fmt.Sprintf("takes no arguments, got %q", pos[0]))
	}
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.FormatUint(limit, 10))
	}
	if before > 0 {
		q.Set("before", strconv.FormatUint(before, 10))
	}
	path := "/admin/revisions"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var doc struct {
		Revisions []revisionDoc `json:"revisions"`
	}
	a, err := c.getJSON(path, &doc)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		c.printRaw(a.body)
		return exitOK
	}
	tw := c.table()
	row(tw, "REV", "TIME", "SOURCE", "ACTOR", "CHANGES", "REASON")
	for _, r := range doc.Revisions {
		changes := "-"
		if n := len(r.Changes); n > 0 {
			changes = r.Changes[0]
			if n > 1 {
				changes += fmt.Sprintf(" (+%d more)", n-1)
			}
		}
		row(tw, strconv.FormatUint(r.N, 10), fmtTime(r.Time), r.Source, dash(r.Actor), dash(changes), dash(r.Reason))
	}
	tw.Flush()
	return exitOK
}

func diffCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "modelgate diff"
	c, pos, code := parseCtl(ctx, name, diffUsage, args, stdout, stderr, nil)
	if c == nil {
		return code
	}
	if len(pos) < 1 || len(pos) > 2 {
		return usageError(stderr, name, diffUsage, fmt.Sprintf("want N [M], got %d arguments", len(pos)))
	}
	var ns []uint64
	for _, p := range pos {
		n, err := strconv.ParseUint(p, 10, 64)
		if err != nil || n == 0 {
			return usageError(stderr, name, diffUsage, fmt.Sprintf("want a revision number, got %q", p))
		}
		ns = append(ns, n)
	}
	path := "/admin/revisions/" + strconv.FormatUint(ns[0], 10) + "/diff"
	if len(ns) == 2 {
		path += "?from=" + strconv.FormatUint(ns[1], 10)
	} else if ns[0] == 1 {
		return usageError(stderr, name, diffUsage, "revision 1 has none before it: name the revision to compare with, diff 1 M")
	}
	var doc struct {
		From    uint64   `json:"from"`
		To      uint64   `json:"to"`
		Changes []string `json:"changes"`
	}
	a, err := c.getJSON(path, &doc)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		c.printRaw(a.body)
		return exitOK
	}
	fmt.Fprintf(stdout, "revision %d → %d:\n", doc.From, doc.To)
	printChanges(c, doc.Changes)
	return exitOK
}

func rollbackCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "modelgate rollback"
	var reason string
	var ifMatch uint64
	c, pos, code := parseCtl(ctx, name, rollbackUsage, args, stdout, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&reason, "reason", "", "why, for the revision and the audit log")
		fs.Uint64Var(&ifMatch, "if-match", 0, "roll back only if revision M is running")
	})
	if c == nil {
		return code
	}
	if len(pos) != 1 {
		return usageError(stderr, name, rollbackUsage, fmt.Sprintf("want one revision number N, got %d arguments", len(pos)))
	}
	to, err := strconv.ParseUint(pos[0], 10, 64)
	if err != nil || to == 0 {
		return usageError(stderr, name, rollbackUsage, fmt.Sprintf("want a revision number, got %q", pos[0]))
	}
	body, _ := json.Marshal(map[string]any{"to": to, "reason": reason})
	return c.mutate(http.MethodPost, "/admin/rollback", body, ifMatch)
}
