package ctl

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezfs/ezfs/internal/testenv"
)

// TestTemplateCommands installs, lists, shows and removes templates,
// in text and as JSON.
func TestTemplateCommands(t *testing.T) {
	testenv.RequireRoot(t)
	n := newNode(t)
	if out := n.ok(t, "template", "list"); !strings.Contains(out, "no templates in") {
		t.Errorf("empty list: %q", out)
	}
	n.demo(t)
	out := n.ok(t, "template", "install", n.src)
	for _, want := range []string{"installed demo-1-x86_64 (base OS template)", "installed demo-1-x86_64:web (application template)"} {
		if !strings.Contains(out, want) {
			t.Errorf("install says %q, want %q", out, want)
		}
	}
	var list []templateInfo
	if err := json.Unmarshal([]byte(n.ok(t, "template", "list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	got := map[string]templateInfo{}
	for _, i := range list {
		got[i.FullName] = i
	}
	for _, tc := range []struct {
		name, kind, os string
		packages       string
	}{
		{"demo-1-x86_64", "base OS template", "demo-1-x86_64", "base-files tool"},
		{"demo-1-x86_64:web", "application template", "demo-1-x86_64", "web"},
	} {
		i, ok := got[tc.name]
		if !ok {
			t.Errorf("list lacks %s: %+v", tc.name, list)
			continue
		}
		if i.Kind != tc.kind || i.OSTemplate != tc.os || strings.Join(i.Packages, " ") != tc.packages || !i.Installed || i.Cached {
			t.Errorf("%s: %+v", tc.name, i)
		}
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"template", "list"}, []string{"NAME", "demo-1-x86_64", "demo-1-x86_64:web", "A web server"}},
		{[]string{"template", "info", "demo-1-x86_64"}, []string{"name:          demo-1-x86_64", "package manager: tar", "packages:      base-files tool", "repository:    " + n.repo, "cached:        no", "A small OS for tests."}},
		{[]string{"template", "info", "--json", "web"}, []string{`"full_name": "demo-1-x86_64:web"`, `"os_template": "demo-1-x86_64"`}},
	} {
		out := n.ok(t, tc.args...)
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("ezctl %s lacks %q:\n%s", strings.Join(tc.args, " "), w, out)
			}
		}
	}
	if out := n.ok(t, "template", "remove", "web"); !strings.Contains(out, "removed") {
		t.Errorf("remove says %q", out)
	}
	n.fails(t, "web", "template", "info", "web")
}

// TestContainerLifecycle: a cache, a container made from it, an
// application installed and removed, listed with its disk use, and
// destroyed. Staging mounts are served in this process.
func TestContainerLifecycle(t *testing.T) {
	testenv.RequireFUSE(t)
	n := newNode(t)
	n.demo(t)
	if out := n.ok(t, "repo", "index", n.repo); !strings.Contains(out, "indexed 3 packages") {
		t.Errorf("repo index says %q", out)
	}
	n.ok(t, "template", "install", n.src)
	n.fails(t, "not an OS template", "cache", "create", "demo-1-x86_64:web")
	out := n.ok(t, "cache", "create", "demo-1-x86_64")
	if !strings.Contains(out, "2 packages") {
		t.Errorf("cache create says %q", out)
	}
	if out := n.ok(t, "template", "list"); !strings.Contains(out, "yes") {
		t.Errorf("the template is not listed as cached:\n%s", out)
	}
	n.ok(t, "cache", "update", "demo-1-x86_64")
	out = n.ok(t, "create", "101", "--ostemplate", "demo-1-x86_64")
	if !strings.Contains(out, "created container 101 from demo-1-x86_64") {
		t.Errorf("create says %q", out)
	}
	n.fails(t, "exists", "create", "101", "--ostemplate", "demo-1-x86_64")
	if out := n.ok(t, "status", "101"); !strings.Contains(out, "up to date") {
		t.Errorf("status says %q", out)
	}
	n.ok(t, "install", "101", "web")
	// A file of the container's own, beside the link entries.
	if err := os.WriteFile(filepath.Join(n.vz, "private/101/root/etc/own"), make([]byte, 8192), 0o644); err != nil {
		t.Fatal(err)
	}
	var cts []ctInfo
	if err := json.Unmarshal([]byte(n.ok(t, "list", "--json")), &cts); err != nil {
		t.Fatal(err)
	}
	if len(cts) != 1 || cts[0].ID != "101" || cts[0].OSTemplate != "demo-1-x86_64" || strings.Join(cts[0].Templates, " ") != "web" || cts[0].Mounted {
		t.Fatalf("list: %+v", cts)
	}
	// Link entries stand for the template files' bytes: os-release,
	// tool, web and web.conf (create writes the container's own
	// hostname).
	wantShared := int64(len("NAME=demo\n") + len("#!/bin/sh\necho tool\n") + len("web server\n") + len("port=80\n"))
	if cts[0].SharedBytes != wantShared || cts[0].PrivateBytes < 8192 {
		t.Errorf("list: private %d bytes (want at least 8192), shared %d (want %d)", cts[0].PrivateBytes, cts[0].SharedBytes, wantShared)
	}
	if out := n.ok(t, "list"); !strings.Contains(out, "101") || !strings.Contains(out, "web") {
		t.Errorf("list:\n%s", out)
	}
	n.ok(t, "fsck", "101")
	n.ok(t, "remove", "101", "web")
	n.ok(t, "destroy", "101")
	if _, err := os.Stat(filepath.Join(n.vz, "private/101")); !os.IsNotExist(err) {
		t.Errorf("destroy left the private area: %v", err)
	}
	n.ok(t, "cache", "remove", "demo-1-x86_64")
	if out := n.ok(t, "template", "info", "--json", "demo-1-x86_64"); !strings.Contains(out, `"cached": false`) {
		t.Errorf("the cache is still there:\n%s", out)
	}
}
