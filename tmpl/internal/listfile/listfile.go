// Package listfile reads the line lists of template configs and
// repository files (repositories, mirrorlist, sources.list): one item a
// line, "#" comments to the end of a line.
package listfile

import (
	"bufio"
	"bytes"
	"strings"
)

// Lines returns the non-empty, non-comment lines of a list file.
func Lines(data []byte) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(StripComments(data)))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out, sc.Err()
}

// StripComments drops "#" comments to the end of each line.
func StripComments(data []byte) []byte {
	out := make([]byte, 0, len(data))
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if i := bytes.IndexByte(line, '#'); i >= 0 {
			out = append(out, line[:i]...)
			if bytes.HasSuffix(line, []byte("\n")) {
				out = append(out, '\n')
			}
			continue
		}
		out = append(out, line...)
	}
	return out
}
