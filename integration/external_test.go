//go:build workloads

package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// external runs a host program in its own process group with a hard
// timeout, and returns its output and exit status (-1: killed on timeout).
func external(dir string, timeout time.Duration, name string, args ...string) (string, int) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(out), -1
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		return err.Error(), -2
	}
	return string(out), 0
}

// stressGaps are the stressors that run on the host's disk and skip
// themselves on ezfs, with the reason; any other is a failure.
var stressGaps = map[string]string{
	"fiemap": "FUSE forwards only ioctls of a fixed size, FS_IOC_FIEMAP's reply is not",
}

// TestStressNGFilesystem runs every stressor of stress-ng's filesystem
// class with --verify, one at a time, on the host's temporary directory
// and then on an ezfs mount: a stressor that passes there must pass on
// ezfs. Those the host refuses or skips (no binderfs, no fs-verity...)
// are named and left out.
func TestStressNGFilesystem(t *testing.T) {
	requireTool(t, "stress-ng")
	c := newCT(t, files{"usr/share/lower.txt": "a template file\n"}, nil)
	c.mount(t)
	native := t.TempDir()
	list, code := external("", 30*time.Second, "stress-ng", "--class", "filesystem?")
	_, names, ok := strings.Cut(list, "stressors:")
	if !ok {
		t.Fatalf("stress-ng --class filesystem? (status %d): %s", code, list)
	}
	var passed, refused, gaps []string
	for _, s := range strings.Fields(names) {
		run := func(dir string) (string, int) {
			work := filepath.Join(dir, "sng-"+s)
			if err := os.Mkdir(work, 0o755); err != nil {
				return err.Error(), -2 // not t.Fatal: the host's run is on another goroutine
			}
			defer os.RemoveAll(work)
			return external(work, 60*time.Second, "stress-ng", "--"+s, "1", "--timeout", "1s", "--verify",
				"--temp-path", work, "--metrics-brief")
		}
		// The host's run and ezfs's at once: half the wall time, and
		// each stops after its --timeout whatever the other does.
		start := time.Now()
		var hostOut string
		var hostCode int
		done := make(chan struct{})
		go func() { hostOut, hostCode = run(native); close(done) }()
		out, code := run(c.mnt)
		<-done
		t.Logf("TIMING stress-ng %s: %v", s, time.Since(start).Round(10*time.Millisecond))
		if hostCode != 0 || strings.Contains(hostOut, "skipping") {
			refused = append(refused, fmt.Sprintf("%s (%d)", s, hostCode))
			continue
		}
		switch {
		case code != 0:
			t.Errorf("stress-ng --%s --verify passes on the host's disk, fails on ezfs (status %d):\n%s", s, code, out)
		case strings.Contains(out, "skipping") && stressGaps[s] != "":
			gaps = append(gaps, s+": "+stressGaps[s])
		case strings.Contains(out, "skipping"):
			t.Errorf("stress-ng --%s runs on the host's disk, ezfs makes it skip:\n%s", s, out)
		default:
			passed = append(passed, s)
		}
	}
	for _, g := range gaps {
		t.Logf("REPORT stress-ng: known gap, skipped on ezfs: %s", g)
	}
	t.Logf("REPORT stress-ng: %d stressors pass on ezfs as on the host: %s", len(passed), strings.Join(passed, " "))
	t.Logf("REPORT stress-ng: the host's disk refuses (exit status): %s", strings.Join(refused, " "))
	if len(passed) < 30 {
		t.Errorf("only %d stressors ran: the host refused %v", len(passed), refused)
	}
}

// fioVerify is a mixed random read/write job whose every written block
// is checked with crc32c, through read/write and through a shared mmap,
// by two jobs at once on separate files.
const fioVerify = `[global]
size=24m
bsrange=512-64k
verify=crc32c
verify_fatal=1
do_verify=1
fsync_on_close=1
group_reporting=1

[randrw-psync]
ioengine=psync
rw=randrw
rwmixread=40

[randwrite-mmap]
ioengine=mmap
rw=randwrite
bs=4k
`

// TestFioVerify runs the fio verify job on a mount with FUSE passthrough
// and on one without (reads and writes served by the daemon).
func TestFioVerify(t *testing.T) {
	requireTool(t, "fio")
	for _, mode := range []struct {
		name  string
		flags []string
	}{{"passthrough", nil}, {"no-passthrough", []string{"--no-passthrough"}}} {
		t.Run(mode.name, func(t *testing.T) {
			c := newCT(t, nil, nil)
			c.mount(t, mode.flags...)
			job := filepath.Join(c.mnt, "verify.fio")
			must(t, os.WriteFile(job, []byte(fioVerify), 0o644))
			start := time.Now()
			out, code := external(c.mnt, 3*time.Minute, "fio", "--output-format=normal", job)
			t.Logf("TIMING fio %s: %v", mode.name, time.Since(start).Round(10*time.Millisecond))
			if code != 0 || strings.Contains(out, "verify:") && strings.Contains(out, "bad") {
				t.Fatalf("fio verify on ezfs (%s), status %d:\n%s", mode.name, code, out)
			}
			if !strings.Contains(out, "randrw-psync") {
				t.Errorf("fio did not run the job: %s", out)
			}
			for _, l := range strings.Split(out, "\n") {
				if strings.Contains(l, "READ:") || strings.Contains(l, "WRITE:") {
					t.Logf("REPORT fio %s: %s", mode.name, strings.TrimSpace(l))
				}
			}
		})
	}
}
