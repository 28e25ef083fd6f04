package failpoint

import "testing"

func TestHit(t *testing.T) {
	var exited []int
	defer func(old func(int)) { Exit = old }(Exit)
	Exit = func(code int) { exited = append(exited, code) }
	for _, tc := range []struct {
		env  string
		name string
		step int
		exit bool
	}{
		{"", "ct-apply", 1, false},
		{"ct-apply:2", "ct-apply", 1, false},
		{"ct-apply:2", "ct-apply", 2, true},
		{"ct-apply:2", "seed", 2, false},
		{"ct-apply", "ct-apply", 2, false},
		{"ct-apply:x", "ct-apply", 2, false},
	} {
		exited = nil
		t.Setenv("EZFS_FAILPOINT", tc.env)
		Hit(tc.name, tc.step)
		if got := len(exited) == 1 && exited[0] == 137; got != tc.exit {
			t.Errorf("%q at %s:%d: exited %v, want %v", tc.env, tc.name, tc.step, exited, tc.exit)
		}
	}
}
