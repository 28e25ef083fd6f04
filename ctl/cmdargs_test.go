package ctl

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestArgumentErrors: every command refuses wrong arguments before it
// touches anything, with an error that says what it wants.
func TestArgumentErrors(t *testing.T) {
	n := newNode(t)
	conf := filepath.Join(t.TempDir(), "vz.conf")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"template", "install"}, "want one PATH"},
		{[]string{"template", "install", "a", "b"}, "want one PATH"},
		{[]string{"template", "info"}, "want one template NAME"},
		{[]string{"template", "remove"}, "want one template NAME"},
		{[]string{"template", "info", "nosuch"}, "nosuch"},
		{[]string{"cache", "create"}, "want one OS template NAME"},
		{[]string{"cache", "update", "a", "b"}, "want one OS template NAME"},
		{[]string{"cache", "remove"}, "want one OS template NAME"},
		{[]string{"cache", "remove", "../x"}, "bad template name"},
		{[]string{"repo", "index"}, "want one DIR"},
		{[]string{"mount"}, "want a CTID, or --template DIR --private DIR MOUNTPOINT"},
		{[]string{"mount", "--template", "/t"}, "give both --template and --private"},
		{[]string{"mount", "--template", "/t", "--private", "/p"}, "want one MOUNTPOINT"},
		{[]string{"mount", "--template", "/nonexistent-t", "--private", "/p", "/m"}, "template area /nonexistent-t"},
		{[]string{"mount", "101"}, "container 101 does not exist"},
		{[]string{"umount"}, "want a CTID or a MOUNTPOINT"},
		{[]string{"umount", "/nonexistent-m"}, "/nonexistent-m is not mounted"},
		{[]string{"umount", "/"}, "is not an ezfs mount"},
		{[]string{"create"}, `Required flag "ostemplate"`},
		{[]string{"create", "--ostemplate", "x"}, "want one CTID"},
		{[]string{"create", "101", "--ostemplate", "nosuch"}, "nosuch"},
		{[]string{"install", "101"}, "want a CTID and one or more APP templates"},
		{[]string{"remove", "101"}, "want a CTID and one or more APP templates"},
		{[]string{"status"}, "want one CTID"},
		{[]string{"update"}, "want a CTID"},
		{[]string{"status", "101"}, "101"},
		{[]string{"destroy"}, "want one CTID"},
		{[]string{"exec", "101"}, "want a CTID and a command"},
		{[]string{"fsck"}, "CTID"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) { n.fails(t, tc.want, tc.args...) })
	}
	// n.fails gives --vz: with --conf too, neither is chosen.
	n.fails(t, "exclude each other", "--conf", conf, "list")
	if _, err := ezctl(t, "--conf", conf, "list"); err == nil || !strings.Contains(err.Error(), conf) {
		t.Errorf("a missing --conf file: %v", err)
	}
}

// TestErrorsNameTheCommandOnce: the command an error names is the one
// that ran, however many ran before it in this process.
func TestErrorsNameTheCommandOnce(t *testing.T) {
	for i := 0; i < 3; i++ {
		_, err := ezctl(t, "status")
		if want := "ezctl status: want one CTID (see ezctl status --help)"; err == nil || err.Error() != want {
			t.Fatalf("run %d: %v, want %q", i, err, want)
		}
	}
}
