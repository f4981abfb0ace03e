// Command canaryplot runs a canary rollout through a real modelgate gateway
// on loopback and renders what the gateway's own metrics showed as a PNG
// (docs/canary.png):
//
//	go run ./scripts/canaryplot -o docs/canary.png
//
// Two example model containers serve fraud v1 and v2. Under steady load
// (about 200 requests/s), the config is reloaded through the phases v2 at
// 0 %, 10 %, 50 %, then v2 turns slow (an injected 40 ms delay) and the
// canary is rolled back to 0 %. Every second the program gathers the
// gateway's Prometheus registry and computes, per version, requests/s
// (modelgate_requests_total) and p99 latency (from the
// modelgate_request_duration_seconds bucket deltas, interpolated like
// PromQL's histogram_quantile).
package main

import (
	"context"
	"flag"
	"fmt"
	"image/color"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/modelgate/modelgate/configs"
	"github.com/modelgate/modelgate/gateway"
	"github.com/modelgate/modelgate/internal/modelserver"
	"github.com/modelgate/modelgate/observability"
	"github.com/modelgate/modelgate/tenants"
	dto "github.com/prometheus/client_model/go"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

const (
	apiKey    = "canary-key"
	inferBody = `{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP64","data":[1.0,0.5,-0.3,2.0]}]}`
)

// phase is one step of the rollout.
type phase struct {
	label    string
	v2Weight int           // v1 gets 100 - v2Weight
	v2Delay  time.Duration // injected into v2's container
}

var phases = []phase{
	{"v2 0%", 0, 0},
	{"canary 10%", 10, 0},
	{"canary 50%", 50, 0},
	{"v2 slow (+40ms)", 50, 40 * time.Millisecond},
	{"rolled back", 0, 40 * time.Millisecond},
}

func main() {
	out := flag.String("o", "docs/canary.png", "PNG to write")
	phaseDur := flag.Duration("phase", 6*time.Second, "duration of each phase")
	flag.Parse()
	if err := run(*out, *phaseDur); err != nil {
		fmt.Fprintln(os.Stderr, "canaryplot:", err)
		os.Exit(1)
	}
}

func config(v1, v2 string, v2Weight int) (*configs.Config, error) {
	text := fmt.Sprintf(`server: {listen: "127.0.0.1:0", admin_listen: "127.0.0.1:0"}
tenants:
  - name: demo
    api_keys: [{sha256: %q}]
    models:
      - name: fraud
        timeout: 5s
        versions:
          - {name: v1, weight: %d, endpoints: [%q]}
          - {name: v2, weight: %d, endpoints: [%q]}
`, tenants.HashKey(apiKey), 100-v2Weight, v1, v2Weight, v2)
	return configs.Parse([]byte(text))
}

func run(out string, phaseDur time.Duration) error {
	var urls []string
	var v2srv *modelserver.Server
	for _, m := range []modelserver.Model{
		{Name: "fraud", Version: "v1", Weights: []float64{0.8, -0.4, 0.3, 0.1}},
		{Name: "fraud", Version: "v2", Weights: []float64{0.82, -0.38, 0.3, 0.12}, Bias: 0.01},
	} {
		srv, err := modelserver.Start(modelserver.Options{Model: m})
		if err != nil {
			return err
		}
		defer srv.Close()
		urls = append(urls, srv.URL)
		v2srv = srv.Server
	}
	cfg, err := config(urls[0], urls[1], phases[0].v2Weight)
	if err != nil {
		return err
	}
	metrics := observability.NewMetrics()
	gw := gateway.New(cfg, metrics, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	ln, err := gw.Listen()
	if err != nil {
		return err
	}
	go func() { _ = gw.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx)
	}()

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loadLoop(ctx, "http://"+ln.Addr().String())
		}()
	}

	var samples []sample
	prev := gather(metrics)
	start := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var boundaries []float64
	for i, ph := range phases {
		if i > 0 {
			c, err := config(urls[0], urls[1], ph.v2Weight)
			if err != nil {
				stop()
				wg.Wait()
				return err
			}
			gw.Apply(c)
			v2srv.SetDelay(ph.v2Delay)
			boundaries = append(boundaries, time.Since(start).Seconds())
		}
		for end := time.Now().Add(phaseDur); time.Now().Before(end); {
			<-tick.C
			cur := gather(metrics)
			samples = append(samples, interval(time.Since(start).Seconds(), prev, cur))
			prev = cur
		}
	}
	stop()
	wg.Wait()
	if err := render(out, samples, boundaries); err != nil {
		return err
	}
	fmt.Printf("wrote %s (%d one-second samples)\n", out, len(samples))
	return nil
}

func loadLoop(ctx context.Context, base string) {
	client := &http.Client{Timeout: 10 * time.Second}
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, "POST", base+"/v2/models/fraud/infer", strings.NewReader(inferBody))
		req.Header.Set("X-API-Key", apiKey)
		req.Header.Set("Content-Type", "application/json")
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// counts is one gather: per version, answered requests and the cumulative
// latency buckets.
type counts struct {
	requests map[string]float64
	buckets  map[string][]*dto.Bucket
}

func gather(m *observability.Metrics) counts {
	c := counts{requests: map[string]float64{}, buckets: map[string][]*dto.Bucket{}}
	mfs, _ := m.Registry.Gather()
	for _, mf := range mfs {
		for _, metric := range mf.GetMetric() {
			version := ""
			for _, l := range metric.GetLabel() {
				if l.GetName() == "version" {
					version = l.GetValue()
				}
			}
			switch mf.GetName() {
			case "modelgate_requests_total":
				c.requests[version] += metric.GetCounter().GetValue()
			case "modelgate_request_duration_seconds":
				c.buckets[version] = metric.GetHistogram().GetBucket()
			}
		}
	}
	return c
}

// sample is one second of the run, per version.
type sample struct {
	t    float64
	rate map[string]float64
	p99  map[string]float64 // NaN when the version served nothing
}

func interval(t float64, prev, cur counts) sample {
	s := sample{t: t, rate: map[string]float64{}, p99: map[string]float64{}}
	for _, v := range []string{"v1", "v2"} {
		s.rate[v] = cur.requests[v] - prev.requests[v]
		s.p99[v] = bucketQuantile(0.99, prev.buckets[v], cur.buckets[v])
	}
	return s
}

// bucketQuantile is PromQL's histogram_quantile over the increase between
// two cumulative classic-bucket snapshots (prev may be nil): linear
// interpolation inside the bucket holding the q-th observation. NaN when
// nothing was observed.
func bucketQuantile(q float64, prev, cur []*dto.Bucket) float64 {
	inc := make([]float64, len(cur))
	for i, b := range cur {
		inc[i] = float64(b.GetCumulativeCount())
		if i < len(prev) {
			inc[i] -= float64(prev[i].GetCumulativeCount())
		}
	}
	if len(inc) == 0 || inc[len(inc)-1] == 0 {
		return math.NaN()
	}
	rank := q * inc[len(inc)-1]
	lower, below := 0.0, 0.0
	for i, b := range cur {
		if inc[i] >= rank {
			in := inc[i] - below
			if in == 0 {
				return b.GetUpperBound()
			}
			return lower + (b.GetUpperBound()-lower)*(rank-below)/in
		}
		lower, below = b.GetUpperBound(), inc[i]
	}
	return lower // beyond the last bucket: its bound, as PromQL does
}

var versionColors = map[string]color.Color{
	"v1": color.RGBA{R: 31, G: 119, B: 180, A: 255},
	"v2": color.RGBA{R: 214, G: 39, B: 40, A: 255},
}

func render(out string, samples []sample, boundaries []float64) error {
	traffic := plot.New()
	traffic.Title.Text = "Canary run through modelgate: requests/s per version (modelgate_requests_total)"
	traffic.Y.Label.Text = "requests/s"
	latency := plot.New()
	latency.Title.Text = "p99 latency per version (modelgate_request_duration_seconds, 1 s windows)"
	latency.Y.Label.Text = "milliseconds"
	latency.X.Label.Text = "seconds; phases: " + phaseLabels()
	for _, v := range []string{"v1", "v2"} {
		var rate, p99 plotter.XYs
		for _, s := range samples {
			rate = append(rate, plotter.XY{X: s.t, Y: s.rate[v]})
			if !math.IsNaN(s.p99[v]) {
				p99 = append(p99, plotter.XY{X: s.t, Y: 1000 * s.p99[v]})
			}
		}
		for _, pl := range []struct {
			p   *plot.Plot
			xys plotter.XYs
		}{{traffic, rate}, {latency, p99}} {
			if len(pl.xys) == 0 {
				continue
			}
			line, points, err := plotter.NewLinePoints(pl.xys)
			if err != nil {
				return err
			}
			line.Color, points.Color = versionColors[v], versionColors[v]
			line.Width = vg.Points(1.5)
			points.Radius = vg.Points(1.5)
			pl.p.Add(line, points)
			pl.p.Legend.Add(v, line)
		}
	}
	for _, p := range []*plot.Plot{traffic, latency} {
		p.Add(plotter.NewGrid())
		p.Legend.Top = true
		p.Y.Min = 0
		for _, b := range boundaries {
			mark, err := plotter.NewLine(plotter.XYs{{X: b, Y: 0}, {X: b, Y: p.Y.Max}})
			if err != nil {
				return err
			}
			mark.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			mark.Color = color.Gray{Y: 120}
			p.Add(mark)
		}
	}
	img := vgimg.New(vg.Points(900), vg.Points(620))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(10), PadY: vg.Points(14)}
	grid := [][]*plot.Plot{{traffic}, {latency}}
	canvases := plot.Align(grid, tiles, dc)
	traffic.Draw(canvases[0][0])
	latency.Draw(canvases[1][0])
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func phaseLabels() string {
	labels := make([]string, len(phases))
	for i, p := range phases {
		labels[i] = p.label
	}
	return strings.Join(labels, " | ")
}
