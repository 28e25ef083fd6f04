package tmpl

import (
	"bytes"
	"context"
	"os"
	"os/exec"

	"github.com/ezfs/ezfs/tmpl/repo"
)

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
		return &repo.ScriptError{Template: t.FullName(), Script: script, Err: err, Output: out.String()}
	}
	return nil
}
