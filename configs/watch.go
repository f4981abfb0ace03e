package configs

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// WatchDebounce is how long Watch waits after the last change to the file
// before signalling, so an editor's write-rename-chmod burst is one reload.
const WatchDebounce = 250 * time.Millisecond

// Watch is WatchErrors without an error callback: watcher errors only
// cause a reload signal.
func Watch(ctx context.Context, path string) (<-chan struct{}, error) {
	return WatchErrors(ctx, path, nil)
}

// WatchErrors signals on the returned channel (capacity 1, never blocking
// the watcher) after the file at path is written, created, renamed or
// replaced. It watches the file's directory, so atomic replaces (Kubernetes
// ConfigMap symlink swaps, editors' rename-into-place) are seen. A watcher
// error (e.g. the kernel's event queue overflowed, so a change may have been
// missed) is passed to onError, if set, and signals a reload too. The watch
// stops when ctx is done.
func WatchErrors(ctx context.Context, path string, onError func(error)) (<-chan struct{}, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("watching config: %w", err)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watching config: %w", err)
	}
	dir := filepath.Dir(abs)
	if err := w.Add(dir); err != nil {
		w.Close()
		return nil, fmt.Errorf("watching config directory %s: %w", dir, err)
	}
	out := make(chan struct{}, 1)
	go func() {
		defer w.Close()
		watchLoop(ctx, abs, w.Events, w.Errors, onError, out)
	}()
	return out, nil
}

// watchLoop turns the watcher's events on abs (and on the directory's dot
// entries) and its errors into debounced signals on out, until ctx is done
// or the watcher closes.
func watchLoop(ctx context.Context, abs string, events <-chan fsnotify.Event, errs <-chan error, onError func(error), out chan<- struct{}) {
	var timer *time.Timer
	var fire <-chan time.Time
	arm := func() {
		if timer == nil {
			timer = time.NewTimer(WatchDebounce)
		} else {
			timer.Reset(WatchDebounce)
		}
		fire = timer.C
	}
	for {
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			// ConfigMap updates swap a "..data" symlink in the directory;
			// react to any event on the file itself or on such entries.
			name := filepath.Base(ev.Name)
			if filepath.Clean(ev.Name) != abs && name[0] != '.' {
				continue
			}
			if ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename|fsnotify.Remove|fsnotify.Chmod) == 0 {
				continue
			}
			arm()
		case <-fire:
			fire = nil
			select {
			case out <- struct{}{}:
			default:
			}
		case err, ok := <-errs:
			if !ok {
				return
			}
			// Events may have been lost (fsnotify.ErrEventOverflow): read
			// the file again rather than miss a change.
			if onError != nil {
				onError(err)
			}
			arm()
		}
	}
}
