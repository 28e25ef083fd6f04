package main

// measurer takes the samples of one workload on one target, one run at
// a time, so that the targets' runs can alternate.
type measurer struct {
	w   workload
	t   target
	d   *dataset
	run int              // runs made, warm-ups included
	ops map[string]int64 // FUSE requests during the measured runs
	r   result
}

// sample makes one measured run, after what it needs first: a warm-up
// for a warm workload, a fresh container, or dropped caches for a cold
// one. After an error it does nothing more.
func (m *measurer) sample() {
	w, t := m.w, m.t
	if m.r.Error != "" {
		return
	}
	fail := func(err error) { m.r.Error = err.Error() }
	// A warm run is warmed right before it, not once before all: this
	// machine kind's host takes pages out of the page cache within
	// seconds (a fifth of a 1 GiB file gone after 10 s idle, no reclaim
	// counted), and a warm read that finds them gone reads the disk.
	if !w.cold && !w.fresh && !w.once {
		if _, err := w.run(t, m.d, m.run); err != nil {
			fail(err)
			return
		}
		m.run++
	}
	if w.fresh && !w.once {
		if _, err := t.Fresh(0); err != nil {
			fail(err)
			return
		}
	}
	if w.cold {
		if _, err := t.Open(0); err != nil { // mounted before the caches go
			fail(err)
			return
		}
		if err := dropCaches(); err != nil {
			fail(err)
			return
		}
		settle(serverPIDs(t))
	}
	et, counted := t.(*ezfsTarget)
	var before map[string]int64
	if counted {
		before = et.opCounts()
	}
	v, err := w.run(t, m.d, m.run)
	m.run++
	if err != nil {
		fail(err)
		return
	}
	if counted {
		if m.ops == nil {
			m.ops = map[string]int64{}
		}
		for op, n := range et.opCounts() {
			m.ops[op] += n - before[op]
		}
	}
	m.r.Samples = append(m.r.Samples, v)
}

// result is the samples so far, with the FUSE requests per run.
func (m *measurer) result() result {
	r := m.r
	r.Workload, r.Target, r.Unit = m.w.label(), m.t.Name(), m.w.unit
	if n := int64(len(r.Samples)); m.ops != nil && n > 0 && !m.w.fresh {
		r.Ops = map[string]int64{}
		for op, v := range m.ops {
			if v/n > 0 {
				r.Ops[op] = v / n
			}
		}
	}
	return r
}
