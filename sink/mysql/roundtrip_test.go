package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink/sqltest"
)

// writeCounters are the session counters a Write moves, from the server.
var writeCounters = []string{"Com_begin", "Com_commit", "Com_load", "Com_rollback", "Com_savepoint",
	"Com_release_savepoint", "Com_rollback_to_savepoint", "Com_stmt_prepare", "Com_stmt_close",
	"Com_stmt_execute", "Questions"}

// sessionCounters reads writeCounters of the only session of d's pool.
func sessionCounters(t *testing.T, d *dialect) map[string]int64 {
	t.Helper()
	rs, err := d.db.QueryContext(context.Background(), "SHOW SESSION STATUS WHERE Variable_name IN ('"+strings.Join(writeCounters, "', '")+"')")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	m := map[string]int64{}
	for rs.Next() {
		var k string
		var v int64
		if err := rs.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		m[k] = v
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestWriteStatements: what one Write of a batch of new rows asks the
// server, counted by the server (the session counters of the sink's only
// connection): the Write after the first (the table's columns, types and
// the positions table known) begins, locks the positions row with the
// statement prepared by the first Write, loads the rows in one LOAD DATA
// inside one savepoint (no savepoint of the load's own, no RELEASE: a
// savepoint of the same name replaces it and COMMIT ends it), reads the
// warning count, writes the position and commits.
func TestWriteStatements(t *testing.T) {
	dsn := newDatabase(t)
	cfg := sqlsink.Defaults()
	cfg.AutoCreate = true
	s, d := newSinkD(t, dsn, cfg)
	sc := sqltest.Schema("x", 1,
		event.Column{Name: "id", Type: event.TypeInt64, Key: true},
		event.Column{Name: "name", Type: event.TypeString, Optional: true})
	batch := func(from, n int) []event.Event {
		evs := make([]event.Event, n)
		for i := range evs {
			id := from + i
			evs[i] = sqltest.Ev('c', sc, nil, sqltest.Row(sqltest.I(int64(id)), sqltest.S(fmt.Sprint("row ", id))), uint64(id+1))
		}
		return evs
	}
	sqltest.Write(t, s, batch(0, 300)...)
	// One connection from here on: the counters are the sink's.
	d.db.SetMaxOpenConns(1)
	before := sessionCounters(t, d)
	sqltest.Write(t, s, batch(300, 300)...)
	after := sessionCounters(t, d)
	got := map[string]int64{}
	for _, k := range writeCounters {
		got[k] = after[k] - before[k]
	}
	got["Questions"]-- // the first SHOW SESSION STATUS
	want := map[string]int64{
		"Com_begin": 1, "Com_commit": 1, "Com_load": 1, "Com_rollback": 0,
		"Com_savepoint": 1, "Com_release_savepoint": 0, "Com_rollback_to_savepoint": 0,
		"Com_stmt_prepare": 0, "Com_stmt_close": 0,
		"Com_stmt_execute": 3, // ensure, lock, update of the positions row
		"Questions":        8, // begin, ensure, lock, savepoint, load, warning count, update, commit
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("a Write's statements:\ngot  %v\nwant %v", got, want)
	}
	if d.loadsKept.Load() != 2 {
		t.Errorf("loads kept %d, want 2", d.loadsKept.Load())
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n := len(rows(t, db, "x", "id", "name")); n != 600 {
		t.Errorf("%d rows, want 600", n)
	}
}
