package tmpl

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// ScriptError is a template script that failed, with what it printed.
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

// runScript runs a template script as SCRIPT VE_ROOT CTID with the
// template's environment.
func runScript(ctx context.Context, t *Template, script, veRoot, ctid string, env []string) error {
	p, ok := t.Scripts[script]
	if !ok {
		return nil
	}
	cmd := exec.CommandContext(ctx, p, veRoot, ctid)
	cmd.Env = append(append(os.Environ(), env...), "VE_ROOT="+veRoot, "VEID="+ctid, "CTID="+ctid)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return &ScriptError{Template: t.FullName(), Script: script, Err: err, Output: out.String()}
	}
	return nil
}
