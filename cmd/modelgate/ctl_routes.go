package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

const routesUsage = `Usage:
  modelgate routes [TENANT[/MODEL]] [flags]
      the routing the gateway serves (GET /admin/routes): per version its weight,
      share of traffic, who set the weight (file, api, rollout, rollback) and its
      endpoints; the running revision and whether it drifts from the config file.
      With TENANT or TENANT/MODEL only those (exit 1 when there are none).
`

const weightsUsage = `Usage:
  modelgate weights TENANT/MODEL VERSION=WEIGHT... [--reason TEXT] [--if-match N] [flags]
      set a model's complete split, every version named, e.g.
        modelgate weights acme/fraud v1=90 v2=10 --reason "canary 10%"
      (PUT /admin/tenants/TENANT/models/MODEL/weights). The change is made only
      if the routing is still the revision read just before (If-Match): if
      someone changed it in between, exit 3 and nothing changes. --if-match N
      makes it conditional on revision N instead (one a script read earlier).
      Prints the new revision and its changes.
`

// routesDoc is the GET /admin/routes body (admin.routesView), every
// member, so that a filtered -o json keeps them.
type routesDoc struct {
	Revision uint64        `json:"revision"`
	Hash     string        `json:"hash"`
	Source   string        `json:"source"`
	Actor    string        `json:"actor"`
	Time     time.Time     `json:"time"`
	FileHash string        `json:"file_hash"`
	Drift    bool          `json:"drift"`
	Tenants  []routeTenant `json:"tenants"`
}

type routeTenant struct {
	Name   string       `json:"name"`
	Models []routeModel `json:"models"`
}

type routeModel struct {
	Name     string         `json:"name"`
	Fallback string         `json:"fallback,omitempty"`
	Shadow   string         `json:"shadow,omitempty"`
	Versions []routeVersion `json:"versions"`
}

type routeVersion struct {
	Name             string   `json:"name"`
	Weight           int      `json:"weight"`
	Share            float64  `json:"share_percent"`
	WeightSource     string   `json:"weight_source"`
	ContainerVersion string   `json:"container_version,omitempty"`
	Endpoints        []string `json:"endpoints"`
}

// revisionDoc is a revision as the API answers it (admin.revisionView)
// without its routing: a mutation's answer, an entry of GET
// /admin/revisions.
type revisionDoc struct {
	N        uint64    `json:"n"`
	Time     time.Time `json:"time"`
	Source   string    `json:"source"`
	Actor    string    `json:"actor"`
	Reason   string    `json:"reason"`
	Changes  []string  `json:"changes"`
	Overrode []string  `json:"overrode"`
}

// splitTarget splits "TENANT/MODEL" (model optional when !needModel).
func splitTarget(s string, needModel bool) (tenant, model string, ok bool) {
	tenant, model, hasModel := strings.Cut(s, "/")
	if tenant == "" || strings.Contains(model, "/") || hasModel && model == "" || needModel && !hasModel {
		return "", "", false
	}
	return tenant, model, true
}

func routesCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "modelgate routes"
	c, pos, code := parseCtl(ctx, name, routesUsage, args, stdout, stderr, nil)
	if c == nil {
		return code
	}
	var tenant, model string
	switch len(pos) {
	case 0:
	case 1:
		var ok bool
		if tenant, model, ok = splitTarget(pos[0], false); !ok {
			return usageError(stderr, name, routesUsage, fmt.Sprintf("want TENANT or TENANT/MODEL, got %q", pos[0]))
		}
	default:
		return usageError(stderr, name, routesUsage, fmt.Sprintf("want at most one TENANT[/MODEL], got %d arguments", len(pos)))
	}
	var doc routesDoc
	a, err := c.getJSON("/admin/routes", &doc)
	if err != nil {
		return c.fail(err)
	}
	if tenant != "" {
		doc.Tenants = filterRoutes(doc.Tenants, tenant, model)
		if len(doc.Tenants) == 0 {
			what := "tenant " + strconv.Quote(tenant)
			if model != "" {
				what = "model " + strconv.Quote(tenant+"/"+model)
			}
			fmt.Fprintf(stderr, "%s: no %s in the routing of revision %d (or not yours to see)\n", name, what, doc.Revision)
			return exitFailed
		}
	}
	if c.json {
		if tenant == "" {
			c.printRaw(a.body)
		} else {
			b, _ := json.MarshalIndent(doc, "", "  ")
			c.printRaw(b)
		}
		return exitOK
	}
	drift := "no"
	if doc.Drift {
		drift = "yes (the running routing differs from the config file; its next change wins)"
	}
	fmt.Fprintf(stdout, "revision %d (%s by %s, %s)  drift: %s\n", doc.Revision, doc.Source, doc.Actor, fmtTime(doc.Time), drift)
	tw := c.table()
	row(tw, "TENANT", "MODEL", "VERSION", "WEIGHT", "SHARE", "SOURCE", "ENDPOINTS")
	for _, t := range doc.Tenants {
		for _, m := range t.Models {
			for _, v := range m.Versions {
				version := v.Name
				switch v.Name {
				case m.Shadow:
					version += " (shadow)"
				case m.Fallback:
					version += " (fallback)"
				}
				row(tw, t.Name, m.Name, version, strconv.Itoa(v.Weight), fmt.Sprintf("%.1f%%", v.Share),
					v.WeightSource, dash(strings.Join(v.Endpoints, ",")))
			}
		}
	}
	tw.Flush()
	return exitOK
}

// filterRoutes keeps tenant, and of it model only when model is not "".
func filterRoutes(ts []routeTenant, tenant, model string) []routeTenant {
	i := slices.IndexFunc(ts, func(t routeTenant) bool { return t.Name == tenant })
	if i < 0 {
		return nil
	}
	t := ts[i]
	if model != "" {
		j := slices.IndexFunc(t.Models, func(m routeModel) bool { return m.Name == model })
		if j < 0 {
			return nil
		}
		t.Models = t.Models[j : j+1]
	}
	return []routeTenant{t}
}

func weightsCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const name = "modelgate weights"
	var reason string
	var ifMatch uint64
	c, pos, code := parseCtl(ctx, name, weightsUsage, args, stdout, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&reason, "reason", "", "why, for the revision and the audit log")
		fs.Uint64Var(&ifMatch, "if-match", 0, "change only if revision N is running")
	})
	if c == nil {
		return code
	}
	if len(pos) < 2 {
		return usageError(stderr, name, weightsUsage, "want TENANT/MODEL and at least one VERSION=WEIGHT")
	}
	tenant, model, ok := splitTarget(pos[0], true)
	if !ok {
		return usageError(stderr, name, weightsUsage, fmt.Sprintf("want TENANT/MODEL, got %q", pos[0]))
	}
	weights := map[string]int{}
	for _, p := range pos[1:] {
		v, w, ok := strings.Cut(p, "=")
		n, err := strconv.Atoi(w)
		if !ok || v == "" || err != nil {
			return usageError(stderr, name, weightsUsage, fmt.Sprintf("want VERSION=WEIGHT (an integer), got %q", p))
		}
		if _, dup := weights[v]; dup {
			return usageError(stderr, name, weightsUsage, fmt.Sprintf("version %q named twice", v))
		}
		weights[v] = n
	}
	body, _ := json.Marshal(map[string]any{"weights": weights, "reason": reason})
	path := "/admin/tenants/" + url.PathEscape(tenant) + "/models/" + url.PathEscape(model) + "/weights"
	return c.mutate(http.MethodPut, path, body, ifMatch)
}

// mutate sends a weights change or a rollback with If-Match: revision
// ifMatch, or when 0 the running revision read just before, and prints
// the revision it made.
func (c *ctl) mutate(method, path string, body []byte, ifMatch uint64) int {
	etag := `"` + strconv.FormatUint(ifMatch, 10) + `"`
	if ifMatch == 0 {
		var err error
		if etag, err = c.readETag(); err != nil {
			return c.fail(err)
		}
	}
	a, err := c.call(method, path, body, "application/json", etag)
	if err != nil {
		return c.fail(err)
	}
	if c.json {
		c.printRaw(a.body)
		return exitOK
	}
	var r revisionDoc
	if err := json.Unmarshal(a.body, &r); err != nil {
		return c.fail(fmt.Errorf("the change was made, but its answer is not the expected JSON: %w", err))
	}
	printRevisionMade(c, r, etagRevision(etag))
	return exitOK
}

// printRevisionMade prints the revision a mutation made on top of from.
func printRevisionMade(c *ctl, r revisionDoc, from uint64) {
	fmt.Fprintf(c.stdout, "revision %d (%s by %s", r.N, r.Source, r.Actor)
	if r.Reason != "" {
		fmt.Fprintf(c.stdout, ": %q", r.Reason)
	}
	fmt.Fprintf(c.stdout, "), on top of revision %d:\n", from)
	printChanges(c, r.Changes)
}

// printChanges prints changes indented, one a line, or that there are none.
func printChanges(c *ctl, changes []string) {
	if len(changes) == 0 {
		fmt.Fprintln(c.stdout, "  no changes")
	}
	for _, ch := range changes {
		fmt.Fprintln(c.stdout, "  "+ch)
	}
}
