package repo

import (
	"fmt"
	"strings"
)

// ScriptError is a script that failed, with what it printed: a
// template's script, or a package's maintainer script (Template "dpkg").
type ScriptError struct {
	Template, Script string
	Err              error
	Output           string
}

func (e *ScriptError) Error() string {
	out := strings.TrimSpace(e.Output)
	if lines := strings.Split(out, "\n"); len(lines) > 20 {
		out = "...\n" + strings.Join(lines[len(lines)-20:], "\n")
	}
	if out == "" {
		out = "(no output)"
	}
	return fmt.Sprintf("template %s: script %s failed (%v); it printed:\n%s", e.Template, e.Script, e.Err, out)
}
