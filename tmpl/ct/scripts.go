package ct

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"

	"github.com/ezfs/ezfs/internal/atfile"
	"github.com/ezfs/ezfs/tmpl"
	"github.com/ezfs/ezfs/tmpl/repo"
)

// runScripts runs a script of each template inside the container.
func (ct *CT) runScripts(ctx context.Context, ts []*tmpl.Template, script string, env []string, opts Options) error {
	runs := tmpl.WithScript(ts, script)
	if len(runs) == 0 {
		return nil
	}
	if opts.InContainer == nil {
		return fmt.Errorf("container %s: %s has a %s script but there is no way to enter the container", ct.ID, runs[0].FullName(), script)
	}
	return opts.InContainer(func(root string) error {
		for _, t := range runs {
			if err := runInContainer(ctx, root, ct.ID, t, script, env); err != nil {
				return err
			}
		}
		return nil
	})
}

// runInContainer copies a template script into the mounted container and
// runs it there in a chroot, with the environment.
func runInContainer(ctx context.Context, root, ctid string, t *tmpl.Template, script string, env []string) error {
	data, err := os.ReadFile(t.Scripts[script])
	if err != nil {
		return err
	}
	// The script goes to the container's /tmp as the chroot will see it:
	// resolved inside the container (its symlinks lead into it, never to
	// the host), created new (O_EXCL|O_NOFOLLOW).
	rel := "tmp/" + fmt.Sprintf(".ezfs-%s-%d", script, os.Getpid())
	r, err := atfile.OpenRoot(root)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := r.MkdirAll("tmp", 0o1777); err != nil {
		return fmt.Errorf("container %s: cannot copy the %s script into its /tmp: %w", ctid, script, err)
	}
	r.Remove(rel) // left by an earlier run of this pid
	if err := r.Create(rel, data, 0o700); err != nil {
		return fmt.Errorf("container %s: cannot copy the %s script into its /tmp: %w", ctid, script, err)
	}
	defer r.Remove(rel)
	cmd := exec.CommandContext(ctx, "chroot", root, "/"+rel)
	cmd.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "VEID=" + ctid, "CTID=" + ctid, "HOME=/root"}, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return &repo.ScriptError{Template: t.FullName(), Script: script, Err: err, Output: out.String()}
	}
	return nil
}

func (ct *CT) invalidate(opts Options, rep *Report) {
	if opts.Invalidate != nil && rep != nil && len(rep.Changed) > 0 {
		paths := append(append([]string(nil), rep.Changed...), rep.New...)
		if err := opts.Invalidate(paths); err != nil && opts.Reporter != nil {
			opts.Reporter.Step("warning: container %s: could not invalidate the mount's caches: %v", ct.ID, err)
		}
	}
}
