package ctl

import (
	"fmt"
	"os"

	"github.com/ezfs/ezfs/tmpl"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// reporter shows steps as lines and, on a terminal, long work as bars.
type reporter struct{ tty bool }

func newReporter() tmpl.Reporter {
	return &reporter{tty: term.IsTerminal(int(os.Stdout.Fd()))}
}

func (r *reporter) Step(format string, args ...any) {
	fmt.Printf(format+"\n", args...)
}

func (r *reporter) Bar(desc string, total int64, bytes bool) tmpl.Bar {
	if total <= 0 {
		return noBar{}
	}
	if !r.tty {
		fmt.Println(desc + " ...")
		return noBar{}
	}
	opts := []progressbar.Option{
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWriter(os.Stdout),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionOnCompletion(func() { fmt.Println() }),
		progressbar.OptionClearOnFinish(),
	}
	if bytes {
		opts = append(opts, progressbar.OptionShowBytes(true))
	}
	return &bar{progressbar.NewOptions64(total, opts...)}
}

type bar struct{ b *progressbar.ProgressBar }

func (b *bar) Add(n int64) { b.b.Add64(n) }
func (b *bar) Done()       { b.b.Finish() }

type noBar struct{}

func (noBar) Add(int64) {}
func (noBar) Done()     {}
