package sinktest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// verify compares what the destination holds (got, read by Target.Read)
// with the model. written is every event the suite handed to the sink's
// Write, in order, retries and replays included: what a sink that writes
// replays again may hold. what names the moment for messages.
func (s *suite) verify(t *testing.T, what string, m *model, got []Record, written []event.Event) {
	t.Helper()
	for _, r := range got {
		if m.rejected[r] {
			t.Errorf("%s: the destination holds %s, an event the sink rejected (RecordErrors)", what, r)
		}
	}
	switch {
	case !s.h.Caps.History:
		s.verifyState(t, what, m, got)
	case !s.h.Caps.Duplicates:
		have := byKey(got)
		for _, k := range keysOf(have, m.hist) {
			if !slices.Equal(have[k], m.hist[k]) {
				t.Errorf("%s: key %d: the destination holds %s; want every change exactly once, in order: %s",
					what, k, list(have[k]), list(m.hist[k]))
			}
		}
	default:
		have, given := byKey(got), byKey(records(written))
		for _, k := range keysOf(have, m.hist) {
			h, w, want := have[k], given[k], m.hist[k]
			if !subsequence(h, w) {
				t.Errorf("%s: key %d: the destination holds %s, which is not the records the sink was given (%s) in their order, some left out at most",
					what, k, list(h), list(w))
				continue
			}
			if v := view(h, want); !slices.Equal(v, want) {
				t.Errorf("%s: key %d: the destination holds %s; read skipping records older than one already read, that is %s; want every change once, in order: %s",
					what, k, list(h), list(v), list(want))
			}
		}
	}
}

// verifyState compares a last-state destination with the model's rows.
func (s *suite) verifyState(t *testing.T, what string, m *model, got []Record) {
	t.Helper()
	have := map[int64]string{}
	for _, r := range got {
		if r.Deleted {
			t.Errorf("%s: Target.Read returned a delete (%s) for a destination that keeps the last state", what, r)
			continue
		}
		if v, dup := have[r.ID]; dup {
			t.Errorf("%s: key %d is in the destination twice (%s and %s)", what, r.ID, v, r.V)
		}
		have[r.ID] = r.V
	}
	var bad []string
	for _, k := range keysOf(have, m.state) {
		h, hok := have[k]
		w, wok := m.state[k]
		switch {
		case hok && !wok:
			bad = append(bad, fmt.Sprintf("key %d holds %s; want no row (deleted or never written)", k, h))
		case !hok && wok:
			bad = append(bad, fmt.Sprintf("key %d is missing; want %s", k, w))
		case h != w:
			bad = append(bad, fmt.Sprintf("key %d holds %s; want %s", k, h, w))
		}
	}
	if len(bad) > 0 {
		t.Errorf("%s: the destination is not the last state of every key (%d of %d keys wrong):\n\t%s",
			what, len(bad), len(keysOf(have, m.state)), strings.Join(bad, "\n\t"))
	}
}

// subsequence reports whether h is w with some elements left out.
func subsequence(h, w []Record) bool {
	i := 0
	for _, r := range w {
		if i < len(h) && h[i] == r {
			i++
		}
	}
	return i == len(h)
}

// view is what a reader of a history that skips every record not after
// the newest change it has read (by the changes' order, want) keeps of h.
// Records that are not changes at all are kept, so that they show.
func view(h, want []Record) []Record {
	at := make(map[Record]int, len(want))
	for i, r := range want {
		at[r] = i
	}
	var out []Record
	top := -1
	for _, r := range h {
		i, ok := at[r]
		switch {
		case !ok:
			out = append(out, r)
		case i > top:
			out = append(out, r)
			top = i
		}
	}
	return out
}

// list renders records for messages, eliding the middle of long lists.
func list(rs []Record) string {
	if len(rs) == 0 {
		return "[]"
	}
	var parts []string
	for i, r := range rs {
		if len(rs) > 24 && i >= 10 && i < len(rs)-10 {
			if i == 10 {
				parts = append(parts, fmt.Sprintf("…(%d more)…", len(rs)-20))
			}
			continue
		}
		parts = append(parts, r.String())
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// describe renders a batch's changes for logs.
func describe(evs []event.Event) string {
	var parts []string
	for _, r := range records(evs) {
		parts = append(parts, r.String())
	}
	return strings.Join(parts, ", ")
}
