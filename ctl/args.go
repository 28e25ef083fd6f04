package ctl

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// Run runs ezctl with args (os.Args). urfave/cli stops reading flags at
// the first argument, but people write `ezctl template info web --json`:
// boolean flags of the leaf command that follow its arguments are moved
// before them. Nothing after "--" is touched (exec's command line).
func Run(args []string) error {
	app := App()
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
		if args[j] == "--" {
			rest = append(rest, args[j:]...)
			break
		}
		if strings.HasPrefix(args[j], "--") && isBoolFlag(nil, leaf, args[j]) {
			flags = append(flags, args[j])
			continue
		}
		rest = append(rest, args[j])
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
