package apt

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ezfs/ezfs/tmpl/deb822"
	"github.com/ezfs/ezfs/tmpl/internal/listfile"
	"github.com/ezfs/ezfs/tmpl/repo"
)

// Where the host keeps its apt configuration; a variable for tests.
var HostDir = "/etc/apt"

// ParseAptLine reads a sources.list line: "deb [opt=value ...] URI SUITE
// [COMPONENT...]". A flat repository has the suite "./" (or any path
// ending in "/") and no components.
func ParseAptLine(line string) (*repo.Source, error) {
	f := strings.Fields(line)
	if len(f) == 0 || f[0] != "deb" {
		return nil, fmt.Errorf("apt repository %q: want \"deb [options] URI SUITE COMPONENT...\" (deb-src lines are not used)", line)
	}
	f = f[1:]
	opts := map[string]string{}
	if len(f) > 0 && strings.HasPrefix(f[0], "[") {
		var optWords []string
		for len(f) > 0 {
			w := f[0]
			f = f[1:]
			optWords = append(optWords, strings.Trim(w, "[]"))
			if strings.HasSuffix(w, "]") {
				break
			}
		}
		for _, o := range strings.Fields(strings.Join(optWords, " ")) {
			k, v, ok := strings.Cut(o, "=")
			if !ok {
				return nil, fmt.Errorf("apt repository %q: option %q is not key=value", line, o)
			}
			opts[strings.ToLower(k)] = v
		}
	}
	if len(f) < 2 {
		return nil, fmt.Errorf("apt repository %q: want a URI and a suite", line)
	}
	s := &repo.Source{Line: line, URI: strings.TrimSuffix(f[0], "/"), Suite: f[1], Components: f[2:], Options: opts}
	if err := repo.CheckURI(s.URI); err != nil {
		return nil, err
	}
	if s.Flat() && len(s.Components) > 0 {
		return nil, fmt.Errorf("apt repository %q: a flat repository (suite ending in /) has no components", line)
	}
	if !s.Flat() && len(s.Components) == 0 {
		return nil, fmt.Errorf("apt repository %q: name at least one component (main)", line)
	}
	return s, nil
}

// HostSources reads the host's own apt sources, in both formats:
// sources.list and sources.list.d/*.list (one line each) and
// sources.list.d/*.sources (deb822). Disabled entries are skipped.
func HostSources() ([]*repo.Source, error) {
	var out []*repo.Source
	files := []string{filepath.Join(HostDir, "sources.list")}
	more, _ := filepath.Glob(filepath.Join(HostDir, "sources.list.d", "*"))
	sort.Strings(more)
	files = append(files, more...)
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		switch {
		case strings.HasSuffix(p, ".sources"):
			ss, err := parseDeb822Sources(data, p)
			if err != nil {
				return nil, err
			}
			out = append(out, ss...)
		case strings.HasSuffix(p, ".list"):
			lines, _ := listfile.Lines(data)
			for _, l := range lines {
				if !strings.HasPrefix(l, "deb ") && !strings.HasPrefix(l, "deb\t") {
					continue
				}
				s, err := ParseAptLine(l)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", p, err)
				}
				out = append(out, s)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("repository \"host\": this host has no apt sources in %s", HostDir)
	}
	return out, nil
}

// parseDeb822Sources reads a .sources file: stanzas of Types, URIs,
// Suites, Components, Signed-By, Architectures, Trusted, Enabled.
func parseDeb822Sources(data []byte, name string) ([]*repo.Source, error) {
	stanzas, err := deb822.Parse(bytes.NewReader(data), name)
	if err != nil {
		return nil, err
	}
	var out []*repo.Source
	for _, st := range stanzas {
		if strings.EqualFold(st.Get("Enabled"), "no") || !strings.Contains(" "+st.Get("Types")+" ", " deb ") {
			continue
		}
		opts := map[string]string{}
		if v := st.Get("Signed-By"); v != "" {
			if strings.Contains(v, "BEGIN PGP") {
				opts["signed-by-inline"] = v
			} else {
				opts["signed-by"] = strings.Join(strings.Fields(v), ",")
			}
		}
		if v := st.Get("Architectures"); v != "" {
			opts["arch"] = strings.Join(strings.Fields(v), ",")
		}
		if strings.EqualFold(st.Get("Trusted"), "yes") {
			opts["trusted"] = "yes"
		}
		for _, uri := range strings.Fields(st.Get("URIs")) {
			for _, suite := range strings.Fields(st.Get("Suites")) {
				s := &repo.Source{Line: fmt.Sprintf("%s: %s %s", name, uri, suite), URI: strings.TrimSuffix(uri, "/"),
					Suite: suite, Components: strings.Fields(st.Get("Components")), Options: opts}
				if err := repo.CheckURI(s.URI); err != nil {
					return nil, fmt.Errorf("%s: %w", name, err)
				}
				out = append(out, s)
			}
		}
	}
	return out, nil
}
