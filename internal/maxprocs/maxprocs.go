// Package maxprocs sets the Go scheduler's parallelism (GOMAXPROCS) of a
// proxy process.
//
// The runtime's default is the number of CPUs in the process's affinity
// mask, lowered to its cgroup CPU limit — and a limit below 2 is rounded up
// to 2 (runtime/cgroup_linux.go). An affinity mask of one CPU (taskset, a
// cpuset, Kubernetes' static CPU manager with one exclusive CPU) gets no
// such floor: GOMAXPROCS is 1.
//
// With one P, a proxy that shares its CPU with another process (a model
// container on the same node, a sidecar) pays for it on every system call
// during which it is preempted: the runtime's monitor thread takes the P
// from the thread blocked in the call and hands it to another thread, and
// the first one then has to park. bench/run.sh measured, for modelgate
// pinned to one CPU beside its backend, with two Ps: about 40% fewer context
// switches per request, and from 0 to 42% less CPU per request depending on
// the run (14% over 18 pooled rounds; docs/PERFORMANCE.md).
// Both Ps' threads run on the one CPU of the mask, so the process uses no
// more CPU than it is given.
package maxprocs

import (
	"os"
	"runtime"
)

// Min is the smallest GOMAXPROCS that Raise leaves.
const Min = 2

// Raise sets GOMAXPROCS to Min when it is lower and the GOMAXPROCS
// environment variable does not set it (an explicit setting always wins).
// It returns the value before and after; they are equal when nothing
// changed. Call it once, at the start of main.
func Raise() (before, after int) {
	before = runtime.GOMAXPROCS(0)
	if before >= Min || os.Getenv("GOMAXPROCS") != "" {
		return before, before
	}
	runtime.GOMAXPROCS(Min)
	return before, Min
}
