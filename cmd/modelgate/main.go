// Command modelgate is the model-serving gateway.
//
//	modelgate serve --config FILE     run the gateway
//	modelgate validate --config FILE  check a config; one line per mistake
//	modelgate demo                    gateway + two example model versions on loopback
//	modelgate audit verify FILE       check an audit log's hash chain
//	modelgate version                 print the build
//
// and the operator CLI, which talks to a running gateway's admin API
// (ctl*.go):
//
//	modelgate routes [TENANT[/MODEL]]              the routing served, weights and their sources
//	modelgate weights TENANT/MODEL v1=90 v2=10     set a split (If-Match of what it read)
//	modelgate revisions | diff N [M] | rollback N  the routing history; restore a revision
//	modelgate plan --config FILE                   what a reload of FILE would change, sticky users moved
//	modelgate audit [--tenant T] [--since 1h]      the audit log
//	modelgate rollout status|watch|explain|approve|… TENANT/MODEL
//	                                               progressive delivery (ctl_rollout*.go)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/internal/maxprocs"
	"github.com/modelgate/modelgate/observability"
)

// Set with -ldflags "-X main.version=... -X main.revision=...".
var version, revision string

const usage = `modelgate: a model-serving gateway

Usage:
  modelgate serve --config FILE [--data-dir DIR]
                                     run the gateway; DIR keeps routing revisions and the
                                     audit log (default $MODELGATE_DATA_DIR, else
                                     $XDG_STATE_HOME/modelgate or ~/.local/state/modelgate)
  modelgate validate --config FILE   check a config file (exit 1 with one line per mistake)
  modelgate demo [--listen ADDR] [--admin-listen ADDR]
                                     run the gateway with two example model versions on loopback
  modelgate demo --rollout           two progressive releases end to end (a good v2 completes,
                                     a drifting v2 is stopped at the shadow step), then exit
  modelgate audit verify [--partial] FILE
                                     check an audit log's hash chain (exit 1 naming the first bad entry)
  modelgate version                  print version information

Operator CLI (talks to a running gateway's admin API):
  modelgate routes [TENANT[/MODEL]]  the routing served: weights, shares, who set them, endpoints,
                                     the running revision and drift from the file
  modelgate weights TENANT/MODEL VERSION=WEIGHT... [--reason TEXT] [--if-match N]
                                     set a model's complete split, if the routing is still the
                                     revision read just before (else exit 3)
  modelgate revisions [--limit N] [--before N]
                                     the routing revisions, newest first
  modelgate diff N [M]               what changed from revision M (default N-1) to N
  modelgate rollback N [--reason TEXT] [--if-match M]
                                     restore revision N's routing as a new revision
  modelgate plan --config FILE       what a reload of FILE would change, with the share of sticky
                                     users that would switch version; its mistakes (exit 1)
  modelgate audit [--tenant T] [--actor A] [--since 1h] [--until TIME] [--limit N]
                                     the audit log's entries (-o json: JSON lines for audit verify)
  modelgate rollout status [TENANT/MODEL]
                                     every rollout as a table; one in detail: steps, weights,
                                     approvals, the last look's verdicts
  modelgate rollout watch TENANT/MODEL [--interval 1s]
                                     redraw the detail until the rollout ends (exit 0 completed,
                                     1 rolled back or aborted, 130 interrupted)
  modelgate rollout explain TENANT/MODEL
                                     every decision, and every verdict with its inputs
  modelgate rollout approve|reject|promote|pause|resume|abort|retry TENANT/MODEL
                    [--comment TEXT] [--full]
                                     act on a rollout (reject needs --comment; --full: promote
                                     to the last step at once)
  Flags of each: --admin URL (env MODELGATE_ADMIN, default http://127.0.0.1:9090),
  --token TOKEN (env MODELGATE_ADMIN_TOKEN), -o table|json; before or after the arguments.
  Exit codes: 0 done; 1 refused or failed (the server's error on stderr); 2 usage;
  3 conflict (412: the routing changed since it was read: rerun); 4 401/403 (token or role);
  5 not allowed in the current state (409: the rollout's state, the same approver twice,
  weights a rollout owns).
`

func main() {
	setBuildInfo()
	maxprocs.Raise() // at least 2 Ps, also on one pinned CPU (internal/maxprocs); logged by serve
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command; serve and demo run until ctx is done.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(stderr)
		path := fs.String("config", "modelgate.yaml", "config file")
		dataDir := fs.String("data-dir", defaultDataDir(), "directory of the routing revisions and the audit log (env "+EnvDataDir+")")
		if fs.Parse(rest) != nil {
			return 2
		}
		cfg, err := configs.Load(*path)
		if err != nil {
			fmt.Fprintf(stderr, "modelgate: %s: invalid config:\n%v\n", *path, err)
			return 1
		}
		if err := serve(ctx, *path, *dataDir, cfg, stderr, nil); err != nil {
			fmt.Fprintf(stderr, "modelgate: %v\n", err)
			return 1
		}
		return 0
	case "validate":
		fs := flag.NewFlagSet("validate", flag.ContinueOnError)
		fs.SetOutput(stderr)
		path := fs.String("config", "modelgate.yaml", "config file")
		if fs.Parse(rest) != nil {
			return 2
		}
		return validate(*path, stdout, stderr)
	case "demo":
		return demo(ctx, rest, stdout, stderr)
	case "audit":
		return auditCmd(ctx, rest, stdout, stderr)
	case "routes":
		return routesCmd(ctx, rest, stdout, stderr)
	case "weights":
		return weightsCmd(ctx, rest, stdout, stderr)
	case "revisions":
		return revisionsCmd(ctx, rest, stdout, stderr)
	case "diff":
		return diffCmd(ctx, rest, stdout, stderr)
	case "rollback":
		return rollbackCmd(ctx, rest, stdout, stderr)
	case "plan":
		return planCmd(ctx, rest, stdout, stderr)
	case "rollout":
		return rolloutCmd(ctx, rest, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintf(stdout, "modelgate %s (revision %s)\n", observability.Version, observability.Revision)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "modelgate: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
}

func validate(path string, stdout, stderr io.Writer) int {
	cfg, err := configs.Load(path)
	if err != nil {
		var verrs configs.Errors
		if errors.As(err, &verrs) {
			for _, e := range verrs {
				fmt.Fprintln(stderr, e.Error())
			}
		} else {
			fmt.Fprintln(stderr, err)
		}
		return 1
	}
	models := 0
	for _, t := range cfg.Tenants {
		models += len(t.Models)
	}
	fmt.Fprintf(stdout, "%s: valid (%d tenants, %d models, hash %s)\n", path, len(cfg.Tenants), models, cfg.Hash[:12])
	return 0
}

func setBuildInfo() {
	if version != "" {
		observability.Version = version
	}
	if revision != "" {
		observability.Revision = revision
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	if version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		observability.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && revision == "" {
			observability.Revision = s.Value
		}
	}
}
