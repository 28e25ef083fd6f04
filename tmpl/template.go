package tmpl

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/ezfs/ezfs/tmpl/internal/listfile"
	"github.com/ezfs/ezfs/tmpl/repo"
)

// Template is one parsed template config directory.
type Template struct {
	TemplateID
	Dir string // absolute path of the config directory

	Packages       []string
	PackageManager string   // base OS templates only
	Repositories   []string // own lines, before merging with the base
	Mirrorlist     []string
	Distribution   string
	Summary        string
	Description    string
	Environment    []string // KEY=value
	Version        string
	Release        string
	Scripts        map[string]string // script name -> absolute path
	Docs           []string          // other files
}

// Script names, as files in a config directory.
var ScriptNames = []string{"pre-cache", "post-cache", "pre-install", "post-install",
	"pre-upgrade", "post-upgrade", "pre-remove", "post-remove"}

// Package managers a base OS template may name.
var PackageManagers = []string{"dpkg", "tar"}

// ErrBadTemplate marks a template config that breaks a rule.
var ErrBadTemplate = errors.New("invalid template")

// LoadTemplate reads and checks the config directory dir of template id.
func LoadTemplate(dir string, id TemplateID) (*Template, error) {
	t := &Template{TemplateID: id, Dir: dir, Scripts: map[string]string{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", id.FullName(), err)
	}
	has := map[string]bool{}
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(dir, name)
		if e.IsDir() || strings.HasPrefix(name, ".") {
			continue
		}
		if !e.Type().IsRegular() {
			return nil, t.errorf(name, "is not a regular file")
		}
		has[name] = true
		if slices.Contains(ScriptNames, name) {
			t.Scripts[name] = path
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", id.FullName(), err)
		}
		switch name {
		case "packages":
			t.Packages, err = packageList(data)
		case "repositories":
			t.Repositories, err = listfile.Lines(data)
		case "mirrorlist":
			t.Mirrorlist, err = listfile.Lines(data)
		case "package_manager":
			t.PackageManager, err = oneWord(data)
		case "distribution":
			t.Distribution, err = oneWord(data)
		case "version":
			t.Version, err = oneWord(data)
		case "release":
			t.Release, err = oneWord(data)
		case "summary":
			t.Summary = strings.TrimSpace(string(listfile.StripComments(data)))
		case "description":
			t.Description = strings.TrimSpace(string(data))
		case "environment":
			var vars map[string]string
			var order []string
			vars, order, err = ParseShellVars(bytes.NewReader(data), filepath.Join(id.ConfigDir(), name))
			for _, k := range order {
				t.Environment = append(t.Environment, k+"="+vars[k])
			}
		default:
			t.Docs = append(t.Docs, name)
		}
		if err != nil {
			return nil, t.errorf(name, "%v", err)
		}
	}
	sort.Strings(t.Docs)
	if err := t.check(has); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Template) errorf(file, format string, args ...any) error {
	return fmt.Errorf("%w %s (%s): %s: %s", ErrBadTemplate, t.FullName(), t.Kind(),
		filepath.Join(t.ConfigDir(), file), fmt.Sprintf(format, args...))
}

// check enforces the rules of DESIGN.md on which files a template must
// and must not have.
func (t *Template) check(has map[string]bool) error {
	if !has["packages"] {
		return t.errorf("packages", "missing; every template lists its packages (an empty file will do)")
	}
	if t.Kind() == OSBase {
		if !has["package_manager"] {
			return t.errorf("package_manager", "missing; a base OS template names its package manager (%s)", strings.Join(PackageManagers, " or "))
		}
		if !slices.Contains(PackageManagers, t.PackageManager) {
			return t.errorf("package_manager", "unknown package manager %q (want %s)", t.PackageManager, strings.Join(PackageManagers, " or "))
		}
		if !has["repositories"] && !has["mirrorlist"] {
			return t.errorf("repositories", "missing; a base OS template needs repositories or a mirrorlist")
		}
		if len(t.Repositories) == 0 && len(t.Mirrorlist) == 0 {
			return t.errorf("repositories", "lists no repository, and there is no mirrorlist that does")
		}
		return nil
	}
	for _, f := range []string{"package_manager", "distribution"} {
		if has[f] {
			return t.errorf(f, "only a base OS template may have it (%s has it from %s); remove the file", t.Name(), t.Base().Name())
		}
	}
	return nil
}

// packageList reads a packages file as vzpkg does: names separated by
// blanks, several on a line; a version restriction in parentheses and
// "|" alternatives stay with their name ("nginx (>= 1.22) | apache2").
// Every name is checked; an error names the line.
func packageList(data []byte) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(listfile.StripComments(data)))
	for n := 1; sc.Scan(); n++ {
		items, err := splitPackageLine(sc.Text())
		if err == nil {
			for _, it := range items {
				if _, err = repo.ParseRelations(it); err != nil {
					break
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, items...)
	}
	return out, sc.Err()
}

// splitPackageLine splits one line of a packages file into relations.
func splitPackageLine(line string) ([]string, error) {
	var items []string
	var cur strings.Builder
	alt := false // the last token was "|": the next name joins cur
	for rest := strings.TrimSpace(line); rest != ""; rest = strings.TrimLeft(rest, " \t,") {
		var tok string
		switch rest[0] {
		case '(', '[', '<':
			closing := map[byte]string{'(': ")", '[': "]", '<': ">"}[rest[0]]
			j := strings.Index(rest, closing)
			if j < 0 {
				return nil, fmt.Errorf("%q: %q has no %q", line, rest, closing)
			}
			tok, rest = rest[:j+1], rest[j+1:]
			if cur.Len() == 0 || alt {
				return nil, fmt.Errorf("%q: %s belongs after a package name", line, tok)
			}
			cur.WriteString(" " + tok)
			continue
		case '|':
			if cur.Len() == 0 || alt {
				return nil, fmt.Errorf("%q: \"|\" belongs between two package names", line)
			}
			cur.WriteString(" |")
			alt, rest = true, rest[1:]
			continue
		}
		j := strings.IndexAny(rest, " \t,([<|")
		if j < 0 {
			j = len(rest)
		}
		tok, rest = rest[:j], rest[j:]
		if tok == "" {
			continue
		}
		switch {
		case alt:
			cur.WriteString(" " + tok)
			alt = false
		default:
			if cur.Len() > 0 {
				items = append(items, cur.String())
				cur.Reset()
			}
			cur.WriteString(tok)
		}
	}
	if alt {
		return nil, fmt.Errorf("%q: \"|\" at the end of the line", line)
	}
	if cur.Len() > 0 {
		items = append(items, cur.String())
	}
	return items, nil
}

func oneWord(data []byte) (string, error) {
	lines, err := listfile.Lines(data)
	if err != nil {
		return "", err
	}
	if len(lines) != 1 || strings.ContainsAny(lines[0], " \t") {
		return "", fmt.Errorf("want one word, got %q", strings.Join(lines, "\\n"))
	}
	return lines[0], nil
}
