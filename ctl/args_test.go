package ctl

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReorderFlags(t *testing.T) {
	app := App()
	for _, tc := range []struct{ in, want []string }{
		{[]string{"ezctl", "template", "info", "web", "--json"}, []string{"ezctl", "template", "info", "--json", "web"}},
		{[]string{"ezctl", "--vz", "/x", "template", "list", "--json"}, []string{"ezctl", "--vz", "/x", "template", "list", "--json"}},
		{[]string{"ezctl", "umount", "/mnt", "--lazy"}, []string{"ezctl", "umount", "--lazy", "/mnt"}},
		{[]string{"ezctl", "mount", "--template", "T", "--private", "P", "M", "--foreground"},
			[]string{"ezctl", "mount", "--template", "T", "--private", "P", "--foreground", "M"}},
		{[]string{"ezctl", "template", "info", "--", "x", "--json"}, []string{"ezctl", "template", "info", "--", "x", "--json"}},
		{[]string{"ezctl", "--vz", "/v", "create", "101", "--ostemplate", "debian-12-x86_64"},
			[]string{"ezctl", "--vz", "/v", "create", "--ostemplate", "debian-12-x86_64", "101"}},
		{[]string{"ezctl", "create", "101", "--ostemplate=x"}, []string{"ezctl", "create", "--ostemplate=x", "101"}},
		{[]string{"ezctl", "exec", "101", "--", "ls", "--json"}, []string{"ezctl", "exec", "101", "--", "ls", "--json"}},
	} {
		if d := cmp.Diff(tc.want, reorderFlags(app, tc.in)); d != "" {
			t.Errorf("%v: %s", tc.in, d)
		}
	}
}
