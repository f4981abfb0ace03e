// Command chart draws the summary CSV of bench/run.sh (written by
// bench/report) as a PNG bar chart: for each peer and modelgate mode, its
// throughput and its proxy CPU per request as ratios to nginx, with a line
// at 1 (nginx). Throughput above the line and CPU below it beat nginx.
//
//	cd bench/chart && go run . -in ../results/X.csv -out ../results/X.png
//
// It is its own module so that gonum/plot and its font and image
// dependencies stay out of the gateway's go.mod and out of `go vet ./...`.
package main

import (
	"encoding/csv"
	"flag"
	"fmt"
	"image/color"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// bar is one peer (or modelgate mode) with its ratios to nginx.
type bar struct {
	name       string
	rpsX, cpuX float64
}

func main() {
	in := flag.String("in", "", "summary CSV written by bench/report")
	out := flag.String("out", "chart.png", "PNG to write")
	title := flag.String("title", "modelgate vs nginx", "chart title")
	flag.Parse()
	if *in == "" {
		fmt.Fprintln(os.Stderr, "chart: -in is required")
		os.Exit(2)
	}
	bars, err := readBars(*in)
	if err != nil {
		fmt.Fprintf(os.Stderr, "chart: %v\n", err)
		os.Exit(1)
	}
	if err := draw2(bars, *title, *out); err != nil {
		fmt.Fprintf(os.Stderr, "chart: %v\n", err)
		os.Exit(1)
	}
}

// readBars reads the rows that have ratios to nginx (not direct, not nginx).
func readBars(path string) ([]bar, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(recs) < 2 {
		return nil, fmt.Errorf("%s: no rows", path)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for _, h := range []string{"name", "peer", "rps_x_nginx", "cpu_x_nginx"} {
		if _, ok := col[h]; !ok {
			return nil, fmt.Errorf("%s: no %q column", path, h)
		}
	}
	var bars []bar
	for _, r := range recs[1:] {
		if p := r[col["peer"]]; p == "direct" || p == "nginx" {
			continue
		}
		rps, err1 := strconv.ParseFloat(r[col["rps_x_nginx"]], 64)
		cpu, err2 := strconv.ParseFloat(r[col["cpu_x_nginx"]], 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s: %s has no ratios to nginx (was nginx measured?)", path, r[col["name"]])
		}
		bars = append(bars, bar{name: r[col["name"]], rpsX: rps, cpuX: cpu})
	}
	if len(bars) == 0 {
		return nil, fmt.Errorf("%s: nothing to compare with nginx", path)
	}
	return bars, nil
}

// draw2 renders the grouped bar chart to a PNG file.
func draw2(bars []bar, title, out string) error {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = "ratio to nginx (nginx = 1)"
	p.Y.Min = 0
	p.Legend.Top = true
	p.Legend.Left = true

	rps := make(plotter.Values, len(bars))
	cpu := make(plotter.Values, len(bars))
	names := make([]string, len(bars))
	top := 1.2
	for i, b := range bars {
		rps[i], cpu[i], names[i] = b.rpsX, b.cpuX, b.name
		top = max(top, b.rpsX, b.cpuX)
	}
	p.Y.Max = top * 1.45 // headroom for the legend and the value labels
	w := vg.Points(14)
	rpsBars, err := plotter.NewBarChart(rps, w)
	if err != nil {
		return err
	}
	rpsBars.Color = color.RGBA{R: 0x2b, G: 0x6c, B: 0xb0, A: 0xff}
	rpsBars.LineStyle.Width = 0
	rpsBars.Offset = -w / 2
	cpuBars, err := plotter.NewBarChart(cpu, w)
	if err != nil {
		return err
	}
	cpuBars.Color = color.RGBA{R: 0xe0, G: 0x8a, B: 0x1e, A: 0xff}
	cpuBars.LineStyle.Width = 0
	cpuBars.Offset = w / 2

	one, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: 1}, {X: float64(len(bars)) - 0.5, Y: 1}})
	if err != nil {
		return err
	}
	one.LineStyle.Width = vg.Points(1)
	one.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	one.LineStyle.Color = color.Gray{Y: 0x40}

	rpsLabels, err := valueLabels(rps, -w/2)
	if err != nil {
		return err
	}
	cpuLabels, err := valueLabels(cpu, w/2)
	if err != nil {
		return err
	}
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil
	p.Add(grid, rpsBars, cpuBars, one, rpsLabels, cpuLabels)
	p.Legend.Add("throughput (higher is better)", rpsBars)
	p.Legend.Add("proxy CPU per request (lower is better)", cpuBars)
	p.Legend.Add("nginx", one)
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = 0.35
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter

	width := max(vg.Length(len(bars))*1.1*vg.Inch, 6*vg.Inch)
	if err := p.Save(width, 4.5*vg.Inch, out); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	return nil
}

// valueLabels writes each value ("0.93×") just above its bar, shifted by
// dx like the bars are.
func valueLabels(vals plotter.Values, dx vg.Length) (*plotter.Labels, error) {
	xy := plotter.XYLabels{XYs: make(plotter.XYs, len(vals)), Labels: make([]string, len(vals))}
	for i, v := range vals {
		xy.XYs[i] = plotter.XY{X: float64(i), Y: v}
		xy.Labels[i] = strconv.FormatFloat(v, 'f', 2, 64) + "×"
	}
	l, err := plotter.NewLabels(xy)
	if err != nil {
		return nil, err
	}
	l.Offset = vg.Point{X: dx, Y: vg.Points(2)}
	for i := range l.TextStyle {
		l.TextStyle[i].XAlign = draw.XCenter
		l.TextStyle[i].YAlign = draw.YBottom
		l.TextStyle[i].Font.Size = vg.Points(8)
	}
	return l, nil
}
