package configs

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzParse checks the config loader on any bytes: it never panics; it
// returns either a config that validates (again) with its hash, or an error
// and no config; and the same bytes give the same result. Seeds: every
// testdata/*.yaml file plus testdata/fuzz/FuzzParse (run as regression
// tests by plain `go test`).
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files: %v", err)
	}
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		watchdog := time.AfterFunc(5*time.Second, func() { panic(fmt.Sprintf("Parse did not return within 5s on %q", data)) })
		cfg, err := Parse(data)
		watchdog.Stop()
		if err != nil {
			if cfg != nil {
				t.Fatal("got a config and an error")
			}
			if err.Error() == "" {
				t.Fatal("got an empty error message")
			}
			var es Errors
			if errors.As(err, &es) {
				for _, e := range es {
					if e.Msg == "" {
						t.Fatalf("error at %q without a message", e.Path)
					}
				}
			}
			_, err2 := Parse(data)
			if err2 == nil || !sameLines(err.Error(), err2.Error()) {
				t.Fatalf("same input, different errors:\n%v\n---\n%v", err, err2)
			}
			return
		}
		if len(cfg.Hash) != 64 {
			t.Fatalf("hash %q, want 64 hex characters", cfg.Hash)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that does not validate: %v", err)
		}
		for _, tn := range cfg.Tenants {
			if !ValidName(tn.Name) || len(tn.APIKeys) == 0 || len(tn.Models) == 0 {
				t.Fatalf("accepted tenant %+v", tn)
			}
			limits := []Limits{tn.Limits}
			for _, m := range tn.Models {
				if m.Limits != nil {
					limits = append(limits, *m.Limits)
				}
			}
			for _, l := range limits {
				if r := l.RequestsPerSecond; r < 0 || math.IsNaN(r) || math.IsInf(r, 0) || l.Burst < 0 || l.MaxInFlight < 0 || l.MaxQueue < 0 || l.MaxQueueWait < 0 {
					t.Fatalf("accepted limits %+v", l)
				}
			}
		}
	})
}

// sameLines compares error texts as sets of lines: the order of decode
// errors follows map iteration.
func sameLines(a, b string) bool {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	slices.Sort(la)
	slices.Sort(lb)
	return slices.Equal(la, lb)
}
