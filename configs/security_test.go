package configs

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSecurityConfigs loads the TLS and limits testdata: the good file with
// every field set, and the bad files with one error per mistake, each
// naming its YAML path.
func TestSecurityConfigs(t *testing.T) {
	good, err := Load("testdata/security.good.yaml")
	if err != nil {
		t.Fatalf("security.good.yaml: %v", err)
	}
	if got := good.Server.TLS; got == nil || got.MinVersion != "1.3" || good.Server.AdminTLS.MinVersion != "1.2" || good.Server.AdminTLS.ClientCAFile == "" {
		t.Errorf("got tls %+v admin_tls %+v, want min 1.3 / default 1.2 with a client CA", got, good.Server.AdminTLS)
	}
	if good.Server.UpstreamCAFile != "/etc/modelgate/upstream-ca.pem" {
		t.Errorf("got upstream_ca_file %q", good.Server.UpstreamCAFile)
	}
	want := Limits{RequestsPerSecond: 100, Burst: 200, MaxInFlight: 32, MaxQueue: 64, MaxQueueWait: 250 * time.Millisecond, TokensPerMinute: 90000}
	if got := good.Tenants[0].Limits; got != want {
		t.Errorf("got tenant limits %+v, want %+v", got, want)
	}
	if got := *good.Tenants[0].Models[0].Limits; got.Burst != 50 {
		t.Errorf("got model burst %d, want the default ceil(50 rps) = 50", got.Burst)
	}

	tests := []struct {
		file string
		want []string
	}{
		{file: "tls.bad.yaml", want: []string{
			"server.tls.cert_file: is required",
			`server.tls.min_version: must be "1.2" or "1.3", got "1.1"`,
			"server.admin_tls.key_file: is required",
		}},
		{file: "limits.bad.yaml", want: []string{"tenants[0].models[0].limits.max_queue_wait: must be a duration"}},
		{file: "limits.bad.yaml#decoded", want: []string{
			"tenants[0].limits.requests_per_second: must be a finite number, not negative",
			"tenants[0].limits.max_in_flight: must not be negative",
			"tenants[0].limits.max_queue: must not be negative",
			"tenants[0].limits.max_queue_wait: must not be negative",
			"tenants[0].models[0].limits.burst: must not be negative",
			"tenants[0].models[0].limits.tokens_per_minute: must be between 0 and",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			name, variant, _ := strings.Cut(tt.file, "#")
			data, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			if variant == "decoded" {
				// Make the file decodable to reach validation.
				data = []byte(strings.Replace(string(data), "max_queue_wait: soon", "max_queue_wait: 1s", 1))
			}
			_, err = Parse(data)
			if err == nil {
				t.Fatal("got no error")
			}
			lines := strings.Split(err.Error(), "\n")
			for _, w := range tt.want {
				if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, w) }) {
					t.Errorf("errors lack %q; got:\n%s", w, err)
				}
			}
			if variant == "" && name == "tls.bad.yaml" && len(lines) != len(tt.want) {
				t.Errorf("got %d errors, want %d:\n%s", len(lines), len(tt.want), err)
			}
		})
	}
}
