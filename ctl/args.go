package ctl

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// Run runs ezctl with args (os.Args). urfave/cli stops reading flags at
// the first argument, but people (and DESIGN.md) write `ezctl create 101
// --ostemplate NAME` and `ezctl template info web --json`: flags of the
// leaf command that follow its arguments are moved before them. Nothing
// after "--" is touched (exec's command line).
func Run(args []string) error {
	app := App()
	// urfave/cli prefixes a command's HelpName with the app's name on
	// every run, and the commands are package values: a second Run in one
	// process (the tests) would name "ezctl ezctl status" in its errors.
	for _, c := range app.Commands {
		c.HelpName = ""
	}
	return app.Run(reorderFlags(app, args))
}

func reorderFlags(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	cmds := app.Commands
	var leaf *cli.Command
	i := 1
	for ; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			if a == "--" {
				return args
			}
			if !isBoolFlag(app.Flags, leaf, a) && !strings.Contains(a, "=") {
				i++ // the flag's value
			}
			continue
		}
		next := findCommand(cmds, a)
		if next == nil {
			break
		}
		leaf, cmds = next, next.Subcommands
	}
	if leaf == nil || i >= len(args) {
		return args
	}
	var flags, rest []string
	for j := i; j < len(args); j++ {
		a := args[j]
		if a == "--" {
			rest = append(rest, args[j:]...)
			break
		}
		if strings.HasPrefix(a, "-") && hasFlag(leaf, a) {
			flags = append(flags, a)
			if !isBoolFlag(nil, leaf, a) && !strings.Contains(a, "=") && j+1 < len(args) {
				j++
				flags = append(flags, args[j])
			}
			continue
		}
		rest = append(rest, a)
	}
	out := append(append(append([]string{}, args[:i]...), flags...), rest...)
	return out
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.Name == name {
			return c
		}
		for _, a := range c.Aliases {
			if a == name {
				return c
			}
		}
	}
	return nil
}

// hasFlag reports whether arg is one of the leaf command's flags.
func hasFlag(leaf *cli.Command, arg string) bool {
	name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
	for _, f := range leaf.Flags {
		for _, n := range f.Names() {
			if n == name {
				return true
			}
		}
	}
	return false
}

func isBoolFlag(global []cli.Flag, leaf *cli.Command, arg string) bool {
	name := strings.TrimLeft(arg, "-")
	name, _, _ = strings.Cut(name, "=")
	flags := global
	if leaf != nil {
		flags = leaf.Flags
	}
	for _, f := range flags {
		if bf, ok := f.(*cli.BoolFlag); ok {
			for _, n := range bf.Names() {
				if n == name {
					return true
				}
			}
		}
	}
	return false
}
