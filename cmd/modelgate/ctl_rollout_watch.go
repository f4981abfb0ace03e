package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/modelgate/modelgate/rollout"
)

// ANSI: cursor home, then clear the screen.
const clearScreen = "\x1b[H\x1b[2J"

// isTerminal reports whether w is a terminal (a character device, TERM
// not "dumb"); watch redraws in place only there.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb"
}

// rolloutWatch reads the rollout at path every interval and shows it (see
// rolloutUsage) until it completes (exitOK), is rolled back or aborted
// (exitFailed), a read fails (its exit code) or c.ctx ends
// (exitInterrupted).
func (c *ctl) rolloutWatch(path string, interval time.Duration) int {
	tty := isTerminal(c.stdout) && !c.json
	var last string
	timer := time.NewTimer(0)
	defer timer.Stop()
	for first := true; ; first = false {
		select {
		case <-c.ctx.Done():
			if tty {
				fmt.Fprintln(c.stdout)
			}
			return exitInterrupted
		case <-timer.C:
		}
		a, err := c.call(http.MethodGet, path, nil, "", "")
		if err != nil {
			if c.ctx.Err() != nil {
				return exitInterrupted
			}
			return c.fail(err)
		}
		var s rollout.Status
		if err := json.Unmarshal(a.body, &s); err != nil {
			return c.fail(fmt.Errorf("the admin API at %s answered %s with something other than the expected JSON: %w", c.admin, path, err))
		}
		key := watchKey(s)
		switch {
		case c.json:
			if key != last {
				var b bytes.Buffer
				if json.Compact(&b, a.body) == nil {
					c.printRaw(b.Bytes())
				}
			}
		case tty:
			fmt.Fprintf(c.stdout, "%sEvery %v: %s %s    %s\n\n", clearScreen, interval, c.name,
				strings.TrimPrefix(path, "/admin/rollouts/"), fmtTime(time.Now()))
			printDetail(c.stdout, s)
		case key != last:
			if !first {
				fmt.Fprintln(c.stdout)
			}
			fmt.Fprintf(c.stdout, "# %s\n", fmtTime(time.Now()))
			printDetail(c.stdout, s)
		}
		last = key
		if done, completed := final(s.Phase); done {
			if !c.json {
				fmt.Fprintf(c.stdout, "\nthe rollout ended: %s\n", statusLine(s))
			}
			if completed {
				return exitOK
			}
			return exitFailed
		}
		timer.Reset(interval)
	}
}

// watchKey is what watch compares to tell whether a rollout changed: its
// status without the clock (time in step) and the window's counts, with
// the number of decisions in place of them.
func watchKey(s rollout.Status) string {
	s.TimeInStep = 0
	s.Window = rollout.WindowView{Since: s.Window.Since}
	n := len(s.Decisions)
	s.Decisions = nil
	b, _ := json.Marshal(struct {
		S rollout.Status
		N int
	}{s, n})
	return string(b)
}
