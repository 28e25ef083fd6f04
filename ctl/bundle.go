package ctl

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ezfs/ezfs/internal/nsexec"
	"github.com/urfave/cli/v2"
)

var bundleCommand = &cli.Command{
	Name:      "bundle",
	Usage:     "write an OCI runtime bundle (DIR/config.json) whose rootfs is the mounted container, for runc run",
	ArgsUsage: "CTID DIR [-- CMD...]",
	Flags:     []cli.Flag{netFlag},
	Action:    runBundle,
}

// The OCI runtime spec, as much of it as a bundle of ours fills in.
type ociSpec struct {
	Version  string     `json:"ociVersion"`
	Process  ociProcess `json:"process"`
	Root     ociRoot    `json:"root"`
	Hostname string     `json:"hostname"`
	Mounts   []ociMount `json:"mounts"`
	Linux    ociLinux   `json:"linux"`
}

type ociProcess struct {
	Terminal     bool                      `json:"terminal"`
	User         struct{ UID, GID uint32 } `json:"user"`
	Args         []string                  `json:"args"`
	Env          []string                  `json:"env"`
	Cwd          string                    `json:"cwd"`
	Capabilities map[string][]string       `json:"capabilities"`
}

type ociRoot struct {
	Path     string `json:"path"`
	Readonly bool   `json:"readonly"`
}

type ociMount struct {
	Destination string   `json:"destination"`
	Type        string   `json:"type"`
	Source      string   `json:"source"`
	Options     []string `json:"options"`
}

type ociNamespace struct {
	Type string `json:"type"`
}

type ociLinux struct {
	Namespaces    []ociNamespace `json:"namespaces"`
	MaskedPaths   []string       `json:"maskedPaths"`
	ReadonlyPaths []string       `json:"readonlyPaths"`
}

// bundleCaps are what a system container's root needs to manage its own
// files, users and services (the set Docker gives by default): not the
// host's whole root.
var bundleCaps = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
	"CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// bundleSpec is exec's environment in OCI terms: the same namespaces,
// the same /proc, read-only /sys and minimal /dev (the runtime makes
// the device nodes), the container's hostname and environment.
func bundleSpec(spec nsexec.Spec) ociSpec {
	s := ociSpec{Version: "1.0.2", Root: ociRoot{Path: spec.Root}, Hostname: spec.Hostname}
	s.Process = ociProcess{Args: spec.Args, Env: spec.Env, Cwd: "/",
		Capabilities: map[string][]string{"bounding": bundleCaps, "effective": bundleCaps, "permitted": bundleCaps}}
	s.Mounts = []ociMount{
		{"/proc", "proc", "proc", []string{"nosuid", "noexec", "nodev"}},
		{"/dev", "tmpfs", "tmpfs", []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{"/dev/pts", "devpts", "devpts", []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{"/dev/shm", "tmpfs", "shm", []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{"/dev/mqueue", "mqueue", "mqueue", []string{"nosuid", "noexec", "nodev"}},
		{"/sys", "sysfs", "sysfs", []string{"nosuid", "noexec", "nodev", "ro"}},
	}
	for _, ns := range []string{"pid", "ipc", "uts", "mount"} {
		s.Linux.Namespaces = append(s.Linux.Namespaces, ociNamespace{ns})
	}
	if spec.Net == nsexec.NetNone {
		s.Linux.Namespaces = append(s.Linux.Namespaces, ociNamespace{"network"})
	}
	s.Linux.MaskedPaths = []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug", "/sys/firmware"}
	s.Linux.ReadonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
	return s
}

func runBundle(c *cli.Context) error {
	if c.NArg() < 2 {
		return fmt.Errorf("bundle: want a CTID and a directory: ezctl bundle CTID DIR [-- CMD...]")
	}
	args := c.Args().Slice()[2:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		args = []string{"/bin/sh"}
	}
	dir := c.Args().Get(1)
	_, spec, err := ctSpec(c, "bundle")
	if err != nil {
		return err
	}
	spec.Args = args
	data, err := json.MarshalIndent(bundleSpec(spec), "", "\t")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	p := filepath.Join(dir, "config.json")
	tmp, err := os.CreateTemp(dir, ".config.json-*")
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("bundle: write %s: %w", p, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("bundle: write %s: %w", p, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	fmt.Printf("wrote %s; run it with: runc run -b %s ct%s (the container stays mounted meanwhile)\n", p, dir, c.Args().First())
	return nil
}
