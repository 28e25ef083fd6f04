package apt

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ezfs/ezfs/internal/atfile"
	"github.com/ezfs/ezfs/internal/linkattr"
	"github.com/ezfs/ezfs/tmpl/archive"
	"github.com/ezfs/ezfs/tmpl/deb822"
	"github.com/ezfs/ezfs/tmpl/repo"
	"golang.org/x/sys/unix"
)

// Dpkg installs Debian packages from apt repositories.
type Dpkg struct{}

func (Dpkg) ParseSource(line string) ([]*repo.Source, error) {
	if strings.TrimSpace(line) == "host" {
		return HostSources()
	}
	s, err := ParseAptLine(line)
	if err != nil {
		return nil, err
	}
	return []*repo.Source{s}, nil
}

func (Dpkg) LoadIndex(ctx context.Context, f *repo.Fetch, sources []*repo.Source) (*repo.Index, error) {
	ix := repo.NewIndex(f.Arch)
	for _, s := range sources {
		if archs := s.Options["arch"]; archs != "" && !slices.Contains(strings.Split(archs, ","), f.Arch) {
			continue
		}
		f.Step("reading %s %s", s.URI, s.Suite)
		rel, err := loadRelease(ctx, f, s)
		if err != nil {
			return nil, err
		}
		if s.Flat() {
			if err := loadPackages(ctx, f, s, rel, "", ix); err != nil {
				return nil, err
			}
			continue
		}
		for _, c := range s.Components {
			if err := loadPackages(ctx, f, s, rel, c, ix); err != nil {
				return nil, err
			}
		}
	}
	return ix, nil
}

func (Dpkg) Unpack(file string, dstfd int, dst string) (deb822.Stanza, []archive.Entry, error) {
	return unpackDeb(file, dstfd, dst)
}

// Base is Debian's base system: every package of Priority required.
func (Dpkg) Base(ix *repo.Index) []string { return ix.Required() }

// mergedUsr are the links of a merged-/usr Debian system, made before
// any package is laid out, as debootstrap does.
var mergedUsr = map[string]string{"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib", "lib64": "usr/lib64"}

func (Dpkg) PrepareRoot(rootfd int) error {
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
func infoName(p *repo.Installed) string {
	if p.Control.Get("Multi-Arch") == "same" {
		return p.Name + ":" + p.Arch
	}
	return p.Name
}

// dpkgAdmin is dpkg's database, from the container's root.
const dpkgAdmin = "var/lib/dpkg"

// Register writes the packages into the container's dpkg database as
// unpacked and not yet configured: a status stanza each, info/*.list of
// their paths, and their control files (md5sums, maintainer scripts...).
// Every path is resolved inside the container (root may be its mount,
// whose symlinks are the container's to set).
func (Dpkg) Register(root string, areaRoot string, pkgs []*repo.Installed, link bool) error {
	r, err := atfile.OpenRoot(root)
	if err != nil {
		return err
	}
	defer r.Close()
	for _, d := range []string{"info", "updates", "triggers", "alternatives", "parts"} {
		if err := r.MkdirAll(path.Join(dpkgAdmin, d), 0o755); err != nil {
			return err
		}
	}
	for _, f := range []string{"available", "diversions", "statoverride"} {
		if _, err := r.Lstat(path.Join(dpkgAdmin, f)); errors.Is(err, unix.ENOENT) {
			if err := r.Create(path.Join(dpkgAdmin, f), nil, 0o644); err != nil {
				return err
			}
		}
	}
	if _, err := r.Lstat(path.Join(dpkgAdmin, "arch")); errors.Is(err, unix.ENOENT) && len(pkgs) > 0 {
		r.Create(path.Join(dpkgAdmin, "arch"), []byte(repo.PackageArch(pkgs[0].Arch)+"\n"), 0o644)
	}
	names := map[string]bool{}
	for _, p := range pkgs {
		names[p.Name] = true
	}
	var status bytes.Buffer
	if err := keepStatus(r, &status, func(name string) bool { return !names[name] }); err != nil {
		return err
	}
	for _, p := range pkgs {
		if err := writeInfo(r, areaRoot, p, link); err != nil {
			return fmt.Errorf("package %s: %w", p.Key, err)
		}
		st := deb822.Stanza{{Name: "Package", Value: p.Name}, {Name: "Status", Value: "install ok unpacked"}}
		for _, f := range p.Control {
			if f.Name != "Package" && f.Name != "Status" {
				st = append(st, f)
			}
		}
		if cf := conffiles(p); cf != "" {
			st.Set("Conffiles", cf)
		}
		if err := deb822.Write(&status, st); err != nil {
			return err
		}
	}
	return r.Replace(path.Join(dpkgAdmin, "status"), status.Bytes(), 0o644)
}

func writeInfo(r *atfile.Root, areaRoot string, p *repo.Installed, link bool) error {
	name := infoName(p)
	var list bytes.Buffer
	list.WriteString("/.\n")
	for _, e := range p.Entries {
		list.WriteString("/" + e.Path + "\n")
	}
	info := path.Join(dpkgAdmin, "info")
	if err := r.Replace(path.Join(info, name+".list"), list.Bytes(), 0o644); err != nil {
		return err
	}
	for _, f := range debControlFiles {
		if f == "control" {
			continue
		}
		src := filepath.Join(p.Dir, repo.MetaDir, "deb", f)
		st, err := os.Stat(src)
		if err != nil {
			continue
		}
		dst := path.Join(info, name+"."+f)
		if err := r.Remove(dst); err != nil {
			return err
		}
		if link {
			out, err := r.Open(dst, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, uint32(st.Mode().Perm()))
			if err != nil {
				return err
			}
			value := filepath.Join(p.RelDir(areaRoot), repo.MetaDir, "deb", f)
			err = linkattr.Set(int(out.Fd()), value)
			if err == nil {
				err = out.Chmod(st.Mode().Perm())
			}
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			continue
		}
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := r.Create(dst, data, uint32(st.Mode().Perm())); err != nil {
			return err
		}
	}
	return nil
}

// conffiles is the Conffiles field of a status stanza: each conffile with
// the MD5 of the package's version.
func conffiles(p *repo.Installed) string {
	data, err := os.ReadFile(filepath.Join(p.Dir, repo.MetaDir, "deb", "conffiles"))
	if err != nil {
		return ""
	}
	// Conffile names come from the package: each is read inside the
	// package's directory (its symlinks lead within it), never from the
	// host ("/../../etc/shadow" is the package's own /etc/shadow).
	pkgRoot, err := atfile.OpenRoot(p.Dir)
	if err != nil {
		return ""
	}
	defer pkgRoot.Close()
	var lines []string
	for _, c := range strings.Fields(string(data)) {
		sum := "newconffile"
		if b, err := pkgRoot.ReadFile(c); err == nil {
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
func (Dpkg) Configure(ctx context.Context, mnt string, pkgs []*repo.Installed, env []string) (err error) {
	r, err := atfile.OpenRoot(mnt)
	if err != nil {
		return err
	}
	defer r.Close()
	var binds []int // the mounts' roots, to unmount by fd
	defer func() {
		for i := len(binds) - 1; i >= 0; i-- {
			unix.Unmount(atfile.ProcPath(binds[i]), unix.MNT_DETACH)
			unix.Close(binds[i])
		}
	}()
	// Mountpoints are resolved inside the container and mounted on by
	// fd: a container's /proc that is a symlink to a host directory
	// gets its mount in the container, not over the host's directory.
	for _, b := range []struct{ src, dst, fstype string }{{"proc", "proc", "proc"}, {"/sys", "sys", ""}, {"/dev", "dev", ""}} {
		if err := r.MkdirAll(b.dst, 0o755); err != nil {
			return fmt.Errorf("mount %s in the container: %w", b.dst, err)
		}
		fd, err := r.OpenDir(b.dst)
		if err != nil {
			return fmt.Errorf("mount %s in the container (is its /%s a symlink out of it?): %w", b.dst, b.dst, err)
		}
		target := atfile.ProcPath(fd)
		if b.fstype != "" {
			err = unix.Mount(b.src, target, b.fstype, unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
		} else {
			err = unix.Mount(b.src, target, "", unix.MS_BIND|unix.MS_REC, "")
		}
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("mount %s in the container: %w", b.dst, err)
		}
		mfd, err := r.OpenDir(b.dst)
		if err != nil {
			return fmt.Errorf("mount %s in the container: %w", b.dst, err)
		}
		binds = append(binds, mfd)
		if b.fstype == "" {
			unix.Mount("", atfile.ProcPath(mfd), "", unix.MS_SLAVE|unix.MS_REC, "")
		}
	}
	policy := "usr/sbin/policy-rc.d"
	if err := r.Replace(policy, []byte("#!/bin/sh\nexit 101\n"), 0o755); err != nil {
		return err
	}
	defer r.Remove(policy)
	base := append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"DEBIAN_FRONTEND=noninteractive", "DEBCONF_NONINTERACTIVE_SEEN=true", "LC_ALL=C", "LANG=C", "HOME=/root"}, env...)
	run := func(extra []string, args ...string) error {
		cmd := exec.CommandContext(ctx, "chroot", append([]string{mnt}, args...)...)
		cmd.Env = append(append([]string{}, base...), extra...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return &repo.ScriptError{Template: "dpkg", Script: strings.Join(args, " "), Err: err, Output: out.String()}
		}
		return nil
	}
	for _, p := range pkgs {
		script := "/var/lib/dpkg/info/" + infoName(p) + ".preinst"
		if _, err := r.Lstat(script); err != nil {
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
func keepStatus(r *atfile.Root, out *bytes.Buffer, keep func(name string) bool) error {
	p := path.Join(dpkgAdmin, "status")
	old, err := r.ReadFile(p)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	if err != nil {
		return err
	}
	stanzas, err := deb822.Parse(bytes.NewReader(old), p)
	if err != nil {
		return err
	}
	for _, st := range stanzas {
		if keep(st.Get("Package")) {
			if err := deb822.Write(out, st); err != nil {
				return err
			}
		}
	}
	return nil
}

// Unregister takes packages out of the container's dpkg database: their
// status stanzas and info files.
func (Dpkg) Unregister(root string, names []string) error {
	r, err := atfile.OpenRoot(root)
	if err != nil {
		return err
	}
	defer r.Close()
	var status bytes.Buffer
	if err := keepStatus(r, &status, func(n string) bool { return !slices.Contains(names, n) }); err != nil {
		return err
	}
	info := path.Join(dpkgAdmin, "info")
	files, _ := r.ReadDirNames(info)
	for _, f := range files {
		// NAME[:ARCH].EXT; names have dots, extensions do not (so
		// "foo" does not take "foo.bar.list" of package foo.bar along).
		i := strings.LastIndexByte(f, '.')
		if i < 0 {
			continue
		}
		pkg, _, _ := strings.Cut(f[:i], ":")
		if slices.Contains(names, pkg) {
			r.Remove(path.Join(info, f))
		}
	}
	return r.Replace(path.Join(dpkgAdmin, "status"), status.Bytes(), 0o644)
}
