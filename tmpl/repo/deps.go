package repo

import (
	"fmt"
	"strings"

	debversion "github.com/knqyf263/go-deb-version"
)

// Relation is one alternative of a dependency: "name:arch (op version)".
type Relation struct {
	Name    string
	Arch    string // qualifier after ":", e.g. "any"; not used for matching
	Op      string // "", "<<", "<=", "=", ">=", ">>"
	Version string
}

func (r Relation) String() string {
	s := r.Name
	if r.Op != "" {
		s += " (" + r.Op + " " + r.Version + ")"
	}
	return s
}

// Clause is a list of alternatives ("a | b"); a dependency field is a list
// of clauses, all of which must hold.
type Clause []Relation

func (c Clause) String() string {
	parts := make([]string, len(c))
	for i, r := range c {
		parts[i] = r.String()
	}
	return strings.Join(parts, " | ")
}

// ParseRelations parses a Depends-style field: "a (>= 1), b | c:any, d [amd64]".
// Architecture restrictions in brackets and build profiles in angle
// brackets are dropped: binary indexes do not carry them.
func ParseRelations(field string) ([]Clause, error) {
	var out []Clause
	field = strings.ReplaceAll(field, "\n", " ")
	for _, part := range strings.Split(field, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		var clause Clause
		for _, alt := range strings.Split(part, "|") {
			r, err := parseRelation(strings.TrimSpace(alt))
			if err != nil {
				return nil, fmt.Errorf("dependency %q: %w", part, err)
			}
			clause = append(clause, r)
		}
		out = append(out, clause)
	}
	return out, nil
}

func parseRelation(s string) (Relation, error) {
	// Restrictions follow the version: "name (op ver) [arch] <profile>".
	if j := strings.IndexByte(s, ')'); j >= 0 {
		s = s[:j+1]
	} else if i := strings.IndexAny(s, "[<"); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	var r Relation
	name := s
	if i := strings.IndexByte(s, '('); i >= 0 {
		j := strings.IndexByte(s, ')')
		if j < i {
			return r, fmt.Errorf("unbalanced parenthesis in %q", s)
		}
		name = strings.TrimSpace(s[:i])
		cons := strings.TrimSpace(s[i+1 : j])
		for _, op := range []string{"<<", "<=", ">=", ">>", "=", "<", ">"} {
			if strings.HasPrefix(cons, op) {
				r.Op, r.Version = op, strings.TrimSpace(cons[len(op):])
				break
			}
		}
		switch r.Op {
		case "<":
			r.Op = "<="
		case ">":
			r.Op = ">="
		case "":
			return r, fmt.Errorf("no operator in %q", cons)
		}
		if !debversion.Valid(r.Version) {
			return r, fmt.Errorf("bad version %q", r.Version)
		}
	}
	name, r.Arch, _ = strings.Cut(name, ":")
	if err := checkPackageName(name); err != nil {
		return r, err
	}
	if r.Arch != "" {
		if err := checkArch(r.Arch); err != nil {
			return r, err
		}
	}
	r.Name = name
	return r, nil
}

// CompareVersions orders Debian versions (epochs, ~, revisions).
func CompareVersions(a, b string) int {
	va, errA := debversion.NewVersion(a)
	vb, errB := debversion.NewVersion(b)
	if errA != nil || errB != nil {
		return strings.Compare(a, b)
	}
	switch c := va.Compare(vb); {
	case c < 0:
		return -1
	case c > 0:
		return 1
	}
	return 0
}

// ValidVersion reports whether v is a Debian version.
func ValidVersion(v string) bool { return debversion.Valid(v) }

// Matches reports whether version satisfies the relation's constraint.
func (r Relation) Matches(version string) bool {
	if r.Op == "" {
		return true
	}
	c := CompareVersions(version, r.Version)
	switch r.Op {
	case "<<":
		return c < 0
	case "<=":
		return c <= 0
	case "=":
		return c == 0
	case ">=":
		return c >= 0
	case ">>":
		return c > 0
	}
	return false
}
