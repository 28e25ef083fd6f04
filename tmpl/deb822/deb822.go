// Package deb822 reads and writes Debian control stanzas (deb822): the
// format of control files, Packages indexes, Release files, dpkg's status
// and .sources files. Fields keep their order; continuation lines are
// joined by "\n" in the value and written back the way dpkg writes them.
package deb822

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Field is one field of a Debian control stanza.
type Field struct{ Name, Value string }

// Stanza is one paragraph of a Debian control file (deb822): fields in
// order; continuation lines are kept in the value, joined by "\n".
type Stanza []Field

// Get returns a field's value; names compare case-insensitively.
func (s Stanza) Get(name string) string {
	for _, f := range s {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// Set replaces or appends a field.
func (s *Stanza) Set(name, value string) {
	for i, f := range *s {
		if strings.EqualFold(f.Name, name) {
			(*s)[i].Value = value
			return
		}
	}
	*s = append(*s, Field{name, value})
}

// maxStanzaLine bounds one line of an index (long Description fields are
// many lines, not one).
const maxStanzaLine = 1 << 20

// Parse reads the stanzas of a control file or Packages index.
// name is for errors.
func Parse(r io.Reader, name string) ([]Stanza, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxStanzaLine)
	var out []Stanza
	var cur Stanza
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			if len(cur) > 0 {
				out = append(out, cur)
				cur = nil
			}
		case strings.HasPrefix(line, "#"):
		case line[0] == ' ' || line[0] == '\t':
			if len(cur) == 0 {
				return nil, fmt.Errorf("%s:%d: continuation line with no field before it", name, n)
			}
			cur[len(cur)-1].Value += "\n" + line[1:]
		default:
			k, v, ok := strings.Cut(line, ":")
			if !ok || k == "" || strings.ContainsAny(k, " \t") {
				return nil, fmt.Errorf("%s:%d: want \"Field: value\", got %q", name, n, line)
			}
			cur = append(cur, Field{k, strings.TrimSpace(v)})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out, nil
}

// Write writes s followed by a blank line.
func Write(w io.Writer, s Stanza) error {
	var b strings.Builder
	for _, f := range s {
		b.WriteString(f.Name)
		b.WriteString(":")
		for i, line := range strings.Split(f.Value, "\n") {
			if i > 0 {
				b.WriteString("\n ")
				if line == "" {
					line = "."
				}
			} else if line != "" {
				b.WriteString(" ")
			}
			b.WriteString(line)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}
