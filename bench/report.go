package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// result is every sample of one workload on one target.
type result struct {
	Workload string           `json:"workload"`
	Target   string           `json:"target"`
	Unit     string           `json:"unit"`
	Samples  []float64        `json:"samples"`
	Error    string           `json:"error,omitempty"`
	Ops      map[string]int64 `json:"fuse_ops_per_run,omitempty"` // ezfs: requests mountd served per run
}

func (r result) median() float64 {
	if len(r.Samples) == 0 {
		return 0
	}
	s := append([]float64(nil), r.Samples...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (r result) minmax() (float64, float64) {
	lo, hi := r.Samples[0], r.Samples[0]
	for _, v := range r.Samples {
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi
}

// ratio compares with native: for times native/target (1.0 is native
// speed, higher is better), for sizes target/native.
func ratio(r, native result) float64 {
	n, v := native.median(), r.median()
	if n == 0 || v == 0 {
		return 0
	}
	if r.Unit == "s" {
		return n / v
	}
	return v / n
}

func format(v float64, unit string) string {
	switch unit {
	case "s":
		switch {
		case v < 1e-3:
			return fmt.Sprintf("%.0fµs", v*1e6)
		case v < 1:
			return fmt.Sprintf("%.1fms", v*1e3)
		}
		return fmt.Sprintf("%.2fs", v)
	case "B":
		return fmt.Sprintf("%.0fMiB", v/(1<<20))
	}
	return fmt.Sprint(v)
}

func printTable(w io.Writer, results []result) {
	fmt.Fprintf(w, "%-16s %-20s %10s %10s %10s %9s\n", "workload", "target", "median", "min", "max", "vs native")
	native := map[string]result{}
	for _, r := range results {
		if r.Target == "native" {
			native[r.Workload] = r
		}
	}
	for _, r := range results {
		if r.Error != "" {
			fmt.Fprintf(w, "%-16s %-20s %s\n", r.Workload, r.Target, "error: "+r.Error)
			continue
		}
		lo, hi := r.minmax()
		rs := ""
		if n, ok := native[r.Workload]; ok {
			rs = fmt.Sprintf("%.2f", ratio(r, n))
			if r.Unit == "B" {
				rs += "x"
			}
		}
		fmt.Fprintf(w, "%-16s %-20s %10s %10s %10s %9s\n", r.Workload, r.Target,
			format(r.median(), r.Unit), format(lo, r.Unit), format(hi, r.Unit), rs)
	}
	fmt.Fprintln(w, strings.Repeat("-", 80))
	fmt.Fprintln(w, "vs native: for times native/target (1.00 = native speed, higher is better); for sizes target/native")
}

func writeJSON(path string, meta map[string]any, results []result, memory, dens, densBtrfs []densityResult) error {
	b, err := json.MarshalIndent(map[string]any{"meta": meta, "results": results, "mountd_memory": memory, "density": dens, "density_btrfs": densBtrfs}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// printOps lists, per workload, the FUSE requests ezfs served per run.
func printOps(w io.Writer, results []result) {
	fmt.Fprintln(w, "\nFUSE requests ezfs served per run (from mountd status):")
	for _, r := range results {
		if r.Target != "ezfs" || len(r.Ops) == 0 {
			continue
		}
		var total int64
		var parts []string
		for op, n := range r.Ops {
			total += n
			parts = append(parts, fmt.Sprintf("%s %d", op, n))
		}
		sort.Strings(parts)
		fmt.Fprintf(w, "  %-16s %8d  %s\n", r.Workload, total, strings.Join(parts, ", "))
	}
}
