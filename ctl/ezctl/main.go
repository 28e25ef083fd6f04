// Command ezctl manages ezfs templates, containers and mounts.
package main

import (
	"fmt"
	"os"

	"github.com/ezfs/ezfs/ctl"
	"github.com/ezfs/ezfs/internal/nsexec"
)

func main() {
	nsexec.MaybeInit() // re-executed as a container's first process by exec/enter
	if err := ctl.Run(os.Args); err != nil {
		fmt.Fprintf(os.Stderr, "ezctl: %v\n", err)
		os.Exit(ctl.ExitCode(err))
	}
}
