package ct

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ezfs/ezfs/internal/atfile"
	"github.com/ezfs/ezfs/tmpl"
	"github.com/ezfs/ezfs/tmpl/apt"
	"github.com/ezfs/ezfs/tmpl/repo"
	"golang.org/x/sys/unix"
)

// AptSourcesFile is where a Debian container's own apt sources are
// written (container path); ezctl rewrites it whole, so a container's
// own sources belong in other files of sources.list.d.
const AptSourcesFile = "etc/apt/sources.list.d/ezfs.list"

// aptKeyringDir holds copies of the keyrings the sources name.
const aptKeyringDir = "etc/apt/keyrings"

// aptSources renders the stack's repositories (for "host": the host's
// sources) as sources.list lines for the container, with each keyring
// they name to be copied in: container path -> contents.
func aptSources(st *tmpl.Stack) (string, map[string][]byte, error) {
	var b strings.Builder
	b.WriteString("# written by ezctl from the templates' repositories; ezctl rewrites this file\n")
	keys := map[string][]byte{}
	for _, line := range st.Repositories() {
		ss, err := apt.Dpkg{}.ParseSource(line)
		if err != nil {
			return "", nil, fmt.Errorf("template %s: %w", st.Base.Name(), err)
		}
		for _, s := range ss {
			l, err := aptLine(s, keys)
			if err != nil {
				return "", nil, err
			}
			b.WriteString(l + "\n")
		}
	}
	return b.String(), keys, nil
}

func aptLine(s *repo.Source, keys map[string][]byte) (string, error) {
	var opts []string
	if a := s.Options["arch"]; a != "" {
		opts = append(opts, "arch="+a)
	}
	if s.Trusted() {
		opts = append(opts, "trusted=yes")
	}
	var signed []string
	if inline := s.Options["signed-by-inline"]; inline != "" {
		sum := sha256.Sum256([]byte(inline))
		p := aptKeyringDir + "/ezfs-" + hex.EncodeToString(sum[:8]) + ".asc"
		keys[p] = []byte(inline + "\n")
		signed = append(signed, "/"+p)
	}
	if sb := s.Options["signed-by"]; sb != "" {
		for _, f := range strings.Split(sb, ",") {
			data, err := os.ReadFile(f)
			if err != nil {
				return "", fmt.Errorf("repository %s: keyring for the container: %w", s.URI, err)
			}
			sum := sha256.Sum256(data)
			// The digest keeps two keyrings of one name apart.
			p := aptKeyringDir + "/ezfs-" + hex.EncodeToString(sum[:4]) + "-" + filepath.Base(f)
			keys[p] = data
			signed = append(signed, "/"+p)
		}
	}
	if len(signed) > 0 {
		opts = append(opts, "signed-by="+strings.Join(signed, ","))
	}
	uri := s.URI
	if strings.HasPrefix(uri, "/") {
		uri = "file:" + uri // apt wants a scheme
	}
	l := "deb "
	if len(opts) > 0 {
		l += "[" + strings.Join(opts, " ") + "] "
	}
	l += uri + " " + s.Suite
	if len(s.Components) > 0 {
		l += " " + strings.Join(s.Components, " ")
	}
	return l, nil
}

// WriteAptSources gives a Debian container (its tree, the private area's
// root/) the stack's repositories as its own apt sources, and the
// keyrings they name, so that apt-get works inside. Other package
// managers' containers are left alone. The tree is the container's:
// directories are opened with no symlink on the way, files replaced by
// rename.
func WriteAptSources(root string, st *tmpl.Stack) ([]string, error) {
	if st.PackageManager() != "dpkg" {
		return nil, nil
	}
	list, keys, err := aptSources(st)
	if err != nil {
		return nil, err
	}
	rootfd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", root, err)
	}
	defer unix.Close(rootfd)
	files := map[string][]byte{AptSourcesFile: []byte(list)}
	for p, data := range keys {
		files[p] = data
	}
	var paths []string
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		dirfd, err := mkdirsBeneath(rootfd, filepath.Dir(p))
		if err != nil {
			return nil, fmt.Errorf("%s/%s (directories, not symlinks): %w", root, filepath.Dir(p), err)
		}
		err = atfile.WriteFileAt(dirfd, filepath.Base(p), files[p], 0o644)
		unix.Close(dirfd)
		if err != nil {
			return nil, fmt.Errorf("write %s/%s: %w", root, p, err)
		}
	}
	return paths, nil
}

// mkdirsBeneath opens dir below rootfd, making what is missing, with no
// symlink and no ".." on the way.
func mkdirsBeneath(rootfd int, dir string) (int, error) {
	fd, err := unix.Dup(rootfd)
	if err != nil {
		return -1, err
	}
	for _, name := range strings.Split(dir, "/") {
		next, err := atfile.OpenBeneath(fd, name, unix.O_RDONLY|unix.O_DIRECTORY)
		if errors.Is(err, unix.ENOENT) {
			if err = unix.Mkdirat(fd, name, 0o755); err == nil || errors.Is(err, unix.EEXIST) {
				next, err = atfile.OpenBeneath(fd, name, unix.O_RDONLY|unix.O_DIRECTORY)
			}
		}
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}

// refreshAptSources rewrites the container's apt sources after its
// application templates changed.
func (ct *CT) refreshAptSources(opts Options) error {
	st, err := ct.stack()
	if err != nil {
		return err
	}
	paths, err := WriteAptSources(ct.Root, st)
	if err != nil {
		return fmt.Errorf("container %s: apt sources: %w", ct.ID, err)
	}
	if opts.Invalidate != nil && len(paths) > 0 {
		opts.Invalidate(paths)
	}
	return nil
}
