// Command report turns the raw samples of bench/run.sh into the results
// table: the median over rounds of each peer and mode, ratios to nginx, and
// the targets checked against this one run.
//
//	report -in raw.csv -csv summary.csv > results.md
//
// raw.csv has a header and one row per sample:
//
//	round,peer,mode,rps,cpu_us_req,backend_cpu_us_req,p50_us,p99_us,rss_kib,errors,vegeta_rps,core_busy,proxy_cs_req,backend_cs_req
//
// The last two (context switches per request, voluntary + involuntary, over
// every thread) are absent from files of older runs, which still read.
// cpu_us_req and rss_kib are empty for "direct" (no proxy). Peer "minproxy"
// (bench/minproxy, the framework floor) is shown as "fasthttp minimal", and
// each proxy's CPU per request is also given as a ratio to it. vegeta_rps is
// vegeta's throughput (successful answers per second): latencies measured below 95% of -rate describe a
// starved load generator and are marked † (and their targets "invalid").
// core_busy is the share of the wrk run during which proxy and backend
// together were on CPU: below 90% the server core was not the bottleneck
// (the load generator was starved or other work took the core), so
// throughput is marked ‡ and its targets "invalid". The
// summary CSV (one row per peer and mode, ratios to nginx) is what
// bench/chart plots.
package main

import (
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// sample is one row of raw.csv; NaN marks a figure that does not apply.
type sample struct {
	round              int
	peer, mode         string
	rps, cpu, backCPU  float64
	p50, p99, rssKiB   float64
	errors, vegetaRPS  float64
	coreBusy           float64
	proxyCS, backCS    float64 // context switches per request; NaN in older files
	p50AddedOverDirect float64 // filled by addDirectDelta
}

// row is the median over rounds of one peer and mode, with ratios to nginx.
type row struct {
	peer, mode                 string
	rounds                     int
	rps, cpu, backCPU          float64
	cpuMin, cpuMax             float64 // range of cpu over rounds: how noisy the machine was
	p50, p50Added, p99, rssMiB float64
	errors                     float64
	latencyOK                  bool    // vegeta kept the rate (median over rounds)
	addedOK                    bool    // latencyOK, and direct's too (p50 added)
	coreBusy                   float64 // share of the wrk run proxy+backend were on CPU
	proxyCS, backCS            float64 // context switches per request

	rpsX, cpuX, p50AddedX, p99X float64 // ratios to nginx; NaN if undefined
	cpuXMin                     float64 // CPU per request ÷ fasthttp minimal's; NaN if undefined
}

// saturated reports whether the server core was the bottleneck of the wrk
// run (busy at least 90% of it), so that throughput measures the proxy.
func (r row) saturated() bool { return r.coreBusy >= 0.9 }

func (r row) name() string {
	if r.peer == "minproxy" {
		return "fasthttp minimal"
	}
	if r.mode == "" || r.mode == "-" {
		return r.peer
	}
	if r.mode == "1p" {
		return r.peer + " plain, GOMAXPROCS=1"
	}
	return r.peer + " " + r.mode
}

func main() {
	in := flag.String("in", "", "raw samples CSV written by bench/run.sh")
	csvOut := flag.String("csv", "", "write the summary CSV (for bench/chart) here")
	rate := flag.Float64("rate", 2000, "the constant rate vegeta was asked for (req/s)")
	flag.Parse()
	if *in == "" {
		fmt.Fprintln(os.Stderr, "report: -in is required")
		os.Exit(2)
	}
	samples, err := readSamples(*in)
	if err != nil {
		fmt.Fprintf(os.Stderr, "report: %v\n", err)
		os.Exit(1)
	}
	rows := summarize(samples, *rate)
	writeMarkdown(os.Stdout, rows)
	if *csvOut != "" {
		if err := writeSummaryCSV(*csvOut, rows); err != nil {
			fmt.Fprintf(os.Stderr, "report: %v\n", err)
			os.Exit(1)
		}
	}
}

func readSamples(path string) ([]sample, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1 // rows of older runs (12 fields) may be pooled with newer ones (14)
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(recs) < 2 {
		return nil, fmt.Errorf("%s: no samples", path)
	}
	var out []sample
	for i, r := range recs[1:] {
		if len(r) != 12 && len(r) != 14 {
			return nil, fmt.Errorf("%s line %d: want 14 fields (12 in older files), got %d", path, i+2, len(r))
		}
		round, err := strconv.Atoi(r[0])
		if err != nil {
			return nil, fmt.Errorf("%s line %d: round: %w", path, i+2, err)
		}
		s := sample{round: round, peer: r[1], mode: r[2], proxyCS: math.NaN(), backCS: math.NaN()}
		fields := []*float64{&s.rps, &s.cpu, &s.backCPU, &s.p50, &s.p99, &s.rssKiB, &s.errors, &s.vegetaRPS, &s.coreBusy}
		if len(r) == 14 {
			fields = append(fields, &s.proxyCS, &s.backCS)
		}
		for j, p := range fields {
			if *p, err = number(r[3+j]); err != nil {
				return nil, fmt.Errorf("%s line %d field %d: %w", path, i+2, 4+j, err)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// number parses a figure; an empty field is NaN (does not apply).
func number(s string) (float64, error) {
	if s = strings.TrimSpace(s); s == "" || s == "-" {
		return math.NaN(), nil
	}
	return strconv.ParseFloat(s, 64)
}

// summarize computes p50 added over direct per round, then medians over
// rounds per peer and mode, then ratios to nginx. Rows keep the order in
// which peers and modes first appear. rate is the constant rate asked of
// vegeta.
func summarize(samples []sample, rate float64) []row {
	addDirectDelta(samples)
	type key struct{ peer, mode string }
	var order []key
	groups := map[key][]sample{}
	for _, s := range samples {
		k := key{s.peer, s.mode}
		if _, seen := groups[k]; !seen {
			order = append(order, k)
		}
		groups[k] = append(groups[k], s)
	}
	rows := make([]row, 0, len(order))
	for _, k := range order {
		g := groups[k]
		med := func(f func(sample) float64) float64 {
			vals := make([]float64, 0, len(g))
			for _, s := range g {
				vals = append(vals, f(s))
			}
			return median(vals)
		}
		lo, hi := math.NaN(), math.NaN()
		var cpus []float64
		for _, s := range g {
			if !math.IsNaN(s.cpu) {
				cpus = append(cpus, s.cpu)
			}
		}
		if len(cpus) > 0 {
			lo, hi = slices.Min(cpus), slices.Max(cpus)
		}
		rows = append(rows, row{
			peer: k.peer, mode: k.mode, rounds: len(g), cpuMin: lo, cpuMax: hi,
			rps:       med(func(s sample) float64 { return s.rps }),
			cpu:       med(func(s sample) float64 { return s.cpu }),
			backCPU:   med(func(s sample) float64 { return s.backCPU }),
			p50:       med(func(s sample) float64 { return s.p50 }),
			p50Added:  med(func(s sample) float64 { return s.p50AddedOverDirect }),
			p99:       med(func(s sample) float64 { return s.p99 }),
			rssMiB:    med(func(s sample) float64 { return s.rssKiB / 1024 }),
			errors:    med(func(s sample) float64 { return s.errors }),
			latencyOK: med(func(s sample) float64 { return s.vegetaRPS }) >= 0.95*rate,
			coreBusy:  med(func(s sample) float64 { return s.coreBusy }),
			proxyCS:   med(func(s sample) float64 { return s.proxyCS }),
			backCS:    med(func(s sample) float64 { return s.backCS }),
		})
	}
	directOK := true
	for _, r := range rows {
		if r.peer == "direct" {
			directOK = r.latencyOK
		}
	}
	for i := range rows {
		rows[i].addedOK = rows[i].latencyOK && directOK
	}
	var ng, mp *row
	for i := range rows {
		switch rows[i].peer {
		case "nginx":
			ng = &rows[i]
		case "minproxy":
			mp = &rows[i]
		}
	}
	for i := range rows {
		r := &rows[i]
		r.rpsX, r.cpuX, r.p50AddedX, r.p99X, r.cpuXMin = math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()
		if mp != nil {
			r.cpuXMin = ratio(r.cpu, mp.cpu)
		}
		if ng == nil {
			continue
		}
		r.rpsX = ratio(r.rps, ng.rps)
		r.cpuX = ratio(r.cpu, ng.cpu)
		r.p50AddedX = ratio(r.p50Added, ng.p50Added)
		r.p99X = ratio(r.p99, ng.p99)
	}
	return rows
}

// addDirectDelta sets each sample's p50 added over the direct sample of the
// same round (NaN if that round has no direct sample).
func addDirectDelta(samples []sample) {
	direct := map[int]float64{}
	for _, s := range samples {
		if s.peer == "direct" {
			direct[s.round] = s.p50
		}
	}
	for i := range samples {
		d, ok := direct[samples[i].round]
		if !ok {
			d = math.NaN()
		}
		samples[i].p50AddedOverDirect = samples[i].p50 - d
	}
}

// median of the non-NaN values (mean of the middle two for an even count),
// NaN if there are none.
func median(vals []float64) float64 {
	vals = slices.DeleteFunc(slices.Clone(vals), math.IsNaN)
	if len(vals) == 0 {
		return math.NaN()
	}
	slices.Sort(vals)
	n := len(vals)
	if n%2 == 1 {
		return vals[n/2]
	}
	return (vals[n/2-1] + vals[n/2]) / 2
}

// ratio is a/b, NaN when either is missing or b is not positive (a noisy
// run can measure nginx's added latency at or below zero).
func ratio(a, b float64) float64 {
	if math.IsNaN(a) || math.IsNaN(b) || b <= 0 {
		return math.NaN()
	}
	return a / b
}

// csCell is the proxy's and the backend's context switches per request.
func (r row) csCell() string {
	if math.IsNaN(r.backCS) {
		return "–"
	}
	return fmtNum(r.proxyCS, 2, "") + ", " + fmtNum(r.backCS, 2, "")
}

// cpuCell is the median CPU per request, with its range over rounds when
// there are several.
func (r row) cpuCell() string {
	if r.rounds < 2 || math.IsNaN(r.cpuMin) {
		return fmtNum(r.cpu, 1, "")
	}
	return fmt.Sprintf("%s (%.1f–%.1f)", fmtNum(r.cpu, 1, ""), r.cpuMin, r.cpuMax)
}

func find(rows []row, peer, mode string) (row, bool) {
	for _, r := range rows {
		if r.peer == peer && r.mode == mode {
			return r, true
		}
	}
	return row{}, false
}

func writeMarkdown(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| peer | req/s | server core busy | proxy CPU µs/req (range over rounds) | backend CPU µs/req | context switches/req (proxy, backend) | p50 added over direct | p50 | p99 | peak RSS | errors |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	starved, unsaturated := false, false
	for _, r := range rows {
		mark, addedMark := "", ""
		if !r.latencyOK {
			mark, starved = " †", true
		}
		if !r.addedOK {
			addedMark, starved = " †", true
		}
		rpsMark := ""
		if !r.saturated() {
			rpsMark, unsaturated = " ‡", true
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.name(),
			fmtNum(r.rps, 0, rpsMark), fmtNum(r.coreBusy*100, 0, "%"), r.cpuCell(), fmtNum(r.backCPU, 1, ""), r.csCell(),
			fmtNum(r.p50Added, 0, " µs"+addedMark), fmtNum(r.p50, 0, " µs"+mark), fmtNum(r.p99/1000, 2, " ms"+mark),
			fmtNum(r.rssMiB, 1, " MiB"), fmtNum(r.errors, 0, ""))
	}
	if starved || unsaturated {
		fmt.Fprintln(w)
	}
	if starved {
		fmt.Fprintln(w, "† vegeta fell below 95% of the asked rate: the load-generator core was busy and these latencies are not valid.")
	}
	if unsaturated {
		fmt.Fprintln(w, "‡ the server core was busy less than 90% of the wrk run: throughput was limited by something other than the proxy (a starved load generator, other work on the machine).")
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Ratios to nginx (throughput: higher is better; the others: lower is better), and CPU per request")
	fmt.Fprintln(w, "as a ratio to fasthttp minimal (the framework floor: what modelgate adds on top of fasthttp):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| peer | throughput × | CPU/req × | p50 added × | p99 × | CPU/req × fasthttp minimal |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		if r.peer == "direct" || r.peer == "nginx" {
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.name(),
			fmtNum(r.rpsX, 2, ""), fmtNum(r.cpuX, 2, ""), fmtNum(r.p50AddedX, 2, ""), fmtNum(r.p99X, 2, ""),
			fmtNum(r.cpuXMin, 2, ""))
	}
	fmt.Fprintln(w)
	writeTargets(w, rows)
}

// writeTargets checks the targets of issue 7 against this run.
func writeTargets(w io.Writer, rows []row) {
	ng, okN := find(rows, "nginx", "-")
	plain, okP := find(rows, "modelgate", "plain")
	if !okN || !okP {
		return
	}
	type target struct {
		what      string
		got, want float64
		atLeast   bool
		prec      int
		latency   bool // depends on latencies: invalid if vegeta was starved
		rate      bool // depends on throughput: invalid if a core was not saturated
	}
	ts := []target{
		{"plain throughput ≥ 1.0× nginx", plain.rpsX, 1.0, true, 2, false, true},
		{"plain CPU/req ≤ 1.0× nginx", plain.cpuX, 1.0, false, 2, false, false},
		{"plain p50 added ≤ nginx's (µs)", plain.p50Added, ng.p50Added, false, 0, true, false},
		{"plain p99 ≤ 1.5× nginx", plain.p99X, 1.5, false, 2, true, false},
		{"plain peak RSS ≤ 64 MiB", plain.rssMiB, 64, false, 1, false, false},
	}
	latencyOK := ng.latencyOK && plain.latencyOK && ng.addedOK && plain.addedOK
	rateOK := ng.saturated() && plain.saturated()
	if sh, ok := find(rows, "modelgate", "shadow"); ok {
		ts = append(ts,
			target{"shadow throughput ≥ 0.6× plain", ratio(sh.rps, plain.rps), 0.6, true, 2, false, true},
			target{"shadow p99 ≤ 1.2× plain", ratio(sh.p99, plain.p99), 1.2, false, 2, true, false})
		latencyOK = latencyOK && sh.latencyOK
		rateOK = rateOK && sh.saturated()
	}
	if tr, ok := find(rows, "modelgate", "tracing"); ok {
		ts = append(ts, target{"tracing throughput ≥ 0.9× plain", ratio(tr.rps, plain.rps), 0.9, true, 2, false, true})
		rateOK = rateOK && tr.saturated()
	}
	for _, r := range rows {
		if r.peer == "modelgate" && r.mode != "plain" {
			ts = append(ts, target{r.mode + " peak RSS ≤ 64 MiB", r.rssMiB, 64, false, 1, false, false})
		}
	}
	fmt.Fprintln(w, "Targets of issue 7 in this run:")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| target | measured | bound | met |")
	fmt.Fprintln(w, "|---|---:|---:|:---:|")
	for _, t := range ts {
		met := "?"
		switch {
		case t.latency && !latencyOK:
			met = "invalid †"
		case t.rate && !rateOK:
			met = "invalid ‡"
		case !math.IsNaN(t.got) && !math.IsNaN(t.want):
			met = "no"
			if (t.atLeast && t.got >= t.want) || (!t.atLeast && t.got <= t.want) {
				met = "yes"
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", t.what, fmtNum(t.got, t.prec, ""), fmtNum(t.want, t.prec, ""), met)
	}
}

// fmtNum formats v with prec decimals and thousands separators, "–" if NaN.
func fmtNum(v float64, prec int, unit string) string {
	if math.IsNaN(v) {
		return "–"
	}
	s := strconv.FormatFloat(v, 'f', prec, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(intPart, "-")
	intPart = strings.TrimPrefix(intPart, "-")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String()
	if neg {
		out = "-" + out
	}
	if frac != "" {
		out += "." + frac
	}
	return out + unit
}

func writeSummaryCSV(path string, rows []row) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"name", "peer", "mode", "rounds", "rps", "core_busy", "cpu_us_req", "backend_cpu_us_req",
		"p50_us", "p50_added_us", "p99_us", "rss_mib", "errors",
		"rps_x_nginx", "cpu_x_nginx", "p50_added_x_nginx", "p99_x_nginx", "proxy_cs_req", "backend_cs_req"})
	g := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'f', 4, 64)
	}
	for _, r := range rows {
		_ = w.Write([]string{r.name(), r.peer, r.mode, strconv.Itoa(r.rounds), g(r.rps), g(r.coreBusy), g(r.cpu), g(r.backCPU),
			g(r.p50), g(r.p50Added), g(r.p99), g(r.rssMiB), g(r.errors),
			g(r.rpsX), g(r.cpuX), g(r.p50AddedX), g(r.p99X), g(r.proxyCS), g(r.backCS)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}
