// Command ezctl manages ezfs templates, containers and mounts.
package main

import (
	"fmt"
	"os"

	"github.com/ezfs/ezfs/ctl"
)

func main() {
	if err := ctl.Run(os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "ezctl: %v\n", err)
		os.Exit(ctl.ExitCode(err))
	}
}
