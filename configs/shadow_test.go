package configs

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestShadowConfig(t *testing.T) {
	t.Run("zero queue and defaults", func(t *testing.T) {
		cfg, err := Load("testdata/shadow.good.yaml")
		if err != nil {
			t.Fatal(err)
		}
		ms := cfg.Tenants[0].Models
		tests := []struct {
			desc       string
			sh         *Shadow
			queue      int
			queueBytes int64
		}{
			{"max_queue: 0 is no queue", ms[0].Shadow, 0, 1 << 20},
			{"absent fields get the defaults", ms[1].Shadow, DefaultShadowMaxQueue, DefaultShadowMaxQueueBytes},
		}
		for _, tt := range tests {
			if got := tt.sh.QueueLen(); got != tt.queue {
				t.Errorf("%s: got max_queue %d, want %d", tt.desc, got, tt.queue)
			}
			if tt.sh.MaxQueueBytes != tt.queueBytes {
				t.Errorf("%s: got max_queue_bytes %d, want %d", tt.desc, tt.sh.MaxQueueBytes, tt.queueBytes)
			}
			if tt.sh.MaxBodyBytes != DefaultShadowMaxBodyBytes || tt.sh.MaxInFlight != DefaultShadowMaxInFlight {
				t.Errorf("%s: got max_body_bytes %d max_in_flight %d, want the defaults", tt.desc, tt.sh.MaxBodyBytes, tt.sh.MaxInFlight)
			}
		}
		var unset *Shadow
		if got := unset.QueueLen(); got != DefaultShadowMaxQueue {
			t.Errorf("nil shadow: got queue %d, want the default %d", got, DefaultShadowMaxQueue)
		}
	})
	t.Run("bad", func(t *testing.T) {
		_, err := Load("testdata/shadow.bad.yaml")
		var errs Errors
		if !errors.As(err, &errs) {
			t.Fatalf("got %T %v, want configs.Errors", err, err)
		}
		p := "tenants[0].models[0].shadow."
		want := []string{
			p + "max_in_flight: must not be negative",
			p + "max_queue: must not be negative",
			p + "max_queue_bytes: must not be negative",
			p + "max_body_bytes: must not be negative",
			p + "timeout: must not be negative",
		}
		if got := strings.Split(errs.Error(), "\n"); !slices.Equal(got, want) {
			t.Errorf("got errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
}
