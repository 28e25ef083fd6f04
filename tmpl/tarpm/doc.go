// Package tarpm is the tar package manager: ezfs's own package format,
// <name>_<version>_<arch>.tar.gz (or .tar.zst) holding the files at their
// container paths and the control stanza as .ezfs/control, in a flat
// repository whose Packages index IndexRepo writes (`ezctl repo index`).
package tarpm
