package main

// How the rollout commands show a rollout.Status: the table row, the
// one-line state, the detail and its verdict lines (the history is in
// ctl_rollout_explain.go). Pure functions of the status, for tests
// without a server.

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/modelgate/modelgate/rollout"
	"github.com/modelgate/modelgate/rollout/judge"
)

// stepOf is "i/n kind": the current step (from 0) of n and its kind.
func stepOf(s rollout.Status) string {
	return fmt.Sprintf("%d/%d %s", s.Step, s.Steps, dash(s.StepKind))
}

// canaryShare is the canary's percent of the model's weights (NaN when
// every weight is 0).
func canaryShare(s rollout.Status) float64 {
	sum := 0
	for _, w := range s.Weights {
		sum += w
	}
	if sum == 0 {
		return math.NaN()
	}
	return float64(s.Weights[s.Canary]) * 100 / float64(sum)
}

// fmtShare is a percent as a table cell: "5%", "33.3%", "-" for NaN.
func fmtShare(pct float64) string {
	if math.IsNaN(pct) {
		return "-"
	}
	return strconv.FormatFloat(math.Round(pct*10)/10, 'f', -1, 64) + "%"
}

// fmtWeights is "v1=90 v2=10", versions sorted.
func fmtWeights(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	names := make([]string, 0, len(m))
	for v := range m {
		names = append(names, v)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, v := range names {
		parts[i] = v + "=" + strconv.Itoa(m[v])
	}
	return strings.Join(parts, " ")
}

// fmtSeconds is a duration in seconds as Go writes durations, without
// trailing zero units: "45s", "1m30s", "1h", "50ms".
func fmtSeconds(sec float64) string {
	if math.IsNaN(sec) || sec < 0 {
		return "-"
	}
	d := time.Duration(sec * float64(time.Second))
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	out := d.Round(time.Second).String()
	if strings.HasSuffix(out, "m0s") {
		out = strings.TrimSuffix(out, "0s")
	}
	if strings.HasSuffix(out, "h0m") {
		out = strings.TrimSuffix(out, "0m")
	}
	return out
}

// thousands is n with a comma every three digits: 38,000.
func thousands(n uint64) string {
	s := strconv.FormatUint(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// canarySamples is the canary's evidence count of the window: compared
// answers while shadowing, else requests.
func canarySamples(s rollout.Status) uint64 {
	if s.Shadowing {
		return s.Window.Canary.Compared
	}
	return s.Window.Canary.Requests
}

// samplesOf is the window's samples as a table cell: canary/baseline.
func samplesOf(s rollout.Status) string {
	return thousands(canarySamples(s)) + "/" + thousands(s.Window.Baseline.Requests)
}

// gateResults is the last look's result per gate: "max_error_rate_increase=pass ...".
func gateResults(s rollout.Status) string {
	parts := make([]string, len(s.Verdicts))
	for i, v := range s.Verdicts {
		parts[i] = v.Gate + "=" + v.Result.String()
	}
	return dash(strings.Join(parts, " "))
}

// approvalsOf is "1 of 2: ana", or "" outside an approve step.
func approvalsOf(s rollout.Status) string {
	if s.ApprovalsRequired == 0 {
		return ""
	}
	out := fmt.Sprintf("%d of %d", len(s.Approvals), s.ApprovalsRequired)
	if len(s.Approvals) > 0 {
		names := make([]string, len(s.Approvals))
		for i, a := range s.Approvals {
			names[i] = a.Name
		}
		out += ": " + strings.Join(names, ", ")
	}
	return out
}

// statusLine is a rollout in one line, as the actions print it:
//
//	acme/fraud: waiting_approval (waiting for 2 approval(s)), step 0/2 approve, canary v2 0% (v1=90 v2=0), approvals 1 of 2: ana
func statusLine(s rollout.Status) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%s: %s", s.Tenant, s.Model, s.Phase)
	if s.Reason != "" {
		fmt.Fprintf(&b, " (%s)", dash(s.Reason))
	}
	fmt.Fprintf(&b, ", step %s, canary %s %s (%s)", stepOf(s), s.Canary, fmtShare(canaryShare(s)), fmtWeights(s.Weights))
	if a := approvalsOf(s); a != "" {
		b.WriteString(", approvals " + a)
	}
	return b.String()
}

// final reports whether p is a phase a rollout stays in until retried
// or restarted, and whether it is the good one.
func final(p rollout.Phase) (done, completed bool) {
	switch p {
	case rollout.Completed:
		return true, true
	case rollout.RolledBack, rollout.Aborted:
		return true, false
	}
	return false, false
}

// stepMarker marks step i of the plan: ✓ passed, → current, ✗ where the
// rollout was rolled back or aborted, blank ahead.
func stepMarker(s rollout.Status, i int) string {
	switch done, completed := final(s.Phase); {
	case i < s.Step || i == s.Step && completed:
		return "✓"
	case i == s.Step && done:
		return "✗"
	case i == s.Step:
		return "→"
	}
	return " "
}

// describeStep is a planned step in words.
func describeStep(v rollout.StepView) string {
	hold := func(what string) string {
		return fmt.Sprintf("hold ≥%s %s and ≥%s, at most %s", thousands(uint64(max(v.MinRequests, 0))), what,
			fmtSeconds(v.MinDuration), fmtSeconds(v.MaxDuration))
	}
	switch v.Kind {
	case "approve":
		return fmt.Sprintf("%d distinct approval(s)", v.ApprovalsRequired)
	case "weight":
		return fmt.Sprintf("canary %d%%, %s", v.Weight, hold("canary requests"))
	case "shadow":
		return "shadow copies, canary 0%, " + hold("compared answers")
	}
	return ""
}

// countsOf is a version's window counts in words.
func countsOf(c rollout.Counts, shadow bool) string {
	out := fmt.Sprintf("%s req (%s errors)", thousands(c.Requests), thousands(c.Errors))
	if shadow {
		out = fmt.Sprintf("%s compared (%s matched), %s errors", thousands(c.Compared), thousands(c.Matched), thousands(c.Errors))
		if c.Top1Compared > 0 {
			out += fmt.Sprintf(", top-1 %s of %s", thousands(c.Top1Agreed), thousands(c.Top1Compared))
		}
	}
	return out
}

// printDetail writes the detailed view of one rollout.
func printDetail(w io.Writer, s rollout.Status) {
	fmt.Fprintf(w, "rollout %s/%s: canary %s, baseline %s\n", s.Tenant, s.Model, s.Canary, s.Baseline)
	state := string(s.Phase)
	if s.Reason != "" {
		state += " (" + dash(s.Reason) + ")"
	}
	field := func(name, format string, args ...any) {
		fmt.Fprintf(w, "%-11s %s\n", name+":", fmt.Sprintf(format, args...))
	}
	field("state", "%s", state)
	started := fmtTime(s.Started)
	if s.Ended != nil {
		started += ", ended " + fmtTime(*s.Ended)
	}
	field("started", "%s", started)
	field("step", "%s, %s in step (since %s)", stepOf(s), fmtSeconds(s.TimeInStep), fmtTime(s.StepStarted))
	if len(s.Plan) > 0 {
		fmt.Fprintln(w, "steps:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for i, v := range s.Plan {
			row(tw, "  "+stepMarker(s, i)+" "+strconv.Itoa(i), v.Kind, describeStep(v))
		}
		tw.Flush()
	}
	field("weights", "%s (canary %s), before the rollout %s", fmtWeights(s.Weights), fmtShare(canaryShare(s)), fmtWeights(s.Before))
	if s.Shadowing {
		field("shadow", "the canary gets copies of the baseline's requests")
	}
	if a := approvalsOf(s); a != "" {
		field("approvals", "%s", a)
		for _, ap := range s.Approvals {
			line := fmt.Sprintf("  %s (%s) at %s", ap.Name, dash(ap.Role), fmtTime(ap.Time))
			if ap.Comment != "" {
				line += ": " + strconv.Quote(ap.Comment)
			}
			fmt.Fprintln(w, line)
		}
	}
	field("window", "since %s: canary %s, baseline %s", fmtTime(s.Window.Since), countsOf(s.Window.Canary, s.Shadowing),
		countsOf(s.Window.Baseline, false))
	if len(s.Verdicts) == 0 {
		field("last look", "none in this step yet (%d looks)", s.Looks)
	} else {
		field("last look", "look %d of at most %d: %s", s.Looks, rollout.MaxLooks, judge.Combine(s.Verdicts...))
		printVerdicts(w, s.Verdicts)
	}
	if n := len(s.Decisions); n > 0 {
		d := s.Decisions[n-1]
		field("decision", "%s %s", fmtTime(d.Time), decisionText(d))
	}
	if s.Revision != 0 {
		field("revision", "%d (the routing revision of the rollout's last change)", s.Revision)
	}
}

// decisionText is what a decision did, by whom and why, saying the
// action and actor once: "aborted by otto: freeze", "approved by ana:
// approval 1 of 2 by ana".
func decisionText(d rollout.Decision) string {
	by := d.Action + " by " + dash(d.Actor)
	if strings.HasPrefix(d.Reason, by) {
		return dash(d.Reason)
	}
	if d.Reason == "" {
		return by
	}
	return by + ": " + dash(d.Reason)
}

// printVerdicts writes each verdict on one aligned line (verdictCells).
func printVerdicts(w io.Writer, vs []judge.Verdict) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, v := range vs {
		row(tw, append([]string{""}, verdictCells(v)...)...)
	}
	tw.Flush()
}

// gateShape is how a gate's quantities read and which way its limit
// goes.
type gateShape struct {
	atMost  bool                          // a maximum (error rate, p99 ratio), not a minimum (agreement)
	format  func(x float64, d int) string // the judged quantity at d decimals
	limit   func(x float64) string        // the threshold, as configured
	unit    string                        // what the sample sizes count
	version func(x float64) string        // one version's value or bound, for explain
}

func shapeOf(gate string) gateShape {
	switch gate {
	case judge.GateErrorRate:
		return gateShape{atMost: true, format: signedPct, limit: plainPct, unit: "req",
			version: func(x float64) string { return pctAt(x, 3) }}
	case judge.GateP99Ratio:
		return gateShape{atMost: true, format: ratio, limit: func(x float64) string { return ratio(x, -1) }, unit: "req",
			version: seconds}
	}
	return gateShape{format: pctAt, limit: plainPct, unit: "compared", version: func(x float64) string { return pctAt(x, 2) }}
}

// verdictCells are a verdict's line: gate, result, estimate, the bound
// that decides against the threshold, sample sizes, e.g.
//
//	max_error_rate_increase  pass  +0.12%  upper +0.61% ≤ 1%  (canary 2,000 req, baseline 38,000)
func verdictCells(v judge.Verdict) []string {
	in := v.Inputs
	sh := shapeOf(v.Gate)
	lo, hi, t := float64(in.Lower), float64(in.Upper), in.Threshold
	limit := sh.limit(t)
	// bound formats x at the fewest decimals (2 to 6) that show it apart
	// from the threshold when they differ.
	bound := func(x float64) string {
		d := 2
		for ; d < 6 && x != t && sh.format(x, d) == sh.format(t, d); d++ {
		}
		return sh.format(x, d)
	}
	var decides string
	switch {
	case math.IsNaN(lo) || math.IsNaN(hi) || math.IsNaN(t):
		decides = "no bounds"
	case sh.atMost && hi <= t:
		decides = "upper " + bound(hi) + " ≤ " + limit
	case sh.atMost && lo > t:
		decides = "lower " + bound(lo) + " > " + limit
	case sh.atMost:
		decides = "lower " + bound(lo) + " ≤ " + limit + " < upper " + bound(hi)
	case lo >= t:
		decides = "lower " + bound(lo) + " ≥ " + limit
	case hi < t:
		decides = "upper " + bound(hi) + " < " + limit
	default:
		decides = "lower " + bound(lo) + " < " + limit + " ≤ upper " + bound(hi)
	}
	est := "n/a"
	if e := float64(in.Estimate); !math.IsNaN(e) {
		est = sh.format(e, 2)
	}
	return []string{v.Gate, v.Result.String(), est, decides, sizes(in, sh.unit)}
}

// sizes is a verdict's sample sizes, counting unit, noting when a side
// has fewer than the verdict's minimum.
func sizes(in judge.Inputs, unit string) string {
	out := "(canary " + thousands(in.Canary.N) + " " + unit
	short := in.Canary.N < in.MinSamples
	if in.Baseline != nil {
		out += ", baseline " + thousands(in.Baseline.N)
		short = short || in.Baseline.N < in.MinSamples
	}
	if short {
		out += "; " + thousands(in.MinSamples) + " each needed"
	}
	return out + ")"
}

// signedPct is a difference of rates in percent at d decimals: +0.12%.
func signedPct(x float64, d int) string {
	if math.IsInf(x, 0) || math.IsNaN(x) {
		return "n/a"
	}
	return fmt.Sprintf("%+.*f%%", d, x*100)
}

// pctAt is a rate in percent at d decimals: 99.73%.
func pctAt(x float64, d int) string {
	if math.IsInf(x, 0) || math.IsNaN(x) {
		return "n/a"
	}
	return strconv.FormatFloat(x*100, 'f', d, 64) + "%"
}

// plainPct is a configured limit in percent, as short as it is exact: 1%, 99.5%.
func plainPct(x float64) string {
	return strconv.FormatFloat(x*100, 'g', 6, 64) + "%"
}

// ratio is a p99 ratio: ×1.08 (d < 0: as short as exact), ×∞.
func ratio(x float64, d int) string {
	switch {
	case math.IsNaN(x):
		return "n/a"
	case math.IsInf(x, 1):
		return "×∞"
	}
	return "×" + strconv.FormatFloat(x, 'f', d, 64)
}

// seconds is a latency: 0.125s, ∞.
func seconds(x float64) string {
	switch {
	case math.IsNaN(x):
		return "n/a"
	case math.IsInf(x, 1):
		return "∞"
	}
	return strconv.FormatFloat(x, 'g', 4, 64) + "s"
}
