package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/internal/modelserver"
	"github.com/modelgate/modelgate/rollout"
	"github.com/modelgate/modelgate/tenants"
)

// demoRolloutScenario is one release the rollout demo runs end to end.
type demoRolloutScenario struct {
	title  string
	canary modelserver.Model
	// want is the phase the scenario ends in when the feature works.
	want rollout.Phase
}

// demoRolloutSteps is the rollout block of the demo: small holds so the
// whole demo takes about a minute, gates loose enough for a loaded
// laptop's latency noise but not for drifting answers.
const demoRolloutSteps = `        rollout:
          canary: v2
          interval: 200ms
          gates: {max_error_rate_increase: 0.03, max_p99_ratio: 2.5, min_shadow_agreement: 0.97, min_top1_agreement: 0.97}
          steps:
            - shadow: {min_requests: 400}
            - weight: 10
              hold: {min_requests: 300, min_duration: 3s}
            - approve: {required: 1}
            - weight: 50
              hold: {min_requests: 300, min_duration: 3s}
            - weight: 100
              hold: {min_requests: 300, min_duration: 2s}
`

const demoRolloutConfig = `server: {listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0"}
admin:
  token_sha256: %q
tenants:
  - name: demo
    api_keys: [{sha256: %q}]
    models:
      - name: fraud
        retry: {attempts: 0}
        health_check: {path: /v2/health/ready}
        versions:
          - {name: v1, weight: 100, endpoints: [%q]}
          - {name: v2, weight: 0, endpoints: [%q]}
%s`

// demoRollout runs `modelgate demo --rollout`: two releases through the
// same steps on loopback, printing every decision as it is made — a good
// v2 that completes (its sign-off given by the demo as operator "admin"),
// and a v2 whose answers drift, stopped at the shadow step before it
// serves anyone. Exit 0 when both end as they should.
func demoRollout(ctx context.Context, stdout, stderr io.Writer) int {
	v1 := demoModels[0]
	good := v1
	good.Version = "v2"
	drift := modelserver.Model{Name: "fraud", Version: "v2", Weights: []float64{0.3, 0.6, -0.9, 0.5}, Bias: -0.2}
	fmt.Fprintf(stdout, "modelgate demo --rollout: two releases of model fraud, v1 → v2, each through\n%s\n",
		strings.TrimRight(demoRolloutSteps, "\n"))
	ok := true
	for i, sc := range []demoRolloutScenario{
		{title: "good v2 (answers like v1)", canary: good, want: rollout.Completed},
		{title: "bad v2 (answers drift)", canary: drift, want: rollout.RolledBack},
	} {
		fmt.Fprintf(stdout, "\n=== scenario %d: %s\n", i+1, sc.title)
		got, err := runRolloutScenario(ctx, v1, sc, stdout, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "modelgate demo --rollout: %v\n", err)
			return 1
		}
		mark := "as expected"
		if got != sc.want {
			mark, ok = fmt.Sprintf("UNEXPECTED: wanted %s", sc.want), false
		}
		fmt.Fprintf(stdout, "=== scenario %d ended %s (%s)\n", i+1, got, mark)
	}
	if !ok {
		return 1
	}
	fmt.Fprintln(stdout, "\nBoth releases ended as they should. The same steps in your config: README, \"Progressive delivery\".")
	return 0
}

// runRolloutScenario serves one release until its rollout ends and
// returns the phase it ended in.
func runRolloutScenario(ctx context.Context, v1 modelserver.Model, sc demoRolloutScenario, stdout, stderr io.Writer) (rollout.Phase, error) {
	var urls []string
	for _, m := range []modelserver.Model{v1, sc.canary} {
		srv, err := modelserver.Start(modelserver.Options{Model: m})
		if err != nil {
			return "", err
		}
		defer srv.Close()
		urls = append(urls, srv.URL)
	}
	dir, err := os.MkdirTemp("", "modelgate-rollout-demo-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "modelgate.yaml")
	text := fmt.Sprintf(demoRolloutConfig, tenants.HashKey(demoAdminToken), tenants.HashKey(demoKey), urls[0], urls[1], demoRolloutSteps)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return "", err
	}
	cfg, err := configs.Load(path)
	if err != nil {
		return "", fmt.Errorf("embedded rollout config invalid (a bug):\n%v", err)
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	addrs := make(chan [2]string, 1)
	served := make(chan error, 1)
	go func() {
		served <- serve(sctx, path, filepath.Join(dir, "data"), cfg, io.Discard, func(a listenAddrs) {
			addrs <- [2]string{a.traffic.String(), a.admin.String()}
		})
	}()
	var traffic, adminAddr string
	select {
	case a := <-addrs:
		traffic, adminAddr = a[0], a[1]
	case err := <-served:
		return "", err
	}
	load := startDemoLoad(sctx, "http://"+traffic)
	defer load()
	phase, err := followRollout(sctx, "http://"+adminAddr, stdout)
	stop()
	if serr := <-served; err == nil && serr != nil {
		err = serr
	}
	return phase, err
}

// startDemoLoad sends predictions from 8 clients until stopped.
func startDemoLoad(ctx context.Context, base string) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	body := []byte(`{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP64","data":[1.0,0.5,-0.3,2.0]}]}`)
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				// Vary the input so the answers (and their agreement) vary.
				b := bytes.Replace(body, []byte("2.0]"), fmt.Appendf(nil, "%d.%d]", c, n%10), 1)
				req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v2/models/fraud/infer", bytes.NewReader(b))
				req.Header.Set("X-API-Key", demoKey)
				req.Header.Set("Content-Type", "application/json")
				if resp, err := client.Do(req); err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}()
	}
	return func() { cancel(); wg.Wait(); client.CloseIdleConnections() }
}

// followRollout polls the rollout of demo/fraud, printing each new
// decision, approving a sign-off step as the demo's admin, until the
// rollout ends.
func followRollout(ctx context.Context, admin string, w io.Writer) (rollout.Phase, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	call := func(method, path, body string, out any) error {
		req, err := http.NewRequestWithContext(ctx, method, admin+path, strings.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+demoAdminToken)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return json.NewDecoder(resp.Body).Decode(out)
	}
	start := time.Now()
	seen, approved := 0, -1
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(3 * time.Minute)
	for {
		var st rollout.Status
		if err := call("GET", "/admin/rollouts/demo/fraud", "", &st); err == nil {
			for ; seen < len(st.Decisions); seen++ {
				printDecision(w, start, st.Decisions[seen])
			}
			switch {
			case st.Phase == rollout.WaitingApproval && approved != st.Step:
				approved = st.Step
				fmt.Fprintf(w, "  %6.1fs  (the demo approves step %d as \"admin\"; with the CLI: modelgate rollout approve demo/fraud)\n",
					time.Since(start).Seconds(), st.Step)
				var after rollout.Status
				if err := call("POST", "/admin/rollouts/demo/fraud/approve", `{"comment":"offline evaluation reviewed"}`, &after); err != nil {
					return "", err
				}
			case !st.Phase.Active():
				return st.Phase, nil
			}
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-deadline:
			return "", fmt.Errorf("the rollout did not end within 3 minutes")
		case <-tick.C:
		}
	}
}

// printDecision prints one decision on a line, with the verdicts of a
// look that decided something.
func printDecision(w io.Writer, start time.Time, d rollout.Decision) {
	if d.Action == rollout.ActionLook {
		return
	}
	weights := ""
	if d.Weights != nil {
		weights = fmt.Sprintf("  → v1=%d v2=%d", d.Weights["v1"], d.Weights["v2"])
	}
	fmt.Fprintf(w, "  %6.1fs  step %d %-7s %-20s %s%s\n", time.Since(start).Seconds(), d.Step, d.Kind, d.Action, d.Reason, weights)
	for _, v := range d.Verdicts {
		fmt.Fprintf(w, "             %-24s %-12s %s\n", v.Gate, v.Result, v.Reason)
	}
}
