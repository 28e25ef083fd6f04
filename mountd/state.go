package mountd

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/ezfs/ezfs/internal/atfile"
)

// Record is one mount the daemon should hold.
type Record struct {
	ID            string `json:"id,omitempty"` // container id, if it is one
	Template      string `json:"template"`     // the template area
	Private       string `json:"private"`      // the private tree (root/ of a private area)
	Mountpoint    string `json:"mountpoint"`
	NoPassthrough bool   `json:"no_passthrough,omitempty"`
	NoSetuid      bool   `json:"nosuid,omitempty"`
	NoDevices     bool   `json:"nodev,omitempty"`
	Debug         bool   `json:"debug,omitempty"` // trace FUSE requests of this mount
}

func (r *Record) check() error {
	for _, p := range []struct{ what, path string }{{"template", r.Template}, {"private", r.Private}, {"mountpoint", r.Mountpoint}} {
		if !filepath.IsAbs(p.path) || filepath.Clean(p.path) != p.path {
			return fmt.Errorf("%w: %s %q is not a clean absolute path", ErrBadRequest, p.what, p.path)
		}
	}
	return nil
}

func loadState(path string) ([]Record, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var recs []Record
	if err := json.Unmarshal(data, &recs); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return recs, nil
}

// saveState writes the records beside the state file and renames the
// result over it: a crash leaves the old list or the new one.
func saveState(path string, recs []Record) error {
	recs = append([]Record(nil), recs...)
	sort.Slice(recs, func(i, j int) bool { return recs[i].Mountpoint < recs[j].Mountpoint })
	data, err := json.MarshalIndent(recs, "", "  ")
	if err != nil {
		return err
	}
	return atfile.WriteFile(path, append(data, '\n'), 0o600)
}
