// Package ctl is the ezctl command line: one cli.Command per verb, each
// Action returning an error; main prints it and exits with ExitCode.
package ctl

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// App returns the ezctl application.
func App() *cli.App {
	return &cli.App{
		Name:  "ezctl",
		Usage: "containers sharing one copy of an OS, over the ezfs filesystem",
		Flags: globalFlags,
		Commands: append([]*cli.Command{
			templateCommand,
			repoCommand,
			cacheCommand,
			mountCommand,
			umountCommand,
			mountdCommand,
			fsckCommand,
		}, append(ctCommands, runtimeCommands...)...),
		HideHelpCommand: true,
		// main prints errors, once, as "ezctl: ..."
		ExitErrHandler: func(*cli.Context, error) {},
	}
}

// exitError carries an exit status other than 1.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// ExitCode is the documented exit status for an error returned by App:
// 0 success, 1 failure, 2 as `status` says.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var e *exitError
	if errors.As(err, &e) {
		return e.code
	}
	return 1
}
