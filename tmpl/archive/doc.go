// Package archive unpacks and writes the archives of the template area:
// package tarballs and the data members of .debs (Extract, under a
// Policy of what they may hold), cache tarballs (WriteTree, ExtractCache),
// and the manifest that records what a package unpacked.
//
// # Safety
//
// Every member is created relative to the destination directory's fd,
// one path element at a time, with no symlink followed on the way: an
// earlier symlink member cannot lead a later one out of the tree. Absolute
// names, "..", links out of the tree, duplicates, forbidden types and
// contents past the Policy's bounds are refused with ErrUnsafe.
//
// # Speed
//
// A cache is mostly empty link entries: ExtractCache parses headers on a
// goroutine of its own (members.go), creates empty files on a few worker
// threads in batches per directory (pool.go), flushes the filesystem's
// journal while it goes (logFlusher) and syncs the filesystem once.
package archive
