// Package tmpl manages the template area: EZ template configs, the vz.conf
// of the node, the package manager runs that install packages into the
// area, the cache tarballs containers are created from, and the records
// containers keep of themselves (ve.conf, vzpackages). Its concerns are
// packages of their own:
//
//	tmpl            the area, template configs (Template, TemplateID), vz.conf
//	                (VZConf), package manager runs (Run), caches, GC
//	tmpl/deb822     control stanzas: Packages, Release, control, status
//	tmpl/archive    extraction under a Policy, manifests, cache tarballs
//	tmpl/repo       sources and fetching, indexes and resolution, Installed
//	tmpl/apt        apt sources, Release/InRelease, .deb, the dpkg manager
//	tmpl/tarpm      the tar manager and its repository index
//	tmpl/ct         containers: create, install/update/remove, journal, fsck
//	tmpl/btrfs      subvolumes, snapshots and the seeds containers start from
//	tmpl/internal/  tree (entries in a container's tree), dirs, listfile,
//	                failpoint, tmpltest (fixtures for the packages' tests)
//
// # Layout (see docs/TEMPLATES.md)
//
//	TEMPLATE/cache/<ostemplate>.tar.gz
//	TEMPLATE/<os>/<ver>/<arch>/config/os/{default,<set>}/
//	TEMPLATE/<os>/<ver>/<arch>/config/app/<app>/{default,<set>}/
//	TEMPLATE/<os>/<ver>/<arch>/pm/
//	TEMPLATE/<os>/<ver>/<arch>/<name>_<version>_<arch>/
//
// # Atomicity
//
// Everything is built under a temporary name (.new-*) beside its final
// place and renamed into place; a failure removes what it built. Package
// directories are never changed once in place: a new version is a new
// directory. Files are replaced through atfile.WriteFile.
package tmpl
