package main

// The operator CLI: commands that talk to a running gateway's admin API
// (routes, weights, revisions, diff, rollback, plan, audit, rollout). This
// file holds what they share: the common flags, the HTTP client, the
// mapping of answers to exit codes and the table output. Each command is
// in a ctl_*.go file.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/modelgate/modelgate/configs"
)

// The CLI's environment variables: the admin API's URL and the bearer
// token, used when --admin and --token are not given.
const (
	EnvAdmin      = "MODELGATE_ADMIN"
	EnvAdminToken = "MODELGATE_ADMIN_TOKEN"
)

// defaultAdmin is the admin URL without --admin or MODELGATE_ADMIN: the
// default server.admin_listen.
const defaultAdmin = "http://" + configs.DefaultAdminListen

// Exit codes of the CLI commands; scripts may rely on them.
const (
	exitOK       = 0 // done
	exitFailed   = 1 // refused or failed: the server's error (or the network's) on stderr
	exitUsage    = 2 // bad flags or arguments; nothing was sent
	exitConflict = 3 // 412: the routing changed since it was read; read again and rerun
	exitAuth     = 4 // 401 or 403: missing or wrong token, or too low a role
	exitState    = 5 // 409: the state does not allow it (a rollout's phase, the same approver twice, weights a rollout owns)
)

// ctlTimeout bounds one admin request, answer included.
const ctlTimeout = 30 * time.Second

// maxAnswer bounds the admin API answer the CLI reads (an audit export of
// many entries is the largest).
const maxAnswer = 256 << 20

// ctlCommonUsage is the part of every CLI command's usage about the flags
// they share and the exit codes.
const ctlCommonUsage = `
Flags of every command (before or after the arguments):
  --admin URL       the admin API (env ` + EnvAdmin + `, default ` + defaultAdmin + `)
  --token TOKEN     bearer token of an operator (env ` + EnvAdminToken + `; prefer the
                    env var: a flag shows in the process list)
  -o table|json     human tables (default) or the API's JSON as is (JSON lines for audit)

Exit codes: 0 done; 1 refused or failed (the server's error on stderr); 2 usage;
3 conflict (412: the routing changed since it was read: rerun); 4 401/403 (token, role);
5 not allowed in the current state (409: e.g. the rollout's state, the same approver twice).
`

// ctl is one CLI command's connection to the admin API and its output.
type ctl struct {
	name   string // "modelgate weights", for messages
	admin  string // base URL, no trailing slash
	token  string
	json   bool // -o json
	client *http.Client
	ctx    context.Context
	stdout io.Writer
	stderr io.Writer
}

// parseCtl parses the common flags and those extra adds of command name
// (flags anywhere among the arguments) and returns the command's
// connection and positional arguments. When it returns a nil *ctl the
// command is over and returns code: exitUsage after a usage error (the
// message and usage on stderr), exitOK after -h (usage on stdout).
func parseCtl(ctx context.Context, name, usage string, args []string, stdout, stderr io.Writer, extra func(fs *flag.FlagSet)) (*ctl, []string, int) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors and usage printed below, with the command's name
	// Defaults are resolved after parsing so that no usage text ever shows
	// the token from the environment.
	admin := fs.String("admin", "", "admin API URL")
	token := fs.String("token", "", "admin bearer token")
	output := fs.String("o", "table", "output: table or json")
	fs.StringVar(output, "output", "table", "output: table or json")
	if extra != nil {
		extra(fs)
	}
	var pos []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, usage+ctlCommonUsage)
				return nil, nil, exitOK
			}
			return nil, nil, usageError(stderr, name, usage, err.Error())
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	if *output != "table" && *output != "json" {
		return nil, nil, usageError(stderr, name, usage, fmt.Sprintf("-o must be table or json, got %q", *output))
	}
	c := &ctl{name: name, token: *token, json: *output == "json", ctx: ctx, stdout: stdout, stderr: stderr,
		client: &http.Client{Timeout: ctlTimeout}}
	if c.token == "" {
		c.token = os.Getenv(EnvAdminToken)
	}
	c.admin = *admin
	if c.admin == "" {
		c.admin = os.Getenv(EnvAdmin)
	}
	if c.admin == "" {
		c.admin = defaultAdmin
	}
	if !strings.Contains(c.admin, "://") {
		c.admin = "http://" + c.admin // "127.0.0.1:9090" as admin_listen has it
	}
	c.admin = strings.TrimRight(c.admin, "/")
	return c, pos, exitOK
}

// usageError prints "NAME: msg" and the command's usage; the caller
// returns exitUsage.
func usageError(stderr io.Writer, name, usage, msg string) int {
	fmt.Fprintf(stderr, "%s: %s\n\n%s%s", name, msg, usage, ctlCommonUsage)
	return exitUsage
}

// apiError is an admin API answer other than 2xx.
type apiError struct {
	status int
	msg    string // the server's "error" member, or the status text
	field  string // the server's "path" member (422), if any
	// running is the running revision a 412 names, if it does.
	running uint64
}

func (e *apiError) Error() string { return fmt.Sprintf("%d: %s", e.status, e.msg) }

// reachError is a request that got no answer from the admin API.
type reachError struct {
	admin string
	err   error
}

func (e *reachError) Error() string {
	return fmt.Sprintf("cannot reach the admin API at %s: %v", e.admin, e.err)
}

// ctlAnswer is a 2xx answer.
type ctlAnswer struct {
	header http.Header
	body   []byte
}

// call sends method path (path with its query) with body (nil for none),
// If-Match ifMatch when not empty, and the bearer token; it returns the
// answer when the status is 2xx, else an *apiError or a *reachError.
func (c *ctl) call(method, path string, body []byte, contentType, ifMatch string) (*ctlAnswer, error) {
	ctx, cancel := context.WithTimeout(c.ctx, ctlTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.admin+path, rd)
	if err != nil {
		return nil, &reachError{admin: c.admin, err: err}
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, &reachError{admin: c.admin, err: unwrapURLError(err)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err == nil && len(b) > maxAnswer {
		err = fmt.Errorf("longer than %d MiB", maxAnswer>>20)
	}
	if err != nil {
		return nil, &reachError{admin: c.admin, err: fmt.Errorf("reading the answer: %w", err)}
	}
	if resp.StatusCode/100 == 2 {
		return &ctlAnswer{header: resp.Header, body: b}, nil
	}
	e := &apiError{status: resp.StatusCode, msg: http.StatusText(resp.StatusCode)}
	var doc struct {
		Error   string `json:"error"`
		Path    string `json:"path"`
		Running uint64 `json:"running"`
	}
	if json.Unmarshal(b, &doc) == nil && doc.Error != "" {
		e.msg, e.field, e.running = doc.Error, doc.Path, doc.Running
	}
	return nil, e
}

// unwrapURLError drops the *url.Error wrapper, whose text repeats the
// method and URL the message names already.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Errorf("no answer within %v", ctlTimeout)
		}
		return ue.Err
	}
	return err
}

// getJSON GETs path and decodes the answer into v; it returns the answer
// too (its ETag, its bytes for -o json).
func (c *ctl) getJSON(path string, v any) (*ctlAnswer, error) {
	a, err := c.call(http.MethodGet, path, nil, "", "")
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(a.body, v); err != nil {
		return nil, fmt.Errorf("the admin API at %s answered %s with something other than the expected JSON: %w", c.admin, path, err)
	}
	return a, nil
}

// fail reports err on stderr and returns its exit code: exitConflict for
// 412, exitAuth for 401 and 403, exitState for 409, exitFailed otherwise.
// The token is never part of a message.
func (c *ctl) fail(err error) int {
	var ae *apiError
	var re *reachError
	switch {
	case errors.As(err, &ae):
		msg := ae.msg
		if ae.field != "" && !strings.HasPrefix(msg, ae.field) {
			msg = ae.field + ": " + msg
		}
		fmt.Fprintf(c.stderr, "%s: %d %s: %s\n", c.name, ae.status, http.StatusText(ae.status), msg)
		switch ae.status {
		case http.StatusPreconditionFailed:
			running := ""
			if ae.running != 0 {
				running = fmt.Sprintf(" (running revision now %d)", ae.running)
			}
			fmt.Fprintf(c.stderr, "%s: the routing changed since it was read%s: nothing was changed; look again and rerun\n", c.name, running)
			return exitConflict
		case http.StatusUnauthorized:
			if c.token == "" {
				fmt.Fprintf(c.stderr, "%s: no token given: set %s or --token\n", c.name, EnvAdminToken)
			}
			return exitAuth
		case http.StatusForbidden:
			return exitAuth
		case http.StatusConflict:
			return exitState
		}
		return exitFailed
	case errors.As(err, &re):
		fmt.Fprintf(c.stderr, "%s: %v\n", c.name, re)
	default:
		fmt.Fprintf(c.stderr, "%s: %v\n", c.name, err)
	}
	return exitFailed
}

// printRaw writes an answer's body as it came, ending in a newline.
func (c *ctl) printRaw(b []byte) {
	c.stdout.Write(b)
	if len(b) > 0 && b[len(b)-1] != '\n' {
		io.WriteString(c.stdout, "\n")
	}
}

// table returns an aligned-columns writer on stdout; Flush it.
func (c *ctl) table() *tabwriter.Writer {
	return tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
}

// row writes cells as one tab-separated table row.
func row(w io.Writer, cells ...string) {
	fmt.Fprintln(w, strings.Join(cells, "\t"))
}

// etagRevision is the revision number of an ETag ("12" or W/"12"), 0 if
// it is not one.
func etagRevision(etag string) uint64 {
	n, err := strconv.ParseUint(strings.Trim(strings.TrimPrefix(etag, "W/"), `"`), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// readETag GETs /admin/routes for the ETag of the running revision, which
// a mutation sends as If-Match.
func (c *ctl) readETag() (string, error) {
	a, err := c.call(http.MethodGet, "/admin/routes", nil, "", "")
	if err != nil {
		return "", err
	}
	etag := a.header.Get("ETag")
	if etagRevision(etag) == 0 {
		return "", fmt.Errorf("the admin API at %s answered /admin/routes without a revision ETag (got %q)", c.admin, etag)
	}
	return etag, nil
}

// fmtTime is t in UTC to the second (RFC 3339, one table cell), for tables.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// dash is s as one table cell: "-" when s is empty (an empty cell is
// hard to read), control characters (a tab or newline in a reason would
// break the table) as spaces.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
