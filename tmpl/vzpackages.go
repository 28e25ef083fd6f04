package tmpl

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ezfs/ezfs/internal/atfile"
	"github.com/ezfs/ezfs/tmpl/repo"
	"golang.org/x/sys/unix"
)

// PkgLine is one line of templates/vzpackages: a package linked into the
// container, with the template that brought it.
type PkgLine struct {
	Name, Version, Arch, Template string
}

// Key is the package's directory name in the area.
func (l PkgLine) Key() string {
	return l.Name + "_" + strings.ReplaceAll(l.Version, ":", "%3a") + "_" + l.Arch
}

// ReadVZPackages parses a vzpackages file; name is for errors.
func ReadVZPackages(r io.Reader, name string) ([]PkgLine, error) {
	var out []PkgLine
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 4 {
			return nil, fmt.Errorf("%s:%d: want \"name version arch template\", got %q", name, n, line)
		}
		if err := repo.CheckKey(f[0], f[1], f[2]); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		out = append(out, PkgLine{f[0], f[1], f[2], f[3]})
	}
	return out, sc.Err()
}

// LoadVZPackages reads the vzpackages of the private area private.
func LoadVZPackages(private string) ([]PkgLine, error) {
	f, err := os.OpenFile(filepath.Join(private, VZPackagesFile), os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadVZPackages(f, filepath.Join(private, VZPackagesFile))
}

// SaveVZPackages writes the list through a temporary file and a rename.
func SaveVZPackages(private string, lines []PkgLine) error {
	lines = append([]PkgLine(nil), lines...)
	sort.Slice(lines, func(i, j int) bool { return lines[i].Name < lines[j].Name })
	var b bytes.Buffer
	b.WriteString("# packages linked into this container: name version arch template\n")
	for _, l := range lines {
		fmt.Fprintf(&b, "%s %s %s %s\n", l.Name, l.Version, l.Arch, l.Template)
	}
	p := filepath.Join(private, VZPackagesFile)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atfile.WriteFile(p, b.Bytes(), 0o644)
}
