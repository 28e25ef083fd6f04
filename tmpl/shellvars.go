package tmpl

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// ParseShellVars reads KEY=value lines as a shell would for the simple
// files of this format (vz.conf, ve.conf, environment): "#" comments,
// blank lines, values optionally in single or double quotes, an optional
// leading "export". It runs nothing and expands nothing.
func ParseShellVars(r io.Reader, name string) (map[string]string, []string, error) {
	vars := map[string]string{}
	var order []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimSpace(strings.TrimPrefix(line, "export "))
		key, value, ok := strings.Cut(line, "=")
		if !ok || !validKey(key) {
			return nil, nil, fmt.Errorf("%s:%d: want KEY=value, got %q", name, n, line)
		}
		v, err := unquote(value)
		if err != nil {
			return nil, nil, fmt.Errorf("%s:%d: %v", name, n, err)
		}
		if _, seen := vars[key]; !seen {
			order = append(order, key)
		}
		vars[key] = v
	}
	return vars, order, sc.Err()
}

func validKey(k string) bool {
	if k == "" {
		return false
	}
	for i, c := range k {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// unquote takes a value as it stands after "=": bare, "double" or
// 'single' quoted, with a trailing comment after a closing quote or
// after whitespace in a bare value.
func unquote(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	switch q := v[0]; q {
	case '"', '\'':
		var b strings.Builder
		for i := 1; i < len(v); i++ {
			c := v[i]
			if c == q {
				rest := strings.TrimSpace(v[i+1:])
				if rest != "" && !strings.HasPrefix(rest, "#") {
					return "", fmt.Errorf("text after closing quote: %q", rest)
				}
				return b.String(), nil
			}
			if q == '"' && c == '\\' && i+1 < len(v) && strings.IndexByte(`"\$`+"`", v[i+1]) >= 0 {
				i++
				c = v[i]
			}
			b.WriteByte(c)
		}
		return "", fmt.Errorf("unterminated quote in %q", v)
	}
	if i := strings.IndexAny(v, " \t"); i >= 0 {
		rest := strings.TrimSpace(v[i:])
		if !strings.HasPrefix(rest, "#") {
			return "", fmt.Errorf("unquoted value with spaces: %q (quote it)", v)
		}
		v = v[:i]
	}
	return v, nil
}

// FormatShellVar writes KEY="value" so that ParseShellVars reads value back.
func FormatShellVar(key, value string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`, "`", "\\`")
	return key + `="` + r.Replace(value) + `"`
}
