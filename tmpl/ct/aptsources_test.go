package ct

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ezfs/ezfs/tmpl"
	"github.com/ezfs/ezfs/tmpl/apt"
)

func TestWriteAptSources(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "repo-key.gpg")
	if err := os.WriteFile(key, []byte("binary keyring"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The host's sources, for "host": a deb822 file naming a keyring.
	defer func(old string) { apt.HostDir = old }(apt.HostDir)
	apt.HostDir = filepath.Join(dir, "apt")
	hostKey := filepath.Join(dir, "archive.gpg")
	os.WriteFile(hostKey, []byte("archive keyring"), 0o644)
	os.MkdirAll(filepath.Join(apt.HostDir, "sources.list.d"), 0o755)
	os.WriteFile(filepath.Join(apt.HostDir, "sources.list.d", "debian.sources"),
		[]byte("Types: deb\nURIs: http://mirror.invalid/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: "+hostKey+"\n"), 0o644)

	base := &tmpl.Template{PackageManager: "dpkg", Repositories: []string{"host", "deb [signed-by=" + key + "] /srv/repo ./"}}
	app := &tmpl.Template{Repositories: []string{"deb [trusted=yes arch=amd64] file:///srv/app ./"}}
	root := filepath.Join(dir, "root")
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	if _, err := WriteAptSources(root, &tmpl.Stack{Base: base, Layers: []*tmpl.Template{app}}); err != nil {
		t.Fatal(err)
	}
	list, err := os.ReadFile(filepath.Join(root, AptSourcesFile))
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := filepath.Glob(filepath.Join(root, aptKeyringDir, "*"))
	if len(keys) != 2 {
		t.Fatalf("keyrings copied: %v", keys)
	}
	for _, k := range keys {
		data, _ := os.ReadFile(k)
		want := "archive keyring"
		if strings.HasSuffix(k, "repo-key.gpg") {
			want = "binary keyring"
		}
		if string(data) != want {
			t.Errorf("%s: %q, want %q", k, data, want)
		}
		if !strings.Contains(string(list), "signed-by=/"+aptKeyringDir+"/"+filepath.Base(k)+"]") {
			t.Errorf("no source names %s:\n%s", k, list)
		}
	}
	for _, want := range []string{
		"http://mirror.invalid/debian bookworm main\n", "http://mirror.invalid/debian bookworm-updates main\n",
		"] file:/srv/repo ./\n", "deb [arch=amd64 trusted=yes] file:///srv/app ./\n",
	} {
		if !strings.Contains(string(list), want) {
			t.Errorf("sources: no %q in\n%s", want, list)
		}
	}

	// The container's tree is hostile: a symlinked directory on the way
	// is refused, never followed.
	outside := filepath.Join(dir, "outside")
	os.MkdirAll(outside, 0o755)
	evil := filepath.Join(dir, "evil")
	os.MkdirAll(filepath.Join(evil, "etc"), 0o755)
	os.Symlink(outside, filepath.Join(evil, "etc", "apt"))
	if _, err := WriteAptSources(evil, &tmpl.Stack{Base: base}); err == nil {
		t.Error("wrote through a symlinked etc/apt")
	}
	if left, _ := os.ReadDir(outside); len(left) != 0 {
		t.Errorf("written outside the container: %v", left)
	}
	// Not a Debian container: nothing written.
	if paths, err := WriteAptSources(evil, &tmpl.Stack{Base: &tmpl.Template{PackageManager: "tar"}}); err != nil || paths != nil {
		t.Errorf("tar template: %v %v", paths, err)
	}
}

func TestWriteNetworkFiles(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("host\n"), 0o644)
	os.Symlink(victim, filepath.Join(root, "etc", "resolv.conf"))
	if err := WriteNetworkFiles(root, Network{Hostname: "ct1", Nameservers: []string{"192.0.2.1"}}); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(victim); string(data) != "host\n" {
		t.Errorf("followed the container's symlink: %q", data)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "etc", "resolv.conf")); !strings.HasSuffix(string(data), "nameserver 192.0.2.1\n") {
		t.Errorf("resolv.conf: %q", data)
	}
	if data, _ := os.ReadFile(filepath.Join(root, "etc", "hostname")); string(data) != "ct1\n" {
		t.Errorf("hostname: %q", data)
	}
	evil := filepath.Join(dir, "evil")
	os.MkdirAll(evil, 0o755)
	os.Symlink(dir, filepath.Join(evil, "etc"))
	if err := WriteNetworkFiles(evil, Network{Hostname: "x"}); err == nil {
		t.Error("wrote through a symlinked etc")
	}
	if _, err := os.Stat(filepath.Join(dir, "hostname")); err == nil {
		t.Error("hostname written outside the container")
	}
	for _, bad := range []Network{{Hostname: "-x"}, {Hostname: "a b"}, {Nameservers: []string{"dns.example"}}} {
		if CheckNetwork(bad) == nil {
			t.Errorf("CheckNetwork(%+v) accepted", bad)
		}
	}
}
