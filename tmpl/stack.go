package tmpl

import (
	"slices"
	"strings"
)

// Stack is what a container is built from: a base OS template, then the
// OS set and application templates on top, in order. Repositories and
// mirrorlists of the layers are added to the base's; environments are
// merged, later layers winning.
type Stack struct {
	Base   *Template
	Layers []*Template
}

func (s *Stack) all() []*Template { return append([]*Template{s.Base}, s.Layers...) }

// PackageManager is the base template's.
func (s *Stack) PackageManager() string { return s.Base.PackageManager }

// Repositories returns every repository line, base first, without repeats.
func (s *Stack) Repositories() []string {
	var out []string
	for _, t := range s.all() {
		for _, r := range t.Repositories {
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	return out
}

// Mirrorlists returns every mirrorlist URL, base first, without repeats.
func (s *Stack) Mirrorlists() []string {
	var out []string
	for _, t := range s.all() {
		for _, m := range t.Mirrorlist {
			if !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	return out
}

// Packages returns every package name of the stack, without repeats.
func (s *Stack) Packages() []string {
	var out []string
	for _, t := range s.all() {
		for _, p := range t.Packages {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// Environment returns KEY=value pairs for scripts and package managers.
func (s *Stack) Environment() []string {
	var keys []string
	vals := map[string]string{}
	for _, t := range s.all() {
		for _, kv := range t.Environment {
			k, v, _ := strings.Cut(kv, "=")
			if _, ok := vals[k]; !ok {
				keys = append(keys, k)
			}
			vals[k] = v
		}
	}
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+vals[k])
	}
	return out
}
