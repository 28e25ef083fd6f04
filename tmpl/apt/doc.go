// Package apt is the dpkg package manager: Debian packages from apt
// repositories.
//
// It reads sources lines and the host's sources (sources.list and deb822
// .sources files: ParseAptLine, HostSources), fetches and verifies a
// repository's InRelease, or Release with Release.gpg, against the
// keyrings a source names, reads the Packages indexes the Release lists
// by their hashes, unpacks .debs (their data below the package
// directory, their control files in .ezfs/deb), and keeps a container's
// dpkg database: Register writes status and info files for packages laid
// out as link entries, Configure runs their maintainer scripts in a
// chroot of the mounted container, Unregister takes them out again.
//
// # Trust
//
// Nothing of an unsigned or wrongly signed repository is installed
// (ErrSignature) unless its source says [trusted=yes]; every index and
// package is checked against the size and SHA-256 the signed Release or
// index gives before it is used.
package apt
