// Package await is for tests, which wait for a condition and never for a
// fixed sleep.
package await

import (
	"testing"
	"time"
)

// Until polls cond every 10 ms until it holds, failing the test with what
// once timeout has passed.
func Until(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
