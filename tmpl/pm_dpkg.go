package tmpl

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ezfs/ezfs/fs"
	"golang.org/x/sys/unix"
)

// dpkgManager installs Debian packages from apt repositories.
type dpkgManager struct{}

func (dpkgManager) ParseSource(line string) ([]*Source, error) {
	if strings.TrimSpace(line) == "host" {
		return HostSources()
	}
	s, err := ParseAptLine(line)
	if err != nil {
		return nil, err
	}
	return []*Source{s}, nil
}

func (dpkgManager) LoadIndex(ctx context.Context, j *job, sources []*Source) (*Index, error) {
	ix := NewIndex(j.arch)
	for _, s := range sources {
		if archs := s.Options["arch"]; archs != "" && !slices.Contains(strings.Split(archs, ","), j.arch) {
			continue
		}
		j.rep.Step("reading %s %s", s.URI, s.Suite)
		rel, err := j.loadRelease(ctx, s)
		if err != nil {
			return nil, err
		}
		if s.flat() {
			if err := j.loadPackages(ctx, s, rel, "", ix); err != nil {
				return nil, err
			}
			continue
		}
		for _, c := range s.Components {
			if err := j.loadPackages(ctx, s, rel, c, ix); err != nil {
				return nil, err
			}
		}
	}
	return ix, nil
}

func (dpkgManager) Unpack(archive string, dstfd int, dst string) (Stanza, []Entry, error) {
	return unpackDeb(archive, dstfd, dst)
}

// Base is Debian's base system: every package of Priority required.
func (dpkgManager) Base(ix *Index) []string { return ix.Required() }

// mergedUsr are the links of a merged-/usr Debian system, made before
// any package is laid out, as debootstrap does.
var mergedUsr = map[string]string{"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib", "lib64": "usr/lib64"}

func (dpkgManager) PrepareRoot(rootfd int) error {
	if err := unix.Mkdirat(rootfd, "usr", 0o755); err != nil && err != unix.EEXIST {
		return err
	}
	for l, target := range mergedUsr {
		if err := unix.Mkdirat(rootfd, target, 0o755); err != nil && err != unix.EEXIST {
			return err
		}
		if err := unix.Symlinkat(target, rootfd, l); err != nil && err != unix.EEXIST {
			return err
		}
	}
	return nil
}

// infoName is a package's name in /var/lib/dpkg/info: with its
// architecture for Multi-Arch: same packages.
func infoName(p *Installed) string {
	if p.Control.Get("Multi-Arch") == "same" {
		return p.Name + ":" + p.Arch
	}
	return p.Name
}

// Register writes the packages into the container's dpkg database as
// unpacked and not yet configured: a status stanza each, info/*.list of
// their paths, and their control files (md5sums, maintainer scripts...).
func (dpkgManager) Register(root string, area *Area, pkgs []*Installed, link bool) error {
	admin := filepath.Join(root, "var/lib/dpkg")
	for _, d := range []string{"info", "updates", "triggers", "alternatives", "parts"} {
		if err := os.MkdirAll(filepath.Join(admin, d), 0o755); err != nil {
			return err
		}
	}
	for _, f := range []string{"available", "diversions", "statoverride"} {
		if _, err := os.Stat(filepath.Join(admin, f)); os.IsNotExist(err) {
			if err := os.WriteFile(filepath.Join(admin, f), nil, 0o644); err != nil {
				return err
			}
		}
	}
	if _, err := os.Stat(filepath.Join(admin, "arch")); os.IsNotExist(err) && len(pkgs) > 0 {
		os.WriteFile(filepath.Join(admin, "arch"), []byte(PackageArch(pkgs[0].Arch)+"\n"), 0o644)
	}
	names := map[string]bool{}
	for _, p := range pkgs {
		names[p.Name] = true
	}
	var status bytes.Buffer
	if err := keepStatus(admin, &status, func(name string) bool { return !names[name] }); err != nil {
		return err
	}
	for _, p := range pkgs {
		if err := writeInfo(admin, area, p, link); err != nil {
			return fmt.Errorf("package %s: %w", p.Key, err)
		}
		st := Stanza{{"Package", p.Name}, {"Status", "install ok unpacked"}}
		for _, f := range p.Control {
			if f.Name != "Package" && f.Name != "Status" {
				st = append(st, f)
			}
		}
		if cf := conffiles(p); cf != "" {
			st.Set("Conffiles", cf)
		}
		if err := WriteStanza(&status, st); err != nil {
			return err
		}
	}
	return atomicWrite(filepath.Join(admin, "status"), status.Bytes())
}

func writeInfo(admin string, area *Area, p *Installed, link bool) error {
	name := infoName(p)
	var list bytes.Buffer
	list.WriteString("/.\n")
	for _, e := range p.Entries {
		list.WriteString("/" + e.Path + "\n")
	}
	if err := os.WriteFile(filepath.Join(admin, "info", name+".list"), list.Bytes(), 0o644); err != nil {
		return err
	}
	for _, f := range debControlFiles {
		if f == "control" {
			continue
		}
		src := filepath.Join(p.Dir, metaDir, "deb", f)
		st, err := os.Stat(src)
		if err != nil {
			continue
		}
		dst := filepath.Join(admin, "info", name+"."+f)
		os.Remove(dst)
		if link {
			if err := os.WriteFile(dst, nil, st.Mode().Perm()); err != nil {
				return err
			}
			value := filepath.Join(p.RelDir(area), metaDir, "deb", f)
			if err := unix.Lsetxattr(dst, fs.LinkAttr, []byte(value), 0); err != nil {
				return err
			}
			continue
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, data, st.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}

// conffiles is the Conffiles field of a status stanza: each conffile with
// the MD5 of the package's version.
func conffiles(p *Installed) string {
	data, err := os.ReadFile(filepath.Join(p.Dir, metaDir, "deb", "conffiles"))
	if err != nil {
		return ""
	}
	var lines []string
	for _, c := range strings.Fields(string(data)) {
		sum := "newconffile"
		if b, err := os.ReadFile(filepath.Join(p.Dir, strings.TrimPrefix(c, "/"))); err == nil {
			h := md5.Sum(b)
			sum = hex.EncodeToString(h[:])
		}
		lines = append(lines, c+" "+sum)
	}
	if len(lines) == 0 {
		return ""
	}
	return "\n" + strings.Join(lines, "\n")
}

// Configure runs, in a chroot of the mounted container with /proc, /sys
// and /dev mounted, each package's preinst, then dpkg --configure -a,
// the way debootstrap's second stage does. Services are kept from
// starting (policy-rc.d).
func (dpkgManager) Configure(ctx context.Context, mnt string, pkgs []*Installed, env []string) (err error) {
	var binds []string
	defer func() {
		for i := len(binds) - 1; i >= 0; i-- {
			unix.Unmount(binds[i], unix.MNT_DETACH)
		}
	}()
	for _, b := range []struct{ src, dst, fstype string }{{"proc", "proc", "proc"}, {"/sys", "sys", ""}, {"/dev", "dev", ""}} {
		dst := filepath.Join(mnt, b.dst)
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return err
		}
		var err error
		if b.fstype != "" {
			err = unix.Mount(b.src, dst, b.fstype, unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
		} else {
			err = unix.Mount(b.src, dst, "", unix.MS_BIND|unix.MS_REC, "")
			if err == nil {
				unix.Mount("", dst, "", unix.MS_SLAVE|unix.MS_REC, "")
			}
		}
		if err != nil {
			return fmt.Errorf("mount %s in the container: %w", b.dst, err)
		}
		binds = append(binds, dst)
	}
	policy := filepath.Join(mnt, "usr/sbin/policy-rc.d")
	if err := os.WriteFile(policy, []byte("#!/bin/sh\nexit 101\n"), 0o755); err != nil {
		return err
	}
	defer os.Remove(policy)
	base := append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"DEBIAN_FRONTEND=noninteractive", "DEBCONF_NONINTERACTIVE_SEEN=true", "LC_ALL=C", "LANG=C", "HOME=/root"}, env...)
	run := func(extra []string, args ...string) error {
		cmd := exec.CommandContext(ctx, "chroot", append([]string{mnt}, args...)...)
		cmd.Env = append(append([]string{}, base...), extra...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return &ScriptError{Template: "dpkg", Script: strings.Join(args, " "), Err: err, Output: out.String()}
		}
		return nil
	}
	for _, p := range pkgs {
		script := "/var/lib/dpkg/info/" + infoName(p) + ".preinst"
		if _, err := os.Stat(filepath.Join(mnt, script)); err != nil {
			continue
		}
		if err := run([]string{"DPKG_MAINTSCRIPT_PACKAGE=" + p.Name, "DPKG_MAINTSCRIPT_ARCH=" + p.Arch,
			"DPKG_MAINTSCRIPT_NAME=preinst", "DPKG_ADMINDIR=/var/lib/dpkg", "DPKG_ROOT="}, script, "install"); err != nil {
			return err
		}
	}
	return run(nil, "dpkg", "--configure", "-a")
}

// keepStatus copies the stanzas of the status file that keep() wants.
func keepStatus(admin string, out *bytes.Buffer, keep func(name string) bool) error {
	old, err := os.ReadFile(filepath.Join(admin, "status"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	stanzas, err := ParseStanzas(bytes.NewReader(old), filepath.Join(admin, "status"))
	if err != nil {
		return err
	}
	for _, st := range stanzas {
		if keep(st.Get("Package")) {
			if err := WriteStanza(out, st); err != nil {
				return err
			}
		}
	}
	return nil
}

// Unregister takes packages out of the container's dpkg database: their
// status stanzas and info files.
func (dpkgManager) Unregister(root string, names []string) error {
	admin := filepath.Join(root, "var/lib/dpkg")
	var status bytes.Buffer
	if err := keepStatus(admin, &status, func(n string) bool { return !slices.Contains(names, n) }); err != nil {
		return err
	}
	for _, n := range names {
		m, _ := filepath.Glob(filepath.Join(admin, "info", n+".*"))
		m2, _ := filepath.Glob(filepath.Join(admin, "info", n+":*"))
		for _, f := range append(m, m2...) {
			os.Remove(f)
		}
	}
	return atomicWrite(filepath.Join(admin, "status"), status.Bytes())
}
