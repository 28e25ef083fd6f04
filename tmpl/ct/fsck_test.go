package ct

import "testing"

func TestIsStagingOf(t *testing.T) {
	for _, tc := range []struct {
		name, base string
		want       bool
	}{
		{".new-7-12345", "7", true}, {".destroy-7-1", "7", true}, {".new-7-9-12345", "7", false},
		{".destroy-7-9-12345", "7", false}, {".new-7-9-12345", "7-9", true}, {".new-7-", "7", false},
		{".new-70-1", "7", false}, {"7", "7", false},
	} {
		if got := isStagingOf(tc.name, tc.base); got != tc.want {
			t.Errorf("isStagingOf(%q, %q) = %v", tc.name, tc.base, got)
		}
	}
}
