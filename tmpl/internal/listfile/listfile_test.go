package listfile

import (
	"slices"
	"testing"
)

func TestLines(t *testing.T) {
	for _, tc := range []struct {
		in, strip string
		lines     []string
	}{
		{"", "", nil},
		{"a\n\n  b  \n", "a\n\n  b  \n", []string{"a", "b"}},
		{"# all comment\nx # tail\n#\n", "\nx \n\n", []string{"x"}},
		{"deb http://h/d stable main", "deb http://h/d stable main", []string{"deb http://h/d stable main"}},
	} {
		if got := string(StripComments([]byte(tc.in))); got != tc.strip {
			t.Errorf("StripComments(%q) = %q, want %q", tc.in, got, tc.strip)
		}
		if got, err := Lines([]byte(tc.in)); err != nil || !slices.Equal(got, tc.lines) {
			t.Errorf("Lines(%q) = %q, %v; want %q", tc.in, got, err, tc.lines)
		}
	}
}
