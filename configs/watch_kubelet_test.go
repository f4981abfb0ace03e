package configs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// kubeletVolume reproduces, step by step, what kubelet's AtomicWriter
// (pkg/volume/util/atomic_writer.go) does to a ConfigMap volume on every
// update, so the watch is tested against the real sequence of inotify
// events rather than a plain write:
//
//  1. the current timestamped directory is read from the "..data" symlink;
//  2. a new hidden timestamped directory "..2026_12_04_10_30_00.<random>"
//     is created (mode 0755) and every key is written into it as a file;
//  3. a symlink "..data_tmp" pointing at the new directory (relative
//     target) is created;
//  4. "..data_tmp" is renamed over "..data" (the atomic switch);
//  5. the user-visible names are symlinks "<key>" -> "..data/<key>",
//     created if missing (so on updates they are untouched: they resolve
//     through "..data" to the new directory);
//  6. the previous timestamped directory is removed with its files.
type kubeletVolume struct {
	dir string
	n   int // writes so far: a new timestamp each time
}

// write projects files (key -> content) into the volume as kubelet would.
func (v *kubeletVolume) write(t *testing.T, files map[string]string) {
	t.Helper()
	v.n++
	data := filepath.Join(v.dir, "..data")
	oldTs, err := os.Readlink(data) // (1)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	prefix := fmt.Sprintf("..2026_12_04_10_30_%02d.", v.n)
	ts, err := os.MkdirTemp(v.dir, prefix) // (2)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(ts, 0o755); err != nil {
		t.Fatal(err)
	}
	for key, content := range files {
		p := filepath.Join(ts, key)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(v.dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil { // (3)
		t.Fatal(err)
	}
	if err := os.Rename(tmp, data); err != nil { // (4)
		t.Fatal(err)
	}
	for key := range files { // (5)
		visible := filepath.Join(v.dir, key)
		if _, err := os.Readlink(visible); os.IsNotExist(err) {
			if err := os.Symlink(filepath.Join("..data", key), visible); err != nil {
				t.Fatal(err)
			}
		}
	}
	if oldTs != "" { // (6)
		if err := os.RemoveAll(filepath.Join(v.dir, oldTs)); err != nil {
			t.Fatal(err)
		}
	}
}

// kubeletConfig is a valid modelgate config whose version v1 has weight w,
// so each ConfigMap revision is told apart by what Load returns.
func kubeletConfig(w int) string {
	return fmt.Sprintf(`tenants:
  - name: acme
    api_keys: [{sha256: "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"}]
    models:
      - name: fraud
        versions:
          - {name: v1, weight: %d, endpoints: ["http://127.0.0.1:8001"]}
          - {name: v2, weight: 1, endpoints: ["http://127.0.0.1:8002"]}
`, w)
}

// TestWatchKubeletConfigMapSwap mounts a ConfigMap the way kubelet does
// (modelgate.yaml -> ..data/modelgate.yaml, ..data -> ..<timestamp>),
// watches the visible path as serve does, and swaps the data twice: each
// swap signals a change, and loading the visible path then gives the new
// content, even though modelgate.yaml itself (the symlink) never changes.
func TestWatchKubeletConfigMapSwap(t *testing.T) {
	vol := &kubeletVolume{dir: t.TempDir()}
	const key = "modelgate.yaml"
	vol.write(t, map[string]string{key: kubeletConfig(10), "other.txt": "x"})
	path := filepath.Join(vol.dir, key)
	if target, err := os.Readlink(path); err != nil || target != filepath.Join("..data", key) {
		t.Fatalf("visible file: got link %q (%v), want ..data/%s", target, err, key)
	}
	if cfg, err := Load(path); err != nil || cfg.Tenants[0].Models[0].Versions[0].Weight != 10 {
		t.Fatalf("initial load: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changes, err := Watch(ctx, path)
	if err != nil {
		t.Fatal(err)
	}

	for _, w := range []int{20, 30} {
		oldTs, err := os.Readlink(filepath.Join(vol.dir, "..data"))
		if err != nil {
			t.Fatal(err)
		}
		vol.write(t, map[string]string{key: kubeletConfig(w), "other.txt": "x"})
		if _, err := os.Stat(filepath.Join(vol.dir, oldTs)); !os.IsNotExist(err) {
			t.Fatalf("swap to weight %d: old directory %s still there (%v)", w, oldTs, err)
		}
		select {
		case <-changes:
		case <-time.After(5 * time.Second):
			t.Fatalf("swap to weight %d: no change signalled within 5s", w)
		}
		cfg, err := Load(path)
		if err != nil {
			t.Fatalf("swap to weight %d: load: %v", w, err)
		}
		if got := cfg.Tenants[0].Models[0].Versions[0].Weight; got != w {
			t.Errorf("swap to weight %d: loaded weight %v", w, got)
		}
	}
}
