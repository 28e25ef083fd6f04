package archive

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// A manifest lists every path of an installed package, one per line:
//
//	type mode uid gid size sha256 mtime dev "path" "link"
//
// mode is octal, path and link are Go-quoted, sha256 is "-" for all but
// regular files. It is written once, when the package is installed.

// WriteManifest writes entries to w.
func WriteManifest(w io.Writer, entries []Entry) error {
	bw := bufio.NewWriter(w)
	for _, e := range entries {
		sum := e.SHA256
		if sum == "" {
			sum = "-"
		}
		fmt.Fprintf(bw, "%c %o %d %d %d %s %d %d %s %s\n", e.Type, e.Mode, e.UID, e.GID, e.Size, sum, e.Mtime, e.Dev,
			strconv.Quote(e.Path), strconv.Quote(e.Link))
	}
	return bw.Flush()
}

// ReadManifest parses a manifest; name is for errors.
func ReadManifest(r io.Reader, name string) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		e, err := parseManifestLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

func parseManifestLine(line string) (Entry, error) {
	var e Entry
	f := strings.SplitN(line, " ", 9)
	if len(f) != 9 || len(f[0]) != 1 || !strings.Contains("dfhlcbp", f[0]) {
		return e, fmt.Errorf("malformed manifest line %q", line)
	}
	e.Type = f[0][0]
	mode, err1 := strconv.ParseUint(f[1], 8, 32)
	uid, err2 := strconv.Atoi(f[2])
	gid, err3 := strconv.Atoi(f[3])
	size, err4 := strconv.ParseInt(f[4], 10, 64)
	mtime, err5 := strconv.ParseInt(f[6], 10, 64)
	dev, err6 := strconv.ParseUint(f[7], 10, 64)
	for _, err := range []error{err1, err2, err3, err4, err5, err6} {
		if err != nil {
			return e, fmt.Errorf("malformed manifest line %q: %v", line, err)
		}
	}
	if mode > 07777 || uid < 0 || gid < 0 || size < 0 {
		return e, fmt.Errorf("malformed manifest line %q", line)
	}
	e.Mode, e.UID, e.GID, e.Size, e.Mtime, e.Dev = uint32(mode), uid, gid, size, mtime, dev
	if f[5] != "-" {
		e.SHA256 = f[5]
	}
	rest := f[8]
	p, tail, err := unquotePrefix(rest)
	if err != nil {
		return e, fmt.Errorf("malformed path in %q: %v", line, err)
	}
	link, tail, err := unquotePrefix(strings.TrimPrefix(tail, " "))
	if err != nil || tail != "" {
		return e, fmt.Errorf("malformed link in %q", line)
	}
	clean, err := CleanMember(p)
	if err != nil || clean == "" || clean != p {
		return e, fmt.Errorf("bad path %q in manifest", p)
	}
	e.Path, e.Link = p, link
	return e, nil
}

// unquotePrefix reads one Go-quoted string at the start of s.
func unquotePrefix(s string) (string, string, error) {
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return "", "", err
	}
	v, err := strconv.Unquote(q)
	return v, s[len(q):], err
}
