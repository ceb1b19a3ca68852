package sqlsink

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// TestPlanNewRows: the fast path for batches of new rows gives exactly the
// full planner's steps, and stands aside (ok false) for every batch it
// does not cover: a key twice, a row that is not new, a second table or
// schema, a mix of inserts and upserts, a text, composite, NULL or missing
// key, unchanged columns, update mode.
func TestPlanNewRows(t *testing.T) {
	sc := func(keys ...int) *event.Schema {
		return &event.Schema{Source: "src", Stream: "src.public.t", Table: "t", Columns: []event.Column{
			{Name: "id", Type: event.TypeInt64, Key: true}, {Name: "name", Type: event.TypeString, Optional: true},
			{Name: "code", Type: event.TypeString, Optional: true},
		}, KeyIdx: keys}
	}
	s1, s2, sText, sPair := sc(0), sc(0), sc(2), sc(0, 2)
	row := func(id int64) []event.Value {
		return []event.Value{event.Int(id), event.String(fmt.Sprint("n", id)), event.String(fmt.Sprint("c", id))}
	}
	ev := func(op event.Op, s *event.Schema, id int64) event.Event {
		e := event.Event{Op: op, Schema: s, After: row(id)}
		if op == event.OpDelete || op == event.OpUpdate {
			e.Before = row(id)
		}
		if op == event.OpDelete {
			e.After = nil
		}
		return e
	}
	batch := func(op event.Op, s *event.Schema, ids ...int64) []event.Event {
		evs := make([]event.Event, len(ids))
		for i, id := range ids {
			evs[i] = ev(op, s, id)
		}
		return evs
	}
	shuffled := make([]int64, 500)
	for i := range shuffled {
		shuffled[i] = int64(i*7919%500) - 250
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	dup := append(append([]int64(nil), shuffled...), shuffled[17])
	with := func(evs []event.Event, i int, f func(*event.Event)) []event.Event {
		evs = append([]event.Event(nil), evs...)
		evs[i].After = append([]event.Value(nil), evs[i].After...)
		f(&evs[i])
		return evs
	}
	asc := batch(event.OpRead, s1, 1, 2, 3, 5, 8, 13)
	type tc struct {
		name  string
		evs   []event.Event
		mode  string
		skip  []int
		table func(i int) string
		fast  bool
	}
	cases := []tc{
		{name: "snapshot ascending", evs: asc, mode: ModeUpsert, fast: true},
		{name: "snapshot ascending, insert mode", evs: asc, mode: ModeInsert, fast: true},
		{name: "snapshot shuffled", evs: batch(event.OpRead, s1, shuffled...), mode: ModeUpsert, fast: true},
		{name: "creates, insert mode", evs: batch(event.OpCreate, s1, shuffled...), mode: ModeInsert, fast: true},
		{name: "creates, upsert mode", evs: batch(event.OpCreate, s1, shuffled...), mode: ModeUpsert, fast: true},
		{name: "skipped events", evs: batch(event.OpRead, s1, 1, 2, 2, 3), mode: ModeUpsert, skip: []int{1}, fast: true},
		{name: "all skipped", evs: asc, mode: ModeUpsert, skip: []int{0, 1, 2, 3, 4, 5}},
		{name: "a key twice, in order", evs: batch(event.OpRead, s1, 1, 2, 2, 3), mode: ModeUpsert},
		{name: "a key twice, shuffled", evs: batch(event.OpRead, s1, dup...), mode: ModeUpsert},
		{name: "descending then equal", evs: batch(event.OpRead, s1, 5, 4, 5), mode: ModeUpsert},
		{name: "reads and creates, insert mode", evs: append(batch(event.OpRead, s1, 1, 2), ev(event.OpCreate, s1, 3)), mode: ModeInsert},
		{name: "reads and creates, upsert mode", evs: append(batch(event.OpRead, s1, 1, 2), ev(event.OpCreate, s1, 3)), mode: ModeUpsert, fast: true},
		{name: "an update", evs: append(batch(event.OpRead, s1, 1, 2), ev(event.OpUpdate, s1, 3)), mode: ModeUpsert},
		{name: "a delete", evs: append(batch(event.OpRead, s1, 1, 2), ev(event.OpDelete, s1, 3)), mode: ModeUpsert},
		{name: "update mode", evs: asc, mode: ModeUpdate},
		{name: "two schemas", evs: append(batch(event.OpRead, s1, 1, 2), ev(event.OpRead, s2, 3)), mode: ModeUpsert},
		{name: "two tables", evs: asc, mode: ModeUpsert, table: func(i int) string { return fmt.Sprint("t", i%2) }},
		{name: "text key", evs: batch(event.OpRead, sText, 1, 2, 3), mode: ModeUpsert},
		{name: "composite key", evs: batch(event.OpRead, sPair, 1, 2, 3), mode: ModeUpsert},
		{name: "keyless", evs: batch(event.OpRead, sc(), 1, 2, 3), mode: ModeUpsert},
		{name: "NULL key", evs: with(asc, 3, func(e *event.Event) { e.After[0] = event.Null }), mode: ModeUpsert},
		{name: "NULL first key", evs: with(asc, 0, func(e *event.Event) { e.After[0] = event.Null }), mode: ModeUpsert},
		{name: "float key among ints", evs: with(asc, 2, func(e *event.Event) { e.After[0] = event.Float(4) }), mode: ModeUpsert},
		{name: "no after image", evs: with(asc, 4, func(e *event.Event) { e.After = nil }), mode: ModeUpsert},
		{name: "unchanged column", evs: with(asc, 1, func(e *event.Event) { e.After[1] = event.Unchanged }), mode: ModeUpsert},
		{name: "truncate", evs: append(batch(event.OpRead, s1, 1, 2), event.Event{Op: event.OpTruncate, Schema: s1}), mode: ModeUpsert},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tables := make([]string, len(c.evs))
			for i := range tables {
				tables[i] = "t"
				if c.table != nil {
					tables[i] = c.table(i)
				}
			}
			var skip []bool
			if c.skip != nil {
				skip = make([]bool, len(c.evs))
				for _, i := range c.skip {
					skip[i] = true
				}
			}
			opt := PlanOptions{Mode: c.mode, DeleteMode: DeleteHard, Truncate: true, Keys: func(s *event.Schema) []int { return s.KeyIdx }}
			st, ok := planNewRows(c.evs, tables, skip, opt)
			if ok != c.fast {
				t.Fatalf("fast path taken: %v, want %v", ok, c.fast)
			}
			want, wantErrs := planAll(c.evs, tables, skip, opt)
			got, gotErrs := Plan(c.evs, tables, skip, opt)
			if !reflect.DeepEqual(got, want) || fmt.Sprint(gotErrs) != fmt.Sprint(wantErrs) {
				t.Errorf("Plan:\ngot  %v %v\nwant %v %v", got, gotErrs, want, wantErrs)
			}
			if ok && (len(want) != 1 || !reflect.DeepEqual(st, want[0])) {
				t.Errorf("planNewRows:\ngot  %v\nwant %v", st, want)
			}
		})
	}
}
