// Package repo is what every package manager shares: repository sources
// and their Fetcher (local paths, file:// and HTTP, verified downloads),
// the Index of a template's repositories with dependency resolution
// (Resolve, or a Resolver seeded with a container's packages), Debian
// relations and versions, the checks that keep names from repositories
// one path element, and Installed: a package unpacked in the template
// area with its manifest and control stanza.
//
// # Names are paths
//
// A package's name, version and architecture become its directory in the
// area (name_version_arch): every parser checks them where it reads them
// (CheckKey), so that an index, a control file or a vzpackages line
// cannot lead the area's paths elsewhere.
package repo
