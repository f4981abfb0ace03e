// Command promcheck is the Go half of scripts/prometheus-check.sh:
//
//	promcheck freeport                  print a free loopback TCP port
//	promcheck wait URL [timeout]        poll URL until it answers 200 (default 30s)
//	promcheck get URL                   print URL's body (fails unless 200)
//	promcheck load -url U -key K -for D generate mixed traffic through a gateway
//	promcheck check -prom U -docs F -rules F [-dashboard F] [-skip F] [-timeout D]
//	                                    evaluate every PromQL expression of the
//	                                    docs (```promql blocks) and the rules file
//	                                    (recording rules, their recorded series,
//	                                    and alert conditions with comparisons
//	                                    turned into `bool`), and the dashboard's
//	                                    panel queries, through Prometheus's
//	                                    /api/v1/query; each must return series.
//
// It exits non-zero with a readable report when something fails.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.yaml.in/yaml/v3"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: promcheck freeport | load ... | check ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "freeport":
		err = freePort()
	case "wait":
		err = wait(os.Args[2:])
	case "get":
		err = get(os.Args[2:])
	case "load":
		err = load(os.Args[2:])
	case "check":
		err = check(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "promcheck:", err)
		os.Exit(1)
	}
}

func freePort() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	return nil
}

func wait(args []string) error {
	if len(args) < 1 {
		return errors.New("usage: wait URL [timeout]")
	}
	timeout := 30 * time.Second
	if len(args) > 1 {
		d, err := time.ParseDuration(args[1])
		if err != nil {
			return err
		}
		timeout = d
	}
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for time.Now().Before(deadline) {
		resp, err := client.Get(args[0])
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %s: %s", args[0], timeout, last)
}

func get(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: get URL")
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(args[0])
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", args[0], resp.Status)
	}
	_, err = io.Copy(os.Stdout, resp.Body)
	return err
}

const inferBody = `{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP64","data":[1.0,0.5,-0.3,2.0]}]}`

// load sends a mix of requests until -for elapses: unpinned inference
// (the weighted split), pinned v2, the V1 predict protocol and some with a
// wrong key (rejections).
func load(args []string) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	base := fs.String("url", "", "gateway base URL")
	key := fs.String("key", "", "API key")
	dur := fs.Duration("for", 30*time.Second, "how long")
	workers := fs.Int("c", 4, "concurrent clients")
	if err := fs.Parse(args); err != nil {
		return err
	}
	type shot struct{ path, body, key string }
	mix := []shot{
		{"/v2/models/fraud/infer", inferBody, *key},
		{"/v2/models/fraud/infer", inferBody, *key},
		{"/v2/models/fraud/infer", inferBody, *key},
		{"/v2/models/fraud/versions/v2/infer", inferBody, *key},
		{"/v1/models/fraud:predict", `{"instances":[[1.0,0.5,-0.3,2.0]]}`, *key},
		{"/v2/models/fraud/infer", inferBody, "wrong-key"},
		{"/v2/models/churn/infer", inferBody, *key}, // the demo's rollout: its shadow step judges these
		// The demo's stand-in LLM: streamed (time to first token, per output token) and buffered.
		{"/openai/v1/chat/completions", `{"model":"chat","stream":true,"max_tokens":6,"messages":[{"role":"user","content":"hello there"}]}`, *key},
		{"/openai/v1/chat/completions", `{"model":"chat","max_tokens":6,"messages":[{"role":"user","content":"hello there"}]}`, *key},
	}
	client := &http.Client{Timeout: 10 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), *dur)
	defer cancel()
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	for w := range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ctx.Err() == nil; i++ {
				s := mix[i%len(mix)]
				req, _ := http.NewRequestWithContext(ctx, "POST", *base+s.path, strings.NewReader(s.body))
				req.Header.Set("X-API-Key", s.key)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
						time.Sleep(100 * time.Millisecond)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				sent.Add(1)
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	fmt.Printf("load: %d requests answered, %d transport errors\n", sent.Load(), failed.Load())
	if sent.Load() == 0 {
		return errors.New("no request was answered")
	}
	return nil
}

// query is one expression to evaluate and where it comes from.
type query struct{ from, expr string }

type rulesFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record string `yaml:"record"`
			Alert  string `yaml:"alert"`
			Expr   string `yaml:"expr"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

var comparison = regexp.MustCompile(`\s(>=|<=|==|!=|>|<)\s+`)

// dashboardQueries returns the panel queries of a Grafana dashboard, with
// the $tenant and $model variables set to match everything.
func dashboardQueries(path string) ([]query, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	type panel struct {
		Title   string  `json:"title"`
		Panels  []panel `json:"panels"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	}
	var dash struct {
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	vars := strings.NewReplacer("$tenant", ".*", "$model", ".*")
	var qs []query
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, t := range p.Targets {
				qs = append(qs, query{path + " panel " + p.Title, vars.Replace(t.Expr)})
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	return qs, nil
}

func collect(docs, rules string) ([]query, error) {
	var qs []query
	f, err := os.Open(docs)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var cur *strings.Builder
	line := 0
	start := 0
	for sc.Scan() {
		line++
		t := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(t) == "```promql":
			cur, start = &strings.Builder{}, line
		case cur != nil && strings.TrimSpace(t) == "```":
			qs = append(qs, query{fmt.Sprintf("%s:%d", docs, start), strings.TrimSpace(cur.String())})
			cur = nil
		case cur != nil:
			cur.WriteString(t + "\n")
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(qs) == 0 {
		return nil, fmt.Errorf("%s: no ```promql blocks", docs)
	}
	raw, err := os.ReadFile(rules)
	if err != nil {
		return nil, err
	}
	var rf rulesFile
	if err := yaml.Unmarshal(raw, &rf); err != nil {
		return nil, fmt.Errorf("%s: %w", rules, err)
	}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			switch {
			case r.Record != "":
				qs = append(qs, query{rules + " record " + r.Record, strings.TrimSpace(r.Expr)},
					query{rules + " recorded series " + r.Record, r.Record})
			case r.Alert != "":
				// The condition returns series only while it fires; with
				// bool comparisons it returns 0/1 for every input series.
				qs = append(qs, query{rules + " alert " + r.Alert + " (as bool)", comparison.ReplaceAllString(strings.TrimSpace(r.Expr), " $1 bool ")})
			}
		}
	}
	return qs, nil
}

// skipList reads metric names (first field of each non-comment line).
func skipList(path string) ([]string, error) {
	if path == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var names []string
	for l := range strings.SplitSeq(string(raw), "\n") {
		if f := strings.Fields(l); len(f) > 0 && !strings.HasPrefix(f[0], "#") {
			names = append(names, f[0])
		}
	}
	return names, nil
}

type apiResponse struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string            `json:"resultType"`
		Result     []json.RawMessage `json:"result"`
	} `json:"data"`
}

func evaluate(client *http.Client, prom, expr string) (int, error) {
	resp, err := client.PostForm(prom+"/api/v1/query", url.Values{"query": {expr}})
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r apiResponse
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, fmt.Errorf("HTTP %d, undecodable answer: %w", resp.StatusCode, err)
	}
	if r.Status != "success" {
		return 0, fmt.Errorf("%s: %s", r.ErrorType, r.Error)
	}
	if r.Data.ResultType != "vector" {
		return 0, fmt.Errorf("result type %s, want vector", r.Data.ResultType)
	}
	return len(r.Data.Result), nil
}

func check(args []string) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	prom := fs.String("prom", "", "Prometheus base URL")
	docs := fs.String("docs", "docs/SCALING.md", "markdown with ```promql blocks")
	rules := fs.String("rules", "deploy/prometheus/modelgate.rules.yml", "rules file")
	skip := fs.String("skip", "", "file of metric names whose expressions are skipped")
	dashboard := fs.String("dashboard", "", "Grafana dashboard JSON whose panel queries are evaluated too")
	timeout := fs.Duration("timeout", 2*time.Minute, "how long to wait for every expression to return series")
	if err := fs.Parse(args); err != nil {
		return err
	}
	qs, err := collect(*docs, *rules)
	if err != nil {
		return err
	}
	if *dashboard != "" {
		dq, err := dashboardQueries(*dashboard)
		if err != nil {
			return err
		}
		qs = append(qs, dq...)
	}
	skipped, err := skipList(*skip)
	if err != nil {
		return err
	}
	pending := map[int]string{} // index → last problem
	nSkipped := 0
	for i, q := range qs {
		reason := ""
		for _, m := range skipped {
			if regexp.MustCompile(`\b` + regexp.QuoteMeta(m) + `\b`).MatchString(q.expr) {
				reason = m
			}
		}
		if reason != "" {
			fmt.Printf("SKIP  %s (uses %s, not on this branch)\n", q.from, reason)
			nSkipped++
			continue
		}
		pending[i] = "not evaluated"
	}
	client := &http.Client{Timeout: 10 * time.Second}
	deadline := time.Now().Add(*timeout)
	for len(pending) > 0 && time.Now().Before(deadline) {
		for _, i := range slices.Sorted(maps.Keys(pending)) {
			n, err := evaluate(client, *prom, qs[i].expr)
			switch {
			case err != nil:
				pending[i] = "error: " + err.Error()
			case n == 0:
				pending[i] = "no series"
			default:
				fmt.Printf("OK    %s: %d series\n", qs[i].from, n)
				delete(pending, i)
			}
		}
		if len(pending) > 0 {
			time.Sleep(2 * time.Second)
		}
	}
	if len(pending) == 0 {
		fmt.Printf("all %d evaluated expressions returned series\n", len(qs)-nSkipped)
		return nil
	}
	for _, i := range slices.Sorted(maps.Keys(pending)) {
		problem := pending[i]
		fmt.Printf("FAIL  %s: %s\n      %s\n", qs[i].from, problem, strings.ReplaceAll(qs[i].expr, "\n", "\n      "))
	}
	return fmt.Errorf("%d of %d expressions returned no series within %s", len(pending), len(qs), *timeout)
}
