// Package ct works on containers' private areas: Create (from a cache
// tarball, or on btrfs as a snapshot of the template's seed), Install,
// Update and Remove of application templates, Destroy, Fsck, and the
// container's own apt sources and network files.
//
// # Crash safety
//
// An operation on a container's packages writes its whole plan as a
// journal (templates/.journal) before its first change; every step is
// idempotent, and the records (vzpackages, ve.conf) are replaced last.
// The next command on the container, or fsck, applies a journal it
// finds, so an interrupted operation is always finished
// (TestJournalCrashPoints kills each at every step).
//
// # The container's tree is the container's
//
// Every path in a container's tree is resolved inside it
// (RESOLVE_IN_ROOT) or below it with no symlink on the way: a container
// cannot lead ezctl to a host file through a symlink in its tree.
package ct
