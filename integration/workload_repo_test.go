//go:build workloads

package integration

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
)

// wlDeb is a Debian package the suite builds with dpkg-deb: files,
// conffiles and maintainer scripts, so that dpkg and apt do what they do
// with real packages.
type wlDeb struct {
	name, version, depends string
	files                  map[string]string // path below / -> contents; "bin/" paths are executable
	conffiles              []string
	scripts                map[string]string // preinst, postinst, prerm, postrm
}

// wlRepo is a flat apt repository signed with a throwaway key, which apt
// inside a container checks with its own gpgv (signed-by).
type wlRepo struct {
	dir, key string // the key sits in the repository, bound into containers with it
	entity   *openpgp.Entity
	stanzas  map[string]string // .deb file name -> Packages stanza
}

func newWlRepo(t *testing.T, dir string) *wlRepo {
	t.Helper()
	e, err := openpgp.NewEntity("ezfs workload archive", "", "archive@example.invalid", nil)
	must(t, err)
	r := &wlRepo{dir: dir, key: filepath.Join(dir, "archive.gpg"), entity: e, stanzas: map[string]string{}}
	mkdirs(t, dir)
	var kb bytes.Buffer
	must(t, e.Serialize(&kb))
	must(t, os.WriteFile(r.key, kb.Bytes(), 0o644))
	return r
}

// line is the sources.list line for the repository.
func (r *wlRepo) line() string {
	return fmt.Sprintf("deb [signed-by=%s] file://%s ./", r.key, r.dir)
}

func (r *wlRepo) add(t *testing.T, p wlDeb) {
	t.Helper()
	build := t.TempDir()
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: amd64\nMaintainer: ezfs tests <t@example.invalid>\nPriority: optional\nSection: misc\n", p.name, p.version)
	if p.depends != "" {
		control += "Depends: " + p.depends + "\n"
	}
	control += "Description: ezfs workload package " + p.name + "\n"
	writeFile(t, filepath.Join(build, "DEBIAN/control"), control)
	if len(p.conffiles) > 0 {
		writeFile(t, filepath.Join(build, "DEBIAN/conffiles"), "/"+strings.Join(p.conffiles, "\n/")+"\n")
	}
	for name, body := range p.scripts {
		writeFile(t, filepath.Join(build, "DEBIAN", name), body)
		must(t, os.Chmod(filepath.Join(build, "DEBIAN", name), 0o755))
	}
	// md5sums as dh_md5sums writes it (conffiles left out): dpkg makes
	// its own for a package without one, ezfs's registration does not.
	var sums []string
	for path, data := range p.files {
		writeFile(t, filepath.Join(build, path), data)
		if strings.Contains(path, "bin/") {
			must(t, os.Chmod(filepath.Join(build, path), 0o755))
		}
		if !slices.Contains(p.conffiles, path) {
			sums = append(sums, fmt.Sprintf("%x  %s\n", md5.Sum([]byte(data)), path))
		}
	}
	if len(sums) > 0 {
		sort.Strings(sums)
		writeFile(t, filepath.Join(build, "DEBIAN/md5sums"), strings.Join(sums, ""))
	}
	deb := fmt.Sprintf("%s_%s_amd64.deb", p.name, p.version)
	hostCmd(t, time.Minute, "dpkg-deb", "--root-owner-group", "-Zgzip", "--build", build, filepath.Join(r.dir, deb))
	data, err := os.ReadFile(filepath.Join(r.dir, deb))
	must(t, err)
	h := sha256.Sum256(data)
	r.stanzas[deb] = control + fmt.Sprintf("Filename: %s\nSize: %d\nSHA256: %s\n", deb, len(data), hex.EncodeToString(h[:]))
}

// publish writes Packages and a clearsigned InRelease over the old ones
// (by rename, as an archive would).
func (r *wlRepo) publish(t *testing.T) {
	t.Helper()
	var debs []string
	for d := range r.stanzas {
		debs = append(debs, d)
	}
	sort.Strings(debs)
	var pk strings.Builder
	for i, d := range debs {
		if i > 0 {
			pk.WriteString("\n")
		}
		pk.WriteString(r.stanzas[d])
	}
	packages := pk.String()
	h := sha256.Sum256([]byte(packages))
	release := fmt.Sprintf("Origin: ezfs workloads\nLabel: ezfs workloads\nSuite: ./\nDate: %s\nArchitectures: amd64\nSHA256:\n %s %d Packages\n",
		time.Now().Add(-time.Hour).UTC().Format(time.RFC1123), hex.EncodeToString(h[:]), len(packages))
	var out bytes.Buffer
	w, err := clearsign.Encode(&out, r.entity.PrivateKey, nil)
	must(t, err)
	_, err = w.Write([]byte(release))
	must(t, err)
	must(t, w.Close())
	for name, data := range map[string][]byte{"Packages": []byte(packages), "InRelease": out.Bytes()} {
		must(t, os.WriteFile(filepath.Join(r.dir, name+".new"), data, 0o644))
		must(t, os.Rename(filepath.Join(r.dir, name+".new"), filepath.Join(r.dir, name)))
	}
}

// The packages of the apt workload: a library, a tool with a conffile, a
// system user and state made by its maintainer scripts, a data package
// of many files, and a metapackage over them; version 1.1 of the library
// and the tool is the upgrade.
func wlPackages(version string) []wlDeb {
	toolScripts := map[string]string{
		"preinst": "#!/bin/sh\nset -e\necho \"preinst $*\" >> /var/log/wl-tool.scripts\n",
		"postinst": `#!/bin/sh
set -e
echo "postinst $*" >> /var/log/wl-tool.scripts
if [ "$1" = configure ]; then
	getent passwd wltool >/dev/null || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin wltool
	mkdir -p /var/lib/wl-tool
	chown wltool: /var/lib/wl-tool
	for i in $(seq 1 50); do echo "state $i of ` + version + `" > /var/lib/wl-tool/state.$i.tmp; mv /var/lib/wl-tool/state.$i.tmp /var/lib/wl-tool/state.$i; done
fi
`,
		"prerm": "#!/bin/sh\nset -e\necho \"prerm $*\" >> /var/log/wl-tool.scripts\n",
		"postrm": `#!/bin/sh
set -e
echo "postrm $*" >> /var/log/wl-tool.scripts
if [ "$1" = purge ]; then
	rm -rf /var/lib/wl-tool
	userdel wltool || true
fi
`,
	}
	data := map[string]string{}
	for i := 0; i < 400; i++ {
		data[fmt.Sprintf("usr/share/wl-data/%02d/item%03d.txt", i%20, i)] = strings.Repeat(fmt.Sprintf("item %d ", i), i%50+1)
	}
	pkgs := []wlDeb{
		{name: "wl-lib", version: version, files: map[string]string{"usr/lib/wl/libwl.txt": "libwl " + version + "\n"},
			scripts: map[string]string{"postinst": "#!/bin/sh\nset -e\n[ \"$1\" != configure ] || echo \"configured ${2:-new}\" >> /var/lib/wl-lib.log\n",
				"postrm": "#!/bin/sh\nset -e\n[ \"$1\" != purge ] || rm -f /var/lib/wl-lib.log\n"}},
		{name: "wl-tool", version: version, depends: "wl-lib (>= " + version + ")",
			files: map[string]string{"usr/bin/wl-tool": "#!/bin/sh\necho wl-tool " + version + "\n", "etc/wl-tool.conf": "verbose=no\n",
				"usr/share/doc/wl-tool/README": strings.Repeat("wl-tool "+version+"\n", 100)},
			conffiles: []string{"etc/wl-tool.conf"}, scripts: toolScripts},
	}
	if version == "1.0" {
		pkgs = append(pkgs,
			wlDeb{name: "wl-data", version: "1.0", depends: "wl-lib", files: data},
			wlDeb{name: "wl-meta", version: "1.0", depends: "wl-tool, wl-data"})
	}
	return pkgs
}
