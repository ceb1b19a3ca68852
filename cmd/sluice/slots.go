package main

import (
	"maps"
	"slices"
	"sync"

	"github.com/sluice-dev/sluice/app"
	"github.com/sluice-dev/sluice/component"
)

// slotReporters holds, per pipeline, the sources of its latest start that
// report replication slots (component.SlotReporter), for the status API.
// A stopped pipeline keeps its sources' last measurement.
type slotReporters struct {
	mu sync.Mutex
	m  map[string][]component.SlotReporter
}

func (r *slotReporters) set(p *app.Pipeline) {
	var rs []component.SlotReporter
	for _, name := range slices.Sorted(maps.Keys(p.Sources)) {
		if sr, ok := p.Sources[name].(component.SlotReporter); ok {
			rs = append(rs, sr)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string][]component.SlotReporter{}
	}
	r.m[p.Graph.Name] = rs
}

func (r *slotReporters) get(pipeline string) []component.Slot {
	r.mu.Lock()
	rs := r.m[pipeline]
	r.mu.Unlock()
	var out []component.Slot
	for _, sr := range rs {
		out = append(out, sr.Slots()...)
	}
	return out
}
