package revision

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelgate/modelgate/configs"
)

// killChildEnv, set to a data directory, makes TestKillChild the child
// process of TestKillNine.
const killChildEnv = "MODELGATE_REVISION_KILL_CHILD"

// killKeep is small, so that the rounds trim too.
const killKeep = 6

// killTenants is the size of the routings: large, so that an append
// takes a while (200 tenants: 410 KB of JSON, about 10 ms on the machine
// it was written on). The race detector makes encoding some twenty times
// slower: a quarter of the tenants then gives appends as long or longer.
func killTenants() int {
	if raceEnabled {
		return 50
	}
	return 200
}

var killBase = sync.OnceValue(func() []configs.Tenant { return testRouting(killTenants(), 1) })

// killRouting is the routing of revision n in TestKillNine, which the
// parent checks every revision it finds against: the same tenants, each
// with limits of its own and n's.
func killRouting(n uint64) []configs.Tenant {
	ts := slices.Clone(killBase()) // shares models and keys, never changed
	for i := range ts {
		ts[i].Limits.MaxInFlight = int(n)*1000 + i
	}
	return ts
}

// TestKillChild is TestKillNine's child process (skipped otherwise): it
// appends revisions in a tight loop, printing "committed N" after each
// Append returned, until it is killed.
func TestKillChild(t *testing.T) {
	dir := os.Getenv(killChildEnv)
	if dir == "" {
		t.Skip("the child process of TestKillNine")
	}
	// The parent holds our stdin open; if it dies, stop.
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(3)
	}()
	fail := func(format string, args ...any) {
		fmt.Printf("error "+format+"\n", args...)
		os.Exit(2)
	}
	s, err := Open(dir, killKeep)
	if err != nil {
		fail("%v", err)
	}
	var n uint64
	if r, ok, err := s.Latest(); err != nil {
		fail("%v", err)
	} else if ok {
		n = r.N
	}
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); {
		n++
		r, err := s.Append(&Revision{Source: SourceAPI, Actor: "child", Routing: killRouting(n)})
		if err != nil {
			fail("%v", err)
		}
		if r.N != n {
			fail("appended %d, expected %d", r.N, n)
		}
		fmt.Printf("committed %d\n", n)
	}
	fail("never killed")
}

// TestKillNine kills a process appending revisions with SIGKILL at random
// moments, several rounds on one store, and checks after each that the
// store opens and is consistent: revisions contiguous from the oldest kept
// to the newest, each whole (its routing the one written, its hash the
// routing's), none committed lost, at most the one in flight added.
func TestKillNine(t *testing.T) {
	if os.Getenv(killChildEnv) != "" {
		t.Skip("in the child")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 9))
	dir := t.TempDir()
	var committed uint64 // the last N a child reported committed
	for round := range 5 {
		target := 3 + rng.IntN(8) // appends reported before the kill
		start := time.Now()
		committed = killRound(t, dir, rng, target, committed)
		killed := time.Now()
		newest := checkKilledStore(t, dir, committed)
		t.Logf("round %d: killed after %d reported commits, newest committed %d, newest stored %d (child ran %v, check took %v)",
			round, target, committed, newest, killed.Sub(start).Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))
		// The append in flight at the kill may have committed without its
		// report: the next child continues after what the store holds.
		committed = newest
	}
}

// killRound starts the child, waits for target commits, kills it at a
// random moment within the next append, and returns the last N reported
// committed.
func killRound(t *testing.T, dir string, rng *rand.Rand, target int, committed uint64) uint64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillChild$", "-test.count=1", "-test.timeout=3m")
	cmd.Env = append(os.Environ(), killChildEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }() // a failed round leaves no child

	type report struct {
		n   uint64
		at  time.Time
		err string
	}
	reports := make(chan report, 64)
	go func() {
		defer close(reports)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "committed "); ok {
				n, err := strconv.ParseUint(v, 10, 64)
				if err != nil {
					reports <- report{err: line}
					continue
				}
				reports <- report{n: n, at: time.Now()}
			} else if strings.HasPrefix(line, "error ") {
				reports <- report{err: line}
			}
		}
	}()
	take := func(r report, ok bool) bool {
		if !ok {
			return false
		}
		if r.err != "" {
			t.Fatalf("child: %s", r.err)
		}
		if r.n != committed+1 {
			t.Fatalf("child reported %d after %d", r.n, committed)
		}
		committed = r.n
		return true
	}

	var prev, last time.Time
	timeout := time.After(time.Minute)
	for seen := 0; seen < target; seen++ {
		select {
		case r, ok := <-reports:
			if !take(r, ok) {
				t.Fatalf("child exited after %d of %d commits: %v\n%s", seen, target, cmd.Wait(), stderr.Bytes())
			}
			prev, last = last, r.at
		case <-timeout:
			t.Fatalf("child reported %d of %d commits in a minute\n%s", seen, target, stderr.Bytes())
		}
	}
	// Kill at a random moment of the next append: a random share of the
	// time one append took (a random kill moment, not a wait for a
	// condition).
	d := last.Sub(prev)
	if d > 0 {
		d = time.Duration(rng.Int64N(int64(d)))
		time.Sleep(d)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("killing the child: %v", err)
	}
	for { // commits reported before it died
		if r, ok := <-reports; !take(r, ok) {
			break
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child: %v, want killed by SIGKILL\n%s", err, stderr.Bytes())
	}
	t.Logf("killed %v after the commit of %d", d, committed)
	return committed
}

// checkKilledStore opens the store a killed child left and checks it;
// it returns the newest N stored.
func checkKilledStore(t *testing.T, dir string, committed uint64) uint64 {
	t.Helper()
	s, err := Open(dir, killKeep)
	if err != nil {
		t.Fatalf("opening after kill -9: %v", err)
	}
	defer s.Close()
	rs, err := s.List(0, MaxListLimit)
	if err != nil {
		t.Fatalf("listing after kill -9: %v", err)
	}
	if len(rs) == 0 {
		t.Fatal("no revisions after kill -9")
	}
	newest := rs[0].N
	if newest < committed || newest > committed+1 {
		t.Fatalf("newest revision %d; %d was reported committed (and at most one more in flight)", newest, committed)
	}
	if want := min(int(newest), killKeep); len(rs) != want {
		t.Errorf("%d revisions kept, want %d", len(rs), want)
	}
	if n, err := s.Len(); err != nil || n != len(rs) {
		t.Errorf("Len %d (%v), listed %d", n, err, len(rs))
	}
	for i, r := range rs {
		if want := newest - uint64(i); r.N != want {
			t.Fatalf("revisions not contiguous: %d where %d belongs", r.N, want)
		}
		if h := RoutingHash(r.Routing); r.Hash != h {
			t.Errorf("revision %d: hash %s, routing's %s", r.N, r.Hash, h)
		}
		if !reflect.DeepEqual(r.Routing, killRouting(r.N)) {
			t.Errorf("revision %d: routing is not the one written", r.N)
		}
	}
	return newest
}
