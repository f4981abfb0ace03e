package configs

import (
	"strings"
	"testing"
)

// TestObservabilityConfig checks the logging and tracing settings' defaults
// and validation with YAML paths.
func TestObservabilityConfig(t *testing.T) {
	_, err := Load("testdata/access_log_sampling.bad.yaml")
	if err == nil {
		t.Fatal("got no error for access_log_sampling.bad.yaml")
	}
	for _, want := range []string{
		"logging.access_log_sample_ratio: must be between 0 and 1",
		"tracing.sampling_ratio: must be between 0 and 1",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}

	cfg, err := Load("testdata/full.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Logging.AccessLogRatio(); got != 1 {
		t.Errorf("default access log ratio: got %v, want 1", got)
	}
	if got := cfg.Tracing.ServiceName; got != "modelgate" {
		t.Errorf("default tracing.service_name: got %q, want modelgate", got)
	}
	half := 0.5
	cfg.Logging.AccessLogSampleRatio = &half
	if err := cfg.Validate(); err != nil {
		t.Errorf("ratio 0.5: got %v, want valid", err)
	}
	if got := cfg.Logging.AccessLogRatio(); got != 0.5 {
		t.Errorf("access log ratio: got %v, want 0.5", got)
	}
}
