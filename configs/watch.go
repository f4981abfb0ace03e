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

// Watch signals on the returned channel (capacity 1, never blocking the
// watcher) after the file at path is written, created, renamed or replaced.
// It watches the file's directory, so atomic replaces (Kubernetes ConfigMap
// symlink swaps, editors' rename-into-place) are seen. The watch stops when
// ctx is done.
func Watch(ctx context.Context, path string) (<-chan struct{}, error) {
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
		var timer *time.Timer
		var fire <-chan time.Time
		for {
			select {
			case <-ctx.Done():
				if timer != nil {
					timer.Stop()
				}
				return
			case ev, ok := <-w.Events:
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
				if timer == nil {
					timer = time.NewTimer(WatchDebounce)
				} else {
					timer.Reset(WatchDebounce)
				}
				fire = timer.C
			case <-fire:
				fire = nil
				select {
				case out <- struct{}{}:
				default:
				}
			case <-w.Errors:
				// Errors (e.g. queue overflow) are followed by further events;
				// nothing to do but keep watching.
			}
		}
	}()
	return out, nil
}
