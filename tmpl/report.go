package tmpl

// Reporter shows the progress of long work: one line per step, and bars
// for downloads and unpacking. The command line gives a terminal bars and
// a log plain lines.
type Reporter interface {
	Step(format string, args ...any)
	Bar(desc string, total int64, bytes bool) Bar
}

// Bar is one progress bar.
type Bar interface {
	Add(n int64)
	Done()
}

// Quiet reports nothing.
type Quiet struct{}

func (Quiet) Step(string, ...any)         {}
func (Quiet) Bar(string, int64, bool) Bar { return quietBar{} }

type quietBar struct{}

func (quietBar) Add(int64) {}
func (quietBar) Done()     {}
