package configs

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// TestWatchLoopReportsErrors feeds the watch loop what fsnotify delivers
// when the kernel's event queue overflows: the error reaches onError and,
// since a change may have been lost, a reload is signalled.
func TestWatchLoopReportsErrors(t *testing.T) {
	events, errs := make(chan fsnotify.Event), make(chan error)
	out, got := make(chan struct{}, 1), make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchLoop(ctx, "/etc/modelgate/modelgate.yaml", events, errs, func(err error) { got <- err }, out)
	}()
	defer func() {
		cancel()
		<-done
	}()
	wait := func(what string, c <-chan struct{}) {
		t.Helper()
		select {
		case <-c:
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s within 5s", what)
		}
	}

	errs <- fsnotify.ErrEventOverflow
	select {
	case err := <-got:
		if !errors.Is(err, fsnotify.ErrEventOverflow) {
			t.Errorf("onError: got %v, want the overflow error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("onError not called within 5s")
	}
	wait("reload signal after a watcher error", out)

	events <- fsnotify.Event{Name: "/etc/modelgate/modelgate.yaml", Op: fsnotify.Write}
	wait("reload signal after a write", out)
}
