package ctl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ezfs/ezfs/internal/atfile"
	"github.com/ezfs/ezfs/internal/linkattr"
	"github.com/ezfs/ezfs/internal/mountinfo"
	"github.com/ezfs/ezfs/mountd"
	"github.com/ezfs/ezfs/tmpl"
	container "github.com/ezfs/ezfs/tmpl/ct"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

var ctCommands = []*cli.Command{
	{Name: "create", Usage: "create a container from the cache of an OS template", ArgsUsage: "CTID --ostemplate NAME",
		Flags: []cli.Flag{&cli.StringFlag{Name: "ostemplate", Usage: "the OS template `NAME`", Required: true}}, Action: runCreate},
	{Name: "install", Usage: "add application templates to a container", ArgsUsage: "CTID APP...", Action: runInstall},
	{Name: "update", Usage: "move a container's packages to the newest versions", ArgsUsage: "CTID [APP...]", Action: runUpdate},
	{Name: "remove", Usage: "take application templates out of a container", ArgsUsage: "CTID APP...", Action: runRemove},
	{Name: "status", Usage: "exit 2 when updates are available, 0 when up to date", ArgsUsage: "CTID", Action: runStatus},
	{Name: "list", Usage: "list containers", Flags: []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print JSON"}}, Action: runList},
	{Name: "exec", Usage: "run a command inside a mounted container, in namespaces of its own", ArgsUsage: "CTID -- CMD...",
		Flags: []cli.Flag{netFlag}, Action: runExec},
	{Name: "destroy", Usage: "remove a container (not while mounted)", ArgsUsage: "CTID", Action: runDestroy},
}

func openCT(c *cli.Context) (*container.CT, error) {
	if c.NArg() < 1 {
		return nil, fmt.Errorf("%s: want a CTID (see %s --help)", c.Command.HelpName, c.Command.HelpName)
	}
	id, err := ctidArg(c)
	if err != nil {
		return nil, err
	}
	a, cfg, err := area(c)
	if err != nil {
		return nil, err
	}
	return container.Open(a, cfg, id)
}

// isMounted reports whether the container's root is a live ezfs mount.
func isMounted(root string) bool {
	m, ok, _ := mountinfo.Find(root)
	return ok && m.FSType == mountinfo.EzfsType && !mountinfo.Dead(root)
}

// ctOptions gives container operations a way into the container (its
// mount, through mountd, for the while if it is not mounted) and the
// invalidation of a mounted container's caches.
func ctOptions(c *cli.Context, ct *container.CT) container.Options {
	root := ct.Cfg.Root(ct.ID)
	opts := container.Options{Reporter: newReporter(), Mount: mountInProcess}
	opts.InContainer = func(fn func(string) error) error {
		if isMounted(root) {
			return fn(root)
		}
		cl, err := daemon(c)
		if err != nil {
			return err
		}
		os.MkdirAll(root, 0o755)
		ctx, cancel := context.WithTimeout(c.Context, time.Minute)
		defer cancel()
		if _, err := cl.Mount(ctx, mountd.Record{ID: ct.ID, Template: ct.Cfg.Template, Private: ct.Root, Mountpoint: root}); err != nil {
			return fmt.Errorf("mount container %s for its scripts: %w", ct.ID, err)
		}
		defer cl.Unmount(context.Background(), root, true)
		return fn(root)
	}
	if isMounted(root) {
		opts.Invalidate = func(paths []string) error {
			cl, err := daemon(c)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(c.Context, time.Minute)
			defer cancel()
			err = cl.Invalidate(ctx, root, paths)
			if errors.Is(err, mountd.ErrNotMounted) {
				return nil // served in the foreground by someone else: its caches expire
			}
			return err
		}
	}
	return opts
}

func runCreate(c *cli.Context) error {
	if err := needArgs(c, 1, "one CTID"); err != nil {
		return err
	}
	if err := requireRoot("create"); err != nil {
		return err
	}
	a, cfg, err := area(c)
	if err != nil {
		return err
	}
	id, err := ctidArg(c)
	if err != nil {
		return err
	}
	start := time.Now()
	ct, err := container.Create(c.Context, a, cfg, id, c.String("ostemplate"), container.Options{Reporter: newReporter(), Mount: mountInProcess})
	if err != nil {
		return err
	}
	fmt.Printf("created container %s from %s in %v (private area %s)\n", ct.ID, ct.OSTemplate, time.Since(start).Round(time.Millisecond), ct.Private)
	return nil
}

func printReport(rep *container.Report) {
	if rep == nil {
		return
	}
	for i, k := range rep.Kept {
		line := "kept " + k + " as the container changed it"
		if i < len(rep.New) {
			line += "; the package's version is " + rep.New[i]
		}
		fmt.Println(line)
	}
}

func runInstall(c *cli.Context) error {
	if c.NArg() < 2 {
		return fmt.Errorf("install: want a CTID and one or more APP templates")
	}
	if err := requireRoot("install"); err != nil {
		return err
	}
	ct, err := openCT(c)
	if err != nil {
		return err
	}
	apps := c.Args().Slice()[1:]
	rep, err := ct.Install(c.Context, apps, ctOptions(c, ct))
	printReport(rep)
	if err != nil {
		return err
	}
	fmt.Printf("installed %s into container %s\n", strings.Join(apps, " "), ct.ID)
	return nil
}

func runUpdate(c *cli.Context) error {
	if err := requireRoot("update"); err != nil {
		return err
	}
	ct, err := openCT(c)
	if err != nil {
		return err
	}
	ups, rep, err := ct.Update(c.Context, c.Args().Slice()[1:], ctOptions(c, ct))
	for _, u := range ups {
		fmt.Printf("%s %s -> %s (%s)\n", u.Name, u.From, u.To, u.Template)
	}
	printReport(rep)
	if err != nil {
		return err
	}
	if len(ups) == 0 {
		fmt.Printf("container %s is up to date\n", ct.ID)
	}
	return nil
}

func runRemove(c *cli.Context) error {
	if c.NArg() < 2 {
		return fmt.Errorf("remove: want a CTID and one or more APP templates")
	}
	if err := requireRoot("remove"); err != nil {
		return err
	}
	ct, err := openCT(c)
	if err != nil {
		return err
	}
	apps := c.Args().Slice()[1:]
	rep, err := ct.Remove(c.Context, apps, ctOptions(c, ct))
	printReport(rep)
	if err != nil {
		return err
	}
	fmt.Printf("removed %s from container %s\n", strings.Join(apps, " "), ct.ID)
	return nil
}

func runStatus(c *cli.Context) error {
	if err := needArgs(c, 1, "one CTID"); err != nil {
		return err
	}
	ct, err := openCT(c)
	if err != nil {
		return err
	}
	ups, err := ct.Status(c.Context, container.Options{})
	if err != nil {
		return err
	}
	if len(ups) == 0 {
		fmt.Printf("container %s is up to date\n", ct.ID)
		return nil
	}
	for _, u := range ups {
		fmt.Printf("%s %s -> %s (%s)\n", u.Name, u.From, u.To, u.Template)
	}
	return &exitError{code: 2, err: fmt.Errorf("container %s: %d updates available; apply them with: ezctl update %s", ct.ID, len(ups), ct.ID)}
}

// ctInfo is what list shows of a container.
type ctInfo struct {
	ID           string   `json:"id"`
	OSTemplate   string   `json:"ostemplate"`
	Templates    []string `json:"templates"`
	Mounted      bool     `json:"mounted"`
	Root         string   `json:"root"`
	Private      string   `json:"private"`
	PrivateBytes int64    `json:"private_bytes"` // disk the private area alone takes
	SharedBytes  int64    `json:"shared_bytes"`  // bytes its link entries read from the template area
}

func runList(c *cli.Context) error {
	a, cfg, err := area(c)
	if err != nil {
		return err
	}
	cts, err := tmpl.Containers(cfg)
	if err != nil {
		return err
	}
	infos := []ctInfo{}
	sizes := map[string]int64{}
	for _, ct := range cts {
		i := ctInfo{ID: ct.ID, OSTemplate: ct.OSTemplate, Templates: ct.Apps, Root: cfg.Root(ct.ID), Private: ct.Private}
		if i.Templates == nil {
			i.Templates = []string{}
		}
		i.Mounted = isMounted(i.Root)
		i.PrivateBytes, i.SharedBytes = usage(a, ct.Private, sizes)
		infos = append(infos, i)
	}
	if c.Bool("json") {
		return printJSON(infos)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "CTID\tOSTEMPLATE\tTEMPLATES\tMOUNTED\tPRIVATE\tSHARED")
	for _, i := range infos {
		m := "no"
		if i.Mounted {
			m = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", i.ID, i.OSTemplate, strings.Join(i.Templates, " "), m, human(i.PrivateBytes), human(i.SharedBytes))
	}
	return tw.Flush()
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fG", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fM", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0fK", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}

// usage sums the disk blocks a private area holds alone (not extents it
// shares with other files: a btrfs seed's, a reflinked copy-up's) and the
// sizes of the template files its link entries stand for. The area is
// walked by fds, never through a symlink, and a file is opened only if it
// is still the regular file just listed (a container's FIFO swapped in
// would block the listing).
func usage(a *tmpl.Area, private string, sizes map[string]int64) (priv, shared int64) {
	r, err := atfile.OpenRoot(private)
	if err != nil {
		return 0, 0
	}
	defer r.Close()
	tfd, err := atfile.OpenDirPath(a.Root)
	if err != nil {
		return 0, 0
	}
	defer unix.Close(tfd)
	atfile.Walk(r.FD(), func(dirfd int, name, _ string, st *unix.Stat_t) error {
		priv += st.Blocks * 512
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			return nil
		}
		v, ok, err := linkattr.GetAt(dirfd, name)
		if err != nil || !ok {
			if st.Blocks > 0 {
				priv -= min(st.Blocks*512, sharedBytesOf(dirfd, name, st))
			}
			return nil
		}
		if linkattr.Check(v) != nil {
			return nil // a malformed link reads as an I/O error: it stands for nothing
		}
		sz, ok := sizes[v]
		if !ok {
			// As the mount reads it: below the area, no symlink followed.
			var ts unix.Stat_t
			if atfile.StatBeneath(tfd, v, &ts) == nil && ts.Mode&unix.S_IFMT == unix.S_IFREG {
				sz = ts.Size
			}
			sizes[v] = sz
		}
		shared += sz
		return nil
	})
	return priv, shared
}

func sharedBytesOf(dirfd int, name string, st *unix.Stat_t) int64 {
	f, err := atfile.OpenRegular(dirfd, name, unix.O_RDONLY|unix.O_NOATIME, st)
	if err == unix.EPERM { // O_NOATIME on another's file, without CAP_FOWNER
		f, err = atfile.OpenRegular(dirfd, name, unix.O_RDONLY, st)
	}
	if err != nil {
		return 0
	}
	defer f.Close()
	return sharedBytes(int(f.Fd()))
}

func runDestroy(c *cli.Context) error {
	if err := needArgs(c, 1, "one CTID"); err != nil {
		return err
	}
	if err := requireRoot("destroy"); err != nil {
		return err
	}
	id, err := ctidArg(c)
	if err != nil {
		return err
	}
	a, cfg, err := area(c)
	if err != nil {
		return err
	}
	if err := container.Destroy(a, cfg, id, isMounted(cfg.Root(id))); err != nil {
		return err
	}
	fmt.Printf("destroyed container %s\n", id)
	return nil
}
