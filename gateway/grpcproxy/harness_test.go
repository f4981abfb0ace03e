package grpcproxy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/internal/modelserver"
	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/oip/inferencepb"
	"github.com/modelgate/modelgate/tenants"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// Keys of the test tenants.
const (
	acmeKey   = "acme-key"
	globexKey = "globex-key"
)

// container starts a loopback model container with its gRPC side.
func container(t testing.TB, name, version string, opts modelserver.Options) *modelserver.Running {
	t.Helper()
	opts.Model = modelserver.Model{Name: name, Version: version, Weights: []float64{0.8, -0.4, 0.3, 0.1}}
	opts.GRPC = true
	rs, err := modelserver.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Close() })
	return rs
}

// harness is a proxy serving on loopback and a client of it.
type harness struct {
	proxy   *Proxy
	metrics *observability.Metrics
	addr    string
	client  inferencepb.GRPCInferenceServiceClient
}

// tenantsYAML is the tenants section of a test config: acme (acmeKey)
// with the given models' YAML, and globex (globexKey) with its own model
// "secret".
func config(t testing.TB, server, acmeModels string) *configs.Config {
	t.Helper()
	text := fmt.Sprintf(`server:
  listen: 127.0.0.1:0
  admin_listen: 127.0.0.1:0
  grpc_listen: 127.0.0.1:0
%s
tenants:
  - name: acme
    api_keys: [{sha256: %q}]
    models:
%s
  - name: globex
    api_keys: [{sha256: %q}]
    models:
      - name: secret
        versions:
          - {name: v1, weight: 1, endpoints: ["http://127.0.0.1:1"], grpc_endpoints: ["127.0.0.1:1"]}
`, server, tenants.HashKey(acmeKey), acmeModels, tenants.HashKey(globexKey))
	cfg, err := configs.Parse([]byte(text))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, text)
	}
	return cfg
}

// start runs a proxy for cfg on loopback until the test ends, without
// admission control.
func start(t testing.TB, cfg *configs.Config) *harness {
	t.Helper()
	return startWith(t, cfg, observability.NewMetrics(), Options{})
}

// startWith runs a proxy for cfg recording into m, with opts, on loopback
// until the test ends.
func startWith(t testing.TB, cfg *configs.Config, m *observability.Metrics, opts Options) *harness {
	t.Helper()
	p, err := New(cfg, m, discard(), opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := p.Listen()
	if err != nil {
		p.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return &harness{proxy: p, metrics: m, addr: ln.Addr().String(), client: inferencepb.NewGRPCInferenceServiceClient(cc)}
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// counter returns the value of the counter name whose labels, sorted and
// joined as "k=v,k=v", are labels (0 when absent).
func (h *harness) counter(t *testing.T, name, labelSet string) float64 {
	t.Helper()
	mfs, err := h.metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if labels(m) == labelSet {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// withKey returns ctx carrying key as "authorization: Bearer KEY" and
// the given metadata pairs.
func withKey(ctx context.Context, key string, kv ...string) context.Context {
	if key != "" {
		kv = append([]string{"authorization", "Bearer " + key}, kv...)
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

// inferRequest is a one-row FP64 ModelInfer request of model.
func inferRequest(model string) *inferencepb.ModelInferRequest {
	return &inferencepb.ModelInferRequest{ModelName: model, Inputs: []*inferencepb.ModelInferRequest_InferInputTensor{
		{Name: "input", Datatype: "FP64", Shape: []int64{1, 4}, Contents: &inferencepb.InferTensorContents{Fp64Contents: []float64{1, 2, 3, 4}}}}}
}

// infer calls ModelInfer and returns the answer, the version that served
// (x-modelgate-version) and the error.
func (h *harness) infer(ctx context.Context, req *inferencepb.ModelInferRequest) (*inferencepb.ModelInferResponse, string, error) {
	var hdr metadata.MD
	resp, err := h.client.ModelInfer(ctx, req, grpc.Header(&hdr))
	v := hdr.Get(MetadataVersion)
	if len(v) == 0 {
		return resp, "", err
	}
	return resp, v[0], err
}

// requests returns the value of modelgate_requests_total for a version
// and code (0 when absent).
func (h *harness) requests(t *testing.T, tenant, model, version, code string) float64 {
	t.Helper()
	return h.counter(t, "modelgate_requests_total", fmt.Sprintf("code=%s,model=%s,role=primary,tenant=%s,version=%s", code, model, tenant, version))
}

func labels(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	return strings.Join(parts, ",")
}

// deadAddr is a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func insecureCreds() credentials.TransportCredentials { return insecure.NewCredentials() }
