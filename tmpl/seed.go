package tmpl

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"

	"github.com/ezfs/ezfs/tmpl/archive"
	"golang.org/x/sys/unix"
)

// A seed is a cache unpacked once into a read-only btrfs subvolume
// beside the private areas (".seed-<template>@<cache id>"). When the
// private areas are on btrfs, a container is a writable snapshot of its
// template's seed: one transaction instead of an inode per template
// file, and the snapshot shares every block and inode of the seed until
// the container changes it. Elsewhere a container is unpacked from the
// cache as before.

const seedPrefix = ".seed-"

// seedParent is the directory where the seeds of cfg's private areas
// live, or "" when VE_PRIVATE does not keep them in one directory.
func seedParent(cfg *Config) string {
	a, b := filepath.Dir(cfg.Private("a")), filepath.Dir(cfg.Private("b"))
	if a != b {
		return ""
	}
	return a
}

// seedName names the seed of cache by the cache file's identity: a
// rebuilt cache gets a new seed.
func seedName(template, cache string) (string, error) {
	var st unix.Stat_t
	if err := unix.Stat(cache, &st); err != nil {
		return "", fmt.Errorf("cache %s: %w", cache, err)
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%d/%d/%d", st.Dev, st.Ino, st.Size, st.Mtim.Nano())
	return fmt.Sprintf("%s%s@%016x", seedPrefix, template, h.Sum64()), nil
}

// snapshotCache makes stage (a name in parent) a snapshot of the seed of
// template's cache, building the seed first if it is missing. It
// reports false, having made nothing, when parent is not on btrfs or
// the kernel refuses snapshots; the caller then unpacks the cache.
func snapshotCache(cfg *Config, template, cache, parent, stage string, rep Reporter) (bool, error) {
	if seedParent(cfg) != parent {
		return false, nil
	}
	pfd, err := unix.Open(parent, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, err
	}
	defer unix.Close(pfd)
	if !onBtrfs(pfd) {
		return false, nil
	}
	name, err := seedName(template, cache)
	if err != nil {
		return false, err
	}
	seed, err := openat(pfd, name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if errors.Is(err, unix.ENOENT) {
		rep.Step("unpacking the cache of %s once into %s (btrfs: containers are snapshots of it)", template, filepath.Join(parent, name))
		if err := buildSeed(pfd, parent, name, cache); err != nil {
			return false, err
		}
		dropSeeds(parent, template, name)
		seed, err = openat(pfd, name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	}
	if err != nil {
		return false, fmt.Errorf("seed %s: %w", filepath.Join(parent, name), err)
	}
	defer unix.Close(seed)
	if err := snapshot(seed, pfd, stage); err != nil {
		rep.Step("%v: unpacking the cache instead", err)
		return false, nil
	}
	return true, nil
}

// buildSeed unpacks cache into a new subvolume under a temporary name,
// makes it read-only and renames it to name, so a seed exists whole or
// not at all. Of two processes building one seed, the second drops its
// own.
func buildSeed(pfd int, parent, name, cache string) error {
	tmp := fmt.Sprintf("%s.tmp-%d", name, os.Getpid())
	removeTree(parent, tmp)
	if err := createSubvolume(pfd, tmp); err != nil {
		return err
	}
	// Containers are snapshots of the seed and get its mode: closed.
	if err := unix.Fchmodat(pfd, tmp, 0o700, 0); err != nil {
		removeTree(parent, tmp)
		return err
	}
	ok := false
	defer func() {
		if !ok {
			removeTree(parent, tmp)
		}
	}()
	if err := archive.ExtractCache(cache, filepath.Join(parent, tmp)); err != nil {
		return err
	}
	failpoint("seed", 1)
	fd, err := openat(pfd, tmp, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	err = setReadOnly(fd)
	unix.Close(fd)
	if err != nil {
		return err
	}
	err = unix.Renameat2(pfd, tmp, pfd, name, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EEXIST) {
		return nil // another create built it meanwhile; ours goes
	}
	if err != nil {
		return fmt.Errorf("seed %s: %w", filepath.Join(parent, name), err)
	}
	ok = true
	return unix.Fsync(pfd)
}

// dropSeeds deletes template's seeds in parent but keep (and debris of
// interrupted builds that are not in progress).
func dropSeeds(parent, template, keep string) {
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		n := e.Name()
		rest, ok := strings.CutPrefix(n, seedPrefix+template+"@")
		if !ok || n == keep {
			continue
		}
		if _, pid, tmp := strings.Cut(rest, ".tmp-"); tmp && processAlive(pid) {
			continue
		}
		removeTree(parent, n)
	}
}

func processAlive(pid string) bool {
	var n int
	if _, err := fmt.Sscanf(pid, "%d", &n); err != nil || n <= 0 {
		return false
	}
	return unix.Kill(n, 0) != unix.ESRCH
}

// DropSeeds deletes the seeds of template's cache; call it when the
// cache is rebuilt or removed.
func DropSeeds(cfg *Config, template string) {
	if p := seedParent(cfg); p != "" {
		dropSeeds(p, strings.TrimPrefix(template, "."), "")
	}
}

// removeTree removes name in parent and everything below it: a btrfs
// subvolume at once, anything else file by file.
func removeTree(parent, name string) error {
	pfd, err := unix.Open(parent, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	defer unix.Close(pfd)
	if isSubvolume(pfd, name) && deleteSubvolume(pfd, name) == nil {
		return nil
	}
	return os.RemoveAll(filepath.Join(parent, name))
}
