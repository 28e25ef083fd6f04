package ct

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ezfs/ezfs/internal/atfile"
	"github.com/ezfs/ezfs/tmpl"
	"golang.org/x/sys/unix"
)

// Network is a container's name and resolvers: HOSTNAME and NAMESERVER
// of its ve.conf, as vzctl set writes them.
type Network struct {
	Hostname    string   // default: the CTID
	Nameservers []string // default: the host's resolvers
}

// Where the host keeps its resolvers; a variable for tests.
var hostResolvConf = "/etc/resolv.conf"

var validHostname = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$`)

// CheckNetwork says what is wrong with a hostname or a nameserver.
func CheckNetwork(n Network) error {
	if n.Hostname != "" && (len(n.Hostname) > 64 || !validHostname.MatchString(n.Hostname)) {
		return fmt.Errorf("bad hostname %q: letters, digits and - in dot-separated labels, at most 64 characters", n.Hostname)
	}
	for _, ns := range n.Nameservers {
		if net.ParseIP(ns) == nil {
			return fmt.Errorf("bad nameserver %q: want an IPv4 or IPv6 address", ns)
		}
	}
	return nil
}

// LoadNetwork reads the container's network settings, defaults filled in.
func LoadNetwork(cfg *tmpl.VZConf, id string) (Network, error) {
	p := filepath.Join(cfg.Private(id), tmpl.VEConfFile)
	f, err := os.Open(p)
	if err != nil {
		return Network{}, err
	}
	defer f.Close()
	vars, _, err := tmpl.ParseShellVars(f, p)
	if err != nil {
		return Network{}, err
	}
	n := Network{Hostname: vars["HOSTNAME"], Nameservers: strings.Fields(vars["NAMESERVER"])}
	return n.withDefaults(id), nil
}

func (n Network) withDefaults(id string) Network {
	if n.Hostname == "" {
		n.Hostname = id
	}
	if len(n.Nameservers) == 0 {
		n.Nameservers = HostNameservers()
	}
	return n
}

// HostNameservers are the nameserver lines of the host's resolv.conf.
func HostNameservers() []string {
	f, err := os.Open(hostResolvConf)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if w := strings.Fields(sc.Text()); len(w) >= 2 && w[0] == "nameserver" && net.ParseIP(w[1]) != nil {
			out = append(out, w[1])
		}
	}
	return out
}

// SetNetwork records a new hostname and/or nameservers (empty: left as
// they are) in ve.conf and writes the container's /etc/hostname and
// /etc/resolv.conf to follow them.
func (ct *CT) SetNetwork(set Network, opts Options) error {
	if err := CheckNetwork(set); err != nil {
		return err
	}
	unlock, err := ct.lock()
	if err != nil {
		return err
	}
	defer unlock()
	p := filepath.Join(ct.Private, tmpl.VEConfFile)
	data, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	vars, order, err := tmpl.ParseShellVars(bytes.NewReader(data), p)
	if err != nil {
		return err
	}
	put := func(k, v string) {
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	if set.Hostname != "" {
		put("HOSTNAME", set.Hostname)
	}
	if len(set.Nameservers) > 0 {
		put("NAMESERVER", strings.Join(set.Nameservers, " "))
	}
	var b bytes.Buffer
	for _, k := range order {
		b.WriteString(tmpl.FormatShellVar(k, vars[k]) + "\n")
	}
	if err := atfile.WriteFile(p, b.Bytes(), 0o644); err != nil {
		return err
	}
	n := Network{Hostname: vars["HOSTNAME"], Nameservers: strings.Fields(vars["NAMESERVER"])}.withDefaults(ct.ID)
	if err := WriteNetworkFiles(ct.Root, n); err != nil {
		return fmt.Errorf("container %s: %w", ct.ID, err)
	}
	if opts.Invalidate != nil {
		if err := opts.Invalidate([]string{"etc/hostname", "etc/resolv.conf"}); err != nil && opts.Reporter != nil {
			opts.Reporter.Step("warning: container %s: could not invalidate the mount's caches: %v", ct.ID, err)
		}
	}
	return nil
}

// WriteNetworkFiles writes etc/hostname and etc/resolv.conf below a
// container's tree (its private area's root/). The tree is the
// container's: etc is opened with no symlink on the way and each file
// is written under a new name and renamed over the old (a symlink there
// is replaced, never followed).
func WriteNetworkFiles(root string, n Network) error {
	rootfd, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", root, err)
	}
	defer unix.Close(rootfd)
	etc, err := atfile.OpenBeneath(rootfd, "etc", unix.O_RDONLY|unix.O_DIRECTORY)
	if errors.Is(err, unix.ENOENT) {
		if err = unix.Mkdirat(rootfd, "etc", 0o755); err == nil || errors.Is(err, unix.EEXIST) {
			etc, err = atfile.OpenBeneath(rootfd, "etc", unix.O_RDONLY|unix.O_DIRECTORY)
		}
	}
	if err != nil {
		return fmt.Errorf("open %s/etc (a directory, not a symlink): %w", root, err)
	}
	defer unix.Close(etc)
	resolv := "# written by ezctl from NAMESERVER in ve.conf; change it with: ezctl set CTID --nameserver IP\n"
	for _, ns := range n.Nameservers {
		resolv += "nameserver " + ns + "\n"
	}
	for name, data := range map[string]string{"hostname": n.Hostname + "\n", "resolv.conf": resolv} {
		if err := atfile.WriteFileAt(etc, name, []byte(data), 0o644); err != nil {
			return fmt.Errorf("write %s/etc/%s: %w", root, name, err)
		}
	}
	return nil
}
