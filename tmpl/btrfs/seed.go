package btrfs

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"

	"github.com/ezfs/ezfs/internal/atfile"
	"github.com/ezfs/ezfs/tmpl/archive"
	"github.com/ezfs/ezfs/tmpl/internal/failpoint"
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

// SnapshotSeed makes stage (a name in parent, the directory of the
// private areas) a snapshot of the seed of template's cache, building the
// seed first if it is missing; step reports progress. It reports false,
// having made nothing, when parent is not on btrfs or the kernel refuses
// snapshots; the caller then unpacks the cache.
func SnapshotSeed(template, cache, parent, stage string, step func(format string, args ...any)) (bool, error) {
	pfd, err := unix.Open(parent, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, err
	}
	defer unix.Close(pfd)
	if !OnBtrfs(pfd) {
		return false, nil
	}
	name, err := seedName(template, cache)
	if err != nil {
		return false, err
	}
	seed, err := atfile.Openat(pfd, name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if errors.Is(err, unix.ENOENT) {
		step("unpacking the cache of %s once into %s (btrfs: containers are snapshots of it)", template, filepath.Join(parent, name))
		if err := buildSeed(pfd, parent, name, cache); err != nil {
			return false, err
		}
		DropSeeds(parent, template, name)
		seed, err = atfile.Openat(pfd, name, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	}
	if err != nil {
		return false, fmt.Errorf("seed %s: %w", filepath.Join(parent, name), err)
	}
	defer unix.Close(seed)
	if err := Snapshot(seed, pfd, stage); err != nil {
		step("%v: unpacking the cache instead", err)
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
	RemoveTree(parent, tmp)
	if err := CreateSubvolume(pfd, tmp); err != nil {
		return err
	}
	// Containers are snapshots of the seed and get its mode: closed.
	if err := unix.Fchmodat(pfd, tmp, 0o700, 0); err != nil {
		RemoveTree(parent, tmp)
		return err
	}
	ok := false
	defer func() {
		if !ok {
			RemoveTree(parent, tmp)
		}
	}()
	if err := archive.ExtractCache(cache, filepath.Join(parent, tmp)); err != nil {
		return err
	}
	failpoint.Hit("seed", 1)
	fd, err := atfile.Openat(pfd, tmp, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	err = SetReadOnly(fd)
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

// DropSeeds deletes template's seeds in parent but keep (and debris of
// interrupted builds that are not in progress).
func DropSeeds(parent, template, keep string) {
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
		RemoveTree(parent, n)
	}
}

func processAlive(pid string) bool {
	var n int
	if _, err := fmt.Sscanf(pid, "%d", &n); err != nil || n <= 0 {
		return false
	}
	return unix.Kill(n, 0) != unix.ESRCH
}

// RemoveTree removes name in parent and everything below it: a btrfs
// subvolume at once, anything else file by file.
func RemoveTree(parent, name string) error {
	pfd, err := unix.Open(parent, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	defer unix.Close(pfd)
	if IsSubvolume(pfd, name) && DeleteSubvolume(pfd, name) == nil {
		return nil
	}
	return os.RemoveAll(filepath.Join(parent, name))
}
