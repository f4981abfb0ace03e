package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rawCSV is two rounds of four cases, numbers chosen so medians, ranges and
// ratios are easy to check by hand.
const rawCSV = `round,peer,mode,rps,cpu_us_req,backend_cpu_us_req,p50_us,p99_us,rss_kib,errors,vegeta_rps,core_busy
1,direct,-,60000,,15,200,1000,,0,2000,0.98
1,nginx,-,20000,30,15,300,1500,15360,0,2000,1.0
1,minproxy,-,18000,36,15,280,1400,10240,0,2000,1.0
1,modelgate,plain,15000,40,16,320,1600,24576,0,2000,1.0
2,direct,-,60000,,15,220,1000,,0,2000,0.98
2,nginx,-,22000,34,15,320,1700,15360,0,2000,1.0
2,minproxy,-,18000,44,15,300,1600,10240,0,2000,1.0
2,modelgate,plain,17000,60,16,360,1800,24576,0,2000,1.0
`

func TestReport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raw.csv")
	if err := os.WriteFile(path, []byte(rawCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	samples, err := readSamples(path)
	if err != nil {
		t.Fatal(err)
	}
	rows := summarize(samples, 2000)
	plain, ok := find(rows, "modelgate", "plain")
	if !ok {
		t.Fatal("no modelgate plain row")
	}
	// Medians of two rounds are means: cpu (40+60)/2, nginx's (30+34)/2.
	checks := []struct {
		what      string
		got, want float64
	}{
		{"plain cpu", plain.cpu, 50},
		{"plain cpu range low", plain.cpuMin, 40},
		{"plain cpu range high", plain.cpuMax, 60},
		{"plain rps", plain.rps, 16000},
		{"plain cpu × nginx", plain.cpuX, 50.0 / 32},
		{"plain cpu × minimal", plain.cpuXMin, 50.0 / 40},
		{"plain rps × nginx", plain.rpsX, 16000.0 / 21000},
		// p50 added over direct per round: 320-200, 360-220.
		{"plain p50 added", plain.p50Added, 130},
	}
	for _, c := range checks {
		if d := c.got - c.want; d > 1e-9 || d < -1e-9 {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}

	var md bytes.Buffer
	writeMarkdown(&md, rows)
	out := md.String()
	for _, want := range []string{
		"| modelgate plain | 16,000 | 100% | 50.0 (40.0–60.0) |",
		"| fasthttp minimal | 18,000 | 100% | 40.0 (36.0–44.0) |",
		"| plain CPU/req ≤ 1.0× nginx | 1.56 | 1.00 | no |",
		"| plain p99 ≤ 1.5× nginx | 1.06 | 1.50 | yes |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestCPUCellOneRound(t *testing.T) {
	r := row{rounds: 1, cpu: 41.3, cpuMin: 41.3, cpuMax: 41.3}
	if got := r.cpuCell(); got != "41.3" {
		t.Errorf("one round: cpuCell = %q, want the figure alone", got)
	}
}

// TestReportContextSwitches reads the two context-switch columns of newer
// files (older files without them are TestReport's).
func TestReportContextSwitches(t *testing.T) {
	const raw = `round,peer,mode,rps,cpu_us_req,backend_cpu_us_req,p50_us,p99_us,rss_kib,errors,vegeta_rps,core_busy,proxy_cs_req,backend_cs_req
1,nginx,-,20000,30,15,300,1500,15360,0,2000,1.0,0.06,0.08
2,nginx,-,20000,30,15,300,1500,15360,0,2000,1.0,0.08,0.10
1,direct,-,60000,,15,200,1000,,0,2000,0.98,,0.01
`
	path := filepath.Join(t.TempDir(), "raw.csv")
	if err := os.WriteFile(path, []byte(raw), 0o644); err != nil {
		t.Fatal(err)
	}
	samples, err := readSamples(path)
	if err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	writeMarkdown(&md, summarize(samples, 2000))
	for _, want := range []string{"| nginx | 20,000 | 100% | 30.0 (30.0–30.0) | 15.0 | 0.07, 0.09 |", "| direct | 60,000 | 98% | – | 15.0 | –, 0.01 |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, md.String())
		}
	}
}
