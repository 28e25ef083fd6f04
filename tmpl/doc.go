// Package tmpl manages the template area: EZ template configs, package
// repositories and package managers, installed packages, and the cache
// tarballs containers are created from.
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
// directory.
package tmpl
