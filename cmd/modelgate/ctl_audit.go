package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"

	"github.com/modelgate/modelgate/audit"
)

const auditListUsage = `Usage:
  modelgate audit [--tenant T] [--actor A] [--since 1h] [--until TIME] [--limit N] [flags]
      the audit log's entries (GET /admin/audit), oldest first: the newest N
      (default the server's, 1000) of those of tenant T, of actor A, since and
      until a time (RFC 3339, or a duration back from now: 1h, 30m).
      -o json prints them as JSON lines, the log's own format, so that
        modelgate audit -o json > f && modelgate audit verify --partial f
      checks the export.
`

// auditList runs "modelgate audit [flags]".
func auditList(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "modelgate audit"
	var tenant, actor, since, until string
	var limit int
	c, pos, code := parseCtl(ctx, name, auditUsage, args, stdout, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&tenant, "tenant", "", "entries of tenant T only")
		fs.StringVar(&actor, "actor", "", "entries of actor A only")
		fs.StringVar(&since, "since", "", "entries since a time or a duration back from now")
		fs.StringVar(&until, "until", "", "entries before a time or a duration back from now")
		fs.IntVar(&limit, "limit", 0, "the newest N entries")
	})
	if c == nil {
		return code
	}
	if len(pos) > 0 {
		return usageError(stderr, name, auditUsage, fmt.Sprintf("unknown subcommand %q", pos[0]))
	}
	q := url.Values{}
	for _, p := range []struct{ key, v string }{{"since", since}, {"until", until}} {
		if p.v == "" {
			continue
		}
		if _, err := time.ParseDuration(p.v); err != nil {
			if _, err := time.Parse(time.RFC3339, p.v); err != nil {
				return usageError(stderr, name, auditUsage, fmt.Sprintf("--%s must be an RFC 3339 time or a duration (1h), got %q", p.key, p.v))
			}
		}
		q.Set(p.key, p.v)
	}
	if limit < 0 {
		return usageError(stderr, name, auditUsage, fmt.Sprintf("--limit must be positive, got %d", limit))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if tenant != "" {
		q.Set("tenant", tenant)
	}
	if actor != "" {
		q.Set("actor", actor)
	}
	path := "/admin/audit"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	a, err := c.call("GET", path, nil, "", "")
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		c.stdout.Write(a.body) // JSON lines, each ended by "\n", as the log has them
		return exitOK
	}
	tw := c.table()
	row(tw, "SEQ", "TIME", "ACTOR", "ROLE", "ACTION", "TENANT/MODEL", "REVISION", "STATUS", "REASON")
	for i, line := range bytes.Split(bytes.TrimSuffix(a.body, []byte("\n")), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var e audit.Entry
		if err := e.UnmarshalJSON(line); err != nil {
			tw.Flush()
			return c.fail(fmt.Errorf("the admin API at %s answered the audit log with a bad line %d: %w", c.admin, i+1, err))
		}
		target := e.Tenant
		if e.Model != "" {
			target += "/" + e.Model
		}
		rev := "-"
		switch {
		case e.AfterRevision != 0 && e.AfterRevision != e.BeforeRevision:
			rev = fmt.Sprintf("%d→%d", e.BeforeRevision, e.AfterRevision)
		case e.BeforeRevision != 0:
			rev = strconv.FormatUint(e.BeforeRevision, 10)
		}
		row(tw, strconv.FormatUint(e.Seq, 10), fmtTime(e.Time), dash(e.Actor), dash(e.Role), e.Action, dash(target),
			rev, strconv.Itoa(e.Status), dash(e.Reason))
	}
	tw.Flush()
	return exitOK
}
