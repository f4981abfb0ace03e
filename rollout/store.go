package rollout

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// Store keeps every rollout's State in one JSON file, DIR/rollouts.json,
// replaced atomically (written to a temporary file, synced, renamed over
// it, the directory synced): after a crash it holds the last Save in
// full, never a mix. States change a few times per step, so rewriting
// the whole file is cheap.
type Store struct {
	path string
}

// storeFile is the file's shape.
type storeFile struct {
	Version  int      `json:"version"`
	Rollouts []*State `json:"rollouts"`
}

const storeVersion = 1

// OpenStore returns the store of dir (created if missing).
func OpenStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &Store{path: filepath.Join(dir, "rollouts.json")}, nil
}

// Path is the file's path.
func (s *Store) Path() string { return s.path }

// Load returns the saved states; none when the file does not exist.
func (s *Store) Load() ([]*State, error) {
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var f storeFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", s.path, err)
	}
	if f.Version != storeVersion {
		return nil, fmt.Errorf("%s: unknown version %d", s.path, f.Version)
	}
	return f.Rollouts, nil
}

// Save replaces the file with states (sorted by tenant and model).
func (s *Store) Save(states []*State) error {
	sort.Slice(states, func(i, j int) bool {
		if states[i].Tenant != states[j].Tenant {
			return states[i].Tenant < states[j].Tenant
		}
		return states[i].Model < states[j].Model
	})
	b, err := json.Marshal(storeFile{Version: storeVersion, Rollouts: states})
	if err != nil {
		return err
	}
	dir := filepath.Dir(s.path)
	tmp, err := os.CreateTemp(dir, ".rollouts-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename: not found, ignored
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
