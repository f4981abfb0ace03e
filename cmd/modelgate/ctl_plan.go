package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

const planUsage = `Usage:
  modelgate plan --config FILE [flags]
      what a reload of FILE would change against the running revision, as a
      semantic diff, and for each sticky model the share of its users that would
      switch version (exact, from the rendezvous hashing), e.g.
        acme/fraud: 15.0% of sticky users would switch version (v1→v2 15.0%)
      (POST /admin/plan). Nothing is applied. An invalid FILE: its mistakes,
      one a line with its YAML path, on stderr and exit 1.
`

// planDoc is the POST /admin/plan answer (admin.planView).
type planDoc struct {
	Running uint64   `json:"running"`
	Valid   bool     `json:"valid"`
	Errors  []string `json:"errors"`
	Changes []string `json:"changes"`
	Sticky  []struct {
		Tenant      string  `json:"tenant"`
		Model       string  `json:"model"`
		SwitchShare float64 `json:"switch_share"`
		Flows       []struct {
			From  string  `json:"from"`
			To    string  `json:"to"`
			Share float64 `json:"share"`
		} `json:"flows"`
	} `json:"sticky"`
}

func planCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "modelgate plan"
	var path string
	c, pos, code := parseCtl(ctx, name, planUsage, args, stdout, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&path, "config", "modelgate.yaml", "the config file to plan")
	})
	if c == nil {
		return code
	}
	if len(pos) > 0 {
		return usageError(stderr, name, planUsage, fmt.Sprintf("takes no arguments (the file is --config FILE), got %q", pos[0]))
	}
	file, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		return exitFailed
	}
	a, err := c.call(http.MethodPost, "/admin/plan", file, "application/yaml", "")
	if err != nil {
		return c.fail(err)
	}
	var doc planDoc
	if err := json.Unmarshal(a.body, &doc); err != nil {
		return c.fail(fmt.Errorf("the admin API at %s answered the plan with something other than the expected JSON: %w", c.admin, err))
	}
	if c.json {
		c.printRaw(a.body)
	}
	if !doc.Valid {
		fmt.Fprintf(stderr, "%s: invalid config (a reload would keep revision %d):\n", path, doc.Running)
		for _, e := range doc.Errors {
			fmt.Fprintln(stderr, e)
		}
		return exitFailed
	}
	if c.json {
		return exitOK
	}
	if len(doc.Changes) == 0 {
		fmt.Fprintf(stdout, "a reload of %s would change nothing against revision %d\n", path, doc.Running)
		return exitOK
	}
	fmt.Fprintf(stdout, "a reload of %s would change, against revision %d:\n", path, doc.Running)
	printChanges(c, doc.Changes)
	for _, s := range doc.Sticky {
		flows := make([]string, 0, len(s.Flows))
		for _, f := range s.Flows {
			flows = append(flows, fmt.Sprintf("%s→%s %.1f%%", f.From, f.To, 100*f.Share))
		}
		fmt.Fprintf(stdout, "%s/%s: %.1f%% of sticky users would switch version (%s)\n",
			s.Tenant, s.Model, 100*s.SwitchShare, strings.Join(flows, ", "))
	}
	return exitOK
}
