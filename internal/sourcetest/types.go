package sourcetest

import (
	"math"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// types reads the harness's type matrix, a row of values and a row of
// NULLs, existing (snapshot path) and inserted after the start (stream
// path): every column must have its exact type and type name, every value
// must be exactly the expected event.Value, and NULL must be event.Null.
// Float32 columns must carry float32 values (widened exactly) whatever the
// harness expects: that is the event model's one representation. A source
// with Caps.Shapes types each document by its shape: the row of NULLs has
// a schema of its own, every column typed Harness.NullType.
func (s *suite) types(t *testing.T) {
	caps := s.h.Caps
	tg := s.h.Setup(t)
	const table = "ty"
	tg.CreateTypes(t, table)
	tg.InsertTypes(t, table, 1, false)
	tg.InsertTypes(t, table, 2, true)
	rec := newRecorder(0)
	r := start(t, "run", tg, Params{Table: table, BatchSize: 10}, nil, rec)
	n := 2
	r.waitFor(t, "the 2 existing rows", func() bool { return rec.count() >= n })
	if caps.Stream {
		tg.InsertTypes(t, table, 3, false)
		tg.InsertTypes(t, table, 4, true)
		n = 4
		r.waitFor(t, "the 2 inserted rows", func() bool { return rec.count() >= n })
	}
	r.stop(t)
	s.checkRun(t, r)
	evs := rec.events(0)
	if len(evs) != n {
		t.Fatalf("%d events, want %d (one per row)", len(evs), n)
	}
	key := s.h.key()
	known := map[string]bool{key: true}
	for _, x := range s.h.Extra {
		known[x] = true
	}
	for _, tc := range s.h.Types {
		known[tc.Column] = true
	}
	// checkColumns checks a schema's columns: the row of values (or, with
	// Caps.Shapes, a row of NULLs: null) is typed as the matrix says.
	checkColumns := func(sch *event.Schema, row int64, null bool) {
		t.Helper()
		for _, col := range sch.Columns {
			if !known[col.Name] {
				t.Errorf("the table has column %s, which the type matrix does not list", col.Name)
			}
		}
		for _, tc := range s.h.Types {
			i := sch.ColumnIndex(tc.Column)
			if i < 0 {
				t.Errorf("column %s is missing", tc.Column)
				continue
			}
			col := sch.Columns[i]
			switch {
			case null:
				if col.Type != s.h.NullType || col.TypeName != s.h.NullTypeName || !col.Optional {
					t.Errorf("row %d (NULLs, a shape of its own): column %s: type %s, type name %q, optional %v; want %s, %q, optional",
						row, tc.Column, col.Type, col.TypeName, col.Optional, s.h.NullType, s.h.NullTypeName)
				}
			case col.Type != tc.Type || col.TypeName != tc.TypeName || !col.Optional:
				t.Errorf("column %s: type %s, type name %q, optional %v; want %s, %q, optional (it holds NULL)",
					tc.Column, col.Type, col.TypeName, col.Optional, tc.Type, tc.TypeName)
			}
		}
	}
	sch := evs[0].Schema
	checkColumns(sch, 1, false)
	for k, e := range evs {
		id := int64(k + 1)
		path := "snapshot"
		want := event.OpRead
		if !caps.Snapshot || id > 2 {
			path, want = "stream", event.OpCreate
		}
		if e.Op != want {
			t.Errorf("row %d: op %s, want %s", id, e.Op, want)
		}
		null := id%2 == 0
		switch {
		case caps.Shapes && k > 0 && e.Schema != nil:
			// Each document's own shape; checkRun checked that the
			// schemas follow the shapes.
			sch = e.Schema
			checkColumns(sch, id, null)
		case e.Schema != sch:
			continue // checkRun reports it
		}
		if i := sch.ColumnIndex(key); i < 0 || !e.After[i].Equal(event.Int(id)) {
			t.Fatalf("event %d is not row %d (rows come in key and commit order)", k, id)
		}
		for _, tc := range s.h.Types {
			i := sch.ColumnIndex(tc.Column)
			if i < 0 {
				continue
			}
			got, wantV := e.After[i], tc.Want
			if null {
				wantV = event.Null
			}
			if !got.Equal(wantV) {
				t.Errorf("%s row %d: %s = %s (%#v); want %s (%#v)", path, id, tc.Column, got.Text(), got, wantV.Text(), wantV)
			}
			// The event model, whatever the harness expects: a float32
			// column carries the stored float32 widened exactly, so the
			// same stored value is the same event.Value from every source.
			if f := got.AsFloat(); tc.Type == event.TypeFloat32 && got.Kind == event.KindFloat && !math.IsNaN(f) && float64(float32(f)) != f {
				t.Errorf("%s row %d: %s = %v is not a float32 value; a float32 column carries the float32 widened exactly, float64(float32(x)) (%v)",
					path, id, tc.Column, f, float64(float32(f)))
			}
		}
	}
}
