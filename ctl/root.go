package ctl

import (
	"fmt"
	"os"
)

// requireRoot refuses a command only root can carry out, the one check
// of every such command: link entries are trusted.* attributes, package
// files keep their owners, and mounts need FUSE passthrough.
func requireRoot(what string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%s: needs root (link entries are trusted.* attributes, files keep their owners, mounts need FUSE passthrough); run it with sudo", what)
	}
	return nil
}
