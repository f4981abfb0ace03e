package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/internal/modelserver"
	"github.com/modelgate/modelgate/tenants"
)

// Demo credentials, printed by `modelgate demo`. Never use them elsewhere.
const (
	demoKey           = "demo-key"
	demoAdminToken    = "demo-admin-token"
	demoViewerToken   = "demo-viewer-token"   // operator "vera", role viewer
	demoOperatorToken = "demo-operator-token" // operator "otto", role operator
	demoApproverToken = "demo-approver-token" // operator "ada", role approver
)

// demoModels are the versions of the example models the demo starts:
// fraud v2 is v1 "retrained", so it answers slightly differently; churn
// v2 answers like v1 and is being released by a rollout.
var demoModels = []modelserver.Model{
	{Name: "fraud", Version: "v1", Weights: []float64{0.8, -0.4, 0.3, 0.1}, Bias: 0},
	{Name: "fraud", Version: "v2", Weights: []float64{0.82, -0.38, 0.3, 0.12}, Bias: 0.01},
	{Name: "churn", Version: "v1", Weights: []float64{-0.2, 0.7, 0.1, -0.3}, Bias: 0.1},
	{Name: "churn", Version: "v2", Weights: []float64{-0.2, 0.7, 0.1, -0.3}, Bias: 0.1},
}

// demoConfig is the embedded default config; %s are filled with the model
// servers' URLs, the listen addresses and the key hashes.
const demoConfig = `# modelgate demo config (written by 'modelgate demo'; edit it and save:
# the gateway reloads it within a second).
server:
  listen: %q
  admin_listen: %q
  grpc_listen: %q   # OIP over gRPC; the versions' grpc_endpoints serve it
admin:
  token_sha256: %q   # sha256 of %q
  operators:
    - {name: vera, role: viewer, token_sha256: %q}     # sha256 of %q
    - {name: otto, role: operator, token_sha256: %q}   # sha256 of %q
    - {name: ada, role: approver, token_sha256: %q}    # sha256 of %q
tenants:
  - name: demo
    api_keys:
      - sha256: %q   # sha256 of %q
    limits: {requests_per_second: 500, burst: 1000, max_in_flight: 64}
    models:
      - name: fraud
        timeout: 2s
        sticky_header: X-User-ID
        fallback: v1
        shadow: {version: v2, percent: 100, tolerance: 0.001}
        versions:
          - {name: v1, weight: 90, endpoints: [%q], grpc_endpoints: [%q]}
          - {name: v2, weight: 10, endpoints: [%q], grpc_endpoints: [%q]}
      - name: churn
        # churn v2 is being released: copies first, then 25%% of traffic,
        # a sign-off by an approver, 50%%, 100%%. Send churn traffic to
        # move it (README, "Progressive delivery"). The p99 gate is
        # skipped here only so that a curl loop moves the demo: it needs
        # about 700 requests a version per step.
        rollout:
          canary: v2
          gates: {max_error_rate_increase: 0.03, min_shadow_agreement: 0.97, min_top1_agreement: 0.97, skip: [max_p99_ratio]}
          steps:
            - shadow: {min_requests: 200}
            - weight: 25
              hold: {min_requests: 300, min_duration: 10s}
            - approve: {required: 1}
            - weight: 50
              hold: {min_requests: 300, min_duration: 10s}
            - weight: 100
              hold: {min_requests: 300, min_duration: 10s}
        versions:
          - {name: v1, weight: 100, endpoints: [%q], grpc_endpoints: [%q]}
          - {name: v2, weight: 0, endpoints: [%q], grpc_endpoints: [%q]}
`

func demo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", configs.DefaultListen, "prediction traffic address")
	adminListen := fs.String("admin-listen", configs.DefaultAdminListen, "admin address")
	grpcListen := fs.String("grpc-listen", demoGRPCListen, `gRPC (OIP) traffic address; "" for none`)
	withRollout := fs.Bool("rollout", false, "run two progressive releases end to end (a good v2, a drifting v2) and exit")
	if fs.Parse(args) != nil {
		return 2
	}
	if *withRollout {
		return demoRollout(ctx, stdout, stderr)
	}
	var urls, grpcAddrs []string
	for _, m := range demoModels {
		srv, err := modelserver.Start(modelserver.Options{Model: m, GRPC: true})
		if err != nil {
			fmt.Fprintf(stderr, "modelgate demo: starting model %s %s: %v\n", m.Name, m.Version, err)
			return 1
		}
		defer srv.Close()
		urls = append(urls, srv.URL)
		grpcAddrs = append(grpcAddrs, srv.GRPCAddr)
	}
	llmURLs, stopLLMs, err := startDemoLLMs()
	if err != nil {
		fmt.Fprintf(stderr, "modelgate demo: %v\n", err)
		return 1
	}
	defer stopLLMs()
	dir, err := os.MkdirTemp("", "modelgate-demo-")
	if err != nil {
		fmt.Fprintf(stderr, "modelgate demo: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "modelgate.yaml")
	text := fmt.Sprintf(demoConfig, *listen, *adminListen, *grpcListen, tenants.HashKey(demoAdminToken), demoAdminToken,
		tenants.HashKey(demoViewerToken), demoViewerToken, tenants.HashKey(demoOperatorToken), demoOperatorToken,
		tenants.HashKey(demoApproverToken), demoApproverToken, tenants.HashKey(demoKey), demoKey,
		urls[0], grpcAddrs[0], urls[1], grpcAddrs[1], urls[2], grpcAddrs[2], urls[3], grpcAddrs[3]) +
		fmt.Sprintf(demoLLMConfig, llmURLs[0], llmURLs[1], llmURLs[2])
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		fmt.Fprintf(stderr, "modelgate demo: %v\n", err)
		return 1
	}
	cfg, err := configs.Load(path)
	if err != nil {
		fmt.Fprintf(stderr, "modelgate demo: embedded config invalid (a bug):\n%v\n", err)
		return 1
	}
	// A fresh history each run: revisions and the audit log live beside
	// the demo config and go with it.
	err = serve(ctx, path, filepath.Join(dir, "data"), cfg, stderr, func(a listenAddrs) {
		grpcAddr := ""
		if a.grpc != nil {
			grpcAddr = a.grpc.String()
		}
		printDemoHelp(stdout, a.traffic.String(), a.admin.String(), grpcAddr, path, urls, selfCommand())
	})
	if err != nil {
		fmt.Fprintf(stderr, "modelgate demo: %v\n", err)
		return 1
	}
	return 0
}

// selfCommand is how to run this binary again from a shell: os.Args[0] as
// invoked ("modelgate", "./modelgate"), or "go run ./cmd/modelgate" when
// it is a temporary binary of go run or go test.
func selfCommand() string {
	self := os.Args[0]
	if self == "" || strings.Contains(filepath.ToSlash(self), "/go-build") {
		return "go run ./cmd/modelgate"
	}
	return shellQuote(self)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:=@%+-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// demoGRPCListen is the demo's default gRPC address.
const demoGRPCListen = "127.0.0.1:8081"

// printDemoHelp prints the demo's addresses, credentials and commands
// that work when pasted; self runs this binary (selfCommand); grpc is the
// gRPC listener's address ("" without one).
func printDemoHelp(w io.Writer, traffic, admin, grpc, path string, urls []string, self string) {
	viewer := "MODELGATE_ADMIN=http://" + admin + " MODELGATE_ADMIN_TOKEN=" + demoViewerToken + " " + self
	operator := "MODELGATE_ADMIN=http://" + admin + " MODELGATE_ADMIN_TOKEN=" + demoOperatorToken + " " + self
	approver := "MODELGATE_ADMIN=http://" + admin + " MODELGATE_ADMIN_TOKEN=" + demoApproverToken + " " + self
	fmt.Fprintf(w, `modelgate demo is running.
  gateway:  http://%[1]s   (tenant "demo", API key %[3]q)
  admin:    http://%[2]s   (admin token %[4]q; viewer "vera" %[8]q, operator "otto" %[9]q,
            approver "ada" "demo-approver-token")
  console:  http://%[2]s/ui/   (operator console: sign in with one of the tokens above)
  models:   fraud v1 at %[5]s (weight 90), fraud v2 at %[6]s (weight 10, also shadowed);
            churn v1 and v2, v2 released by a rollout;
            OpenAI-compatible chat (v1 90, v2 10) and embed on stand-in LLM servers
  config:   %[7]s  (edit and save: reloaded live)

Try (copy and paste):

  # OIP v2 inference; the X-Modelgate-Version response header says which version served it
  curl -si -H 'Authorization: Bearer %[3]s' -H 'Content-Type: application/json' \
    -d '{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP64","data":[1.0,0.5,-0.3,2.0]}]}' \
    http://%[1]s/v2/models/fraud/infer

  # sticky: the same user always gets the same version
  curl -si -H 'X-API-Key: %[3]s' -H 'X-User-ID: alice' -H 'Content-Type: application/json' \
    -d '{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP64","data":[1.0,0.5,-0.3,2.0]}]}' \
    http://%[1]s/v2/models/fraud/infer

  # pinned version, KServe V1 / TF Serving predict
  curl -si -H 'X-API-Key: %[3]s' -H 'Content-Type: application/json' \
    -d '{"instances":[[1.0,0.5,-0.3,2.0],[0.1,0.2,0.3,0.4]]}' \
    http://%[1]s/v1/models/fraud/versions/v2:predict

  # model metadata, readiness, gateway health
  curl -s -H 'X-API-Key: %[3]s' http://%[1]s/v2/models/fraud
  curl -s http://%[1]s/v2/health/ready

  # metrics, effective routing table, live reload
  curl -s http://%[2]s/metrics | grep '^modelgate_'
  curl -s -H 'Authorization: Bearer %[4]s' http://%[2]s/admin/config

  # shadow: every v1 request is also sent to v2 and the answers compared
  curl -s -H 'Authorization: Bearer %[4]s' http://%[2]s/admin/shadow
  curl -s http://%[2]s/metrics | grep '^modelgate_shadow_'
  curl -si -X POST -H 'Authorization: Bearer %[4]s' http://%[2]s/admin/reload

  # operate routing with the CLI: the viewer reads, the operator changes and rolls back
  %[10]s routes
  %[11]s weights demo/fraud v1=50 v2=50 --reason "try 50/50"
  %[10]s plan --config %[12]s
  %[10]s revisions
  %[11]s rollback 1 --reason "back"
  %[10]s audit

  # progressive delivery: model churn's v2 is being released by a rollout (copies first, then
  # 25%%, a sign-off, 50%%, 100%%), judged against v1 on its own traffic; send some and follow it
  for i in $(seq 3000); do curl -s -o /dev/null -H 'X-API-Key: %[3]s' -H 'Content-Type: application/json' \
    -d '{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP64","data":[1.0,0.5,-0.3,2.0]}]}' \
    http://%[1]s/v2/models/churn/infer; done
  %[10]s rollout status demo/churn
  %[10]s rollout watch demo/churn
  %[13]s rollout approve demo/churn --comment "dashboards look fine"
  %[10]s rollout explain demo/churn
  # or the whole feature end to end in ten seconds: %[14]s demo --rollout
`, traffic, admin, demoKey, demoAdminToken, urls[0], urls[1], path, demoViewerToken, demoOperatorToken,
		viewer, operator, shellQuote(path), approver, self)
	if grpc != "" {
		fmt.Fprintf(w, `
  # OIP over gRPC on %[1]s, with grpcurl and the project's .proto (run from the repository's root;
  # go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4): the same tenant, split and sticky
  # users; the x-modelgate-version response metadata says which version served it
  grpcurl -plaintext -import-path oip -proto inference.proto -H 'authorization: Bearer %[2]s' -v \
    -d '{"model_name":"fraud","inputs":[{"name":"input","datatype":"FP64","shape":[1,4],"contents":{"fp64_contents":[1.0,0.5,-0.3,2.0]}}]}' \
    %[1]s inference.GRPCInferenceService/ModelInfer
  grpcurl -plaintext -import-path oip -proto inference.proto %[1]s inference.GRPCInferenceService/ServerReady
`, grpc, demoKey)
	}
	printDemoLLMHelp(w, traffic, admin)
	fmt.Fprint(w, "\nPress Ctrl-C to stop.\n")
}
