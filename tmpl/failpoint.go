package tmpl

import (
	"os"
	"strconv"
	"strings"
)

// failpoint ends the process abruptly, as SIGKILL would, when
// EZFS_FAILPOINT names this point and the step count: "ct-apply:3" dies
// at the third step of applying a container journal. Tests use it to
// interrupt an operation at an exact place; unset, it costs a lookup.
func failpoint(name string, step int) {
	fp := os.Getenv("EZFS_FAILPOINT")
	if fp == "" {
		return
	}
	n, at, ok := strings.Cut(fp, ":")
	if !ok || n != name {
		return
	}
	if want, err := strconv.Atoi(at); err == nil && want == step {
		os.Exit(137)
	}
}
