package main

// explain: a rollout's decisions and every look's verdict inputs.

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"text/tabwriter"

	"github.com/modelgate/modelgate/rollout"
	"github.com/modelgate/modelgate/rollout/judge"
)

// printExplain writes a rollout's decisions, oldest first, then every
// look's verdicts with their inputs.
func printExplain(w io.Writer, s rollout.Status) {
	fmt.Fprintln(w, statusLine(s))
	if len(s.Decisions) == 0 {
		fmt.Fprintln(w, "no decisions yet")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row(tw, "#", "TIME", "STEP", "KIND", "ACTION", "ACTOR", "RESULT", "REASON")
	for i, d := range s.Decisions {
		row(tw, strconv.Itoa(i+1), fmtTime(d.Time), strconv.Itoa(d.Step), dash(d.Kind), d.Action, dash(d.Actor),
			dash(d.Result), dash(d.Reason))
	}
	tw.Flush()
	for i, d := range s.Decisions {
		if len(d.Verdicts) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n#%d %s at step %d (%s), %s: %s\n", i+1, d.Action, d.Step, dash(d.Kind), fmtTime(d.Time), dash(d.Result))
		if d.Window != nil {
			fmt.Fprintf(w, "  window since %s: canary %s, baseline %s\n", fmtTime(d.Window.Since),
				countsOf(d.Window.Canary, d.Kind == "shadow"), countsOf(d.Window.Baseline, false))
		}
		for _, v := range d.Verdicts {
			printInputs(w, v)
		}
	}
}

// printInputs writes one verdict with everything it was computed from.
func printInputs(w io.Writer, v judge.Verdict) {
	in := v.Inputs
	sh := shapeOf(v.Gate)
	fmt.Fprintf(w, "  %s: %s: %s\n", v.Gate, v.Result, dash(v.Reason))
	method := fmt.Sprintf("    method %s, confidence %s", in.Method, plainPct(in.Confidence))
	if in.Z != 0 {
		method += fmt.Sprintf(" (z %.4g)", in.Z)
	}
	if in.Quantile != 0 {
		method += fmt.Sprintf(", quantile %g", in.Quantile)
	}
	fmt.Fprintf(w, "%s, threshold %s, at least %s samples a side\n", method, sh.limit(in.Threshold), thousands(in.MinSamples))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	side := func(name string, s judge.Sample) {
		events := "-"
		if s.Events != nil {
			events = thousands(*s.Events)
		}
		cells := []string{"    " + name, "n " + thousands(s.N), "events " + events, "value " + sh.version(float64(s.Value)),
			"bounds [" + sh.version(float64(s.Lower)) + ", " + sh.version(float64(s.Upper)) + "]"}
		if s.Ranks != nil {
			cells = append(cells, fmt.Sprintf("ranks %d..%d", s.Ranks.Lower, s.Ranks.Upper))
		}
		row(tw, cells...)
	}
	side("canary", in.Canary)
	if in.Baseline != nil {
		side("baseline", *in.Baseline)
	}
	tw.Flush()
	est := "n/a"
	if e := float64(in.Estimate); !math.IsNaN(e) {
		est = sh.format(e, 3)
	}
	fmt.Fprintf(w, "    estimate %s, interval [%s, %s]\n", est, sh.format(float64(in.Lower), 3), sh.format(float64(in.Upper), 3))
}
