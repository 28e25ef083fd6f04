package main

import (
	"fmt"
	"html"
	"os"
	"strings"
)

// writeSVG draws, for every time workload, one bar per target: its
// speed as a fraction of native (1.0 = native; longer is faster); below
// them, the lines of figures that have no native to compare with.
func writeSVG(path, data string, results []result, lines []string) error {
	native := map[string]result{}
	var workloads []string
	byWorkload := map[string][]result{}
	for _, r := range results {
		if r.Unit != "s" || r.Error != "" {
			continue
		}
		if r.Target == "native" {
			native[r.Workload] = r
		}
		if _, ok := byWorkload[r.Workload]; !ok {
			workloads = append(workloads, r.Workload)
		}
		byWorkload[r.Workload] = append(byWorkload[r.Workload], r)
	}
	colors := map[string]string{"native": "#888888", "ezfs": "#1f77b4", "ezfs-nopassthrough": "#9ecae1",
		"overlay": "#ff7f0e", "fuse-overlayfs": "#2ca02c"}
	const (
		left, barH, gap, width = 150, 12, 10, 420
	)
	var b strings.Builder
	y := 40
	for _, w := range workloads {
		n, ok := native[w]
		if !ok {
			continue
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="12" text-anchor="end">%s</text>`+"\n", left-8, y+barH, html.EscapeString(w))
		for _, r := range byWorkload[w] {
			ratio := ratio(r, n)
			shown := min(ratio, 2.0)
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", left, y, shown/2*width, barH-2, colors[r.Target])
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="10">%s %.2f</text>`+"\n", float64(left)+shown/2*width+4, y+barH-3, r.Target, ratio)
			y += barH
		}
		y += gap
	}
	y0 := y
	for _, l := range lines {
		y += 14
		fmt.Fprintf(&b, `<text x="10" y="%d" font-size="11" font-family="monospace" xml:space="preserve">%s</text>`+"\n", y+14, html.EscapeString(l))
	}
	if len(lines) > 0 {
		y += 20
	}
	one := left + width/2
	header := fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif">
<rect width="100%%" height="100%%" fill="white"/>
<text x="10" y="20" font-size="14">ezbench: speed as a fraction of native (1.0 = native, longer is faster) — %s</text>
<line x1="%d" y1="30" x2="%d" y2="%d" stroke="#444" stroke-dasharray="4,3"/>
<text x="%d" y="%d" font-size="10" text-anchor="middle">native</text>
`, max(left+width+170, 820), y+30, html.EscapeString(data), one, one, y0, one, y0+14)
	return os.WriteFile(path, []byte(header+b.String()+"</svg>\n"), 0o644)
}
