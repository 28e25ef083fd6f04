// Package failpoint ends the process at a named step when a test asks
// for it, so that crash recovery can be tested at exact places.
package failpoint

import (
	"os"
	"strconv"
	"strings"
)

// Hit ends the process abruptly, as SIGKILL would, when
// EZFS_FAILPOINT names this point and the step count: "ct-apply:3" dies
// at the third step of applying a container journal. Tests use it to
// interrupt an operation at an exact place; unset, it costs a lookup.
func Hit(name string, step int) {
	fp := os.Getenv("EZFS_FAILPOINT")
	if fp == "" {
		return
	}
	n, at, ok := strings.Cut(fp, ":")
	if !ok || n != name {
		return
	}
	if want, err := strconv.Atoi(at); err == nil && want == step {
		Exit(137)
	}
}

// Exit ends the process; a test in process makes it stop the operation
// in place instead (a panic it recovers), as a crash would.
var Exit = os.Exit
