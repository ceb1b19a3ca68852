package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink/sqltest"
)

// TestTypesRoundTrip creates a table with auto_create from a schema with
// every event type, writes a row through the VALUES path and one through
// COPY, and reads back exactly the values sent.
func TestTypesRoundTrip(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	for _, path := range []string{"values", "copy"} {
		t.Run(path, func(t *testing.T) {
			cfg := sqlsink.Defaults()
			cfg.AutoCreate = true
			s := db.Sink(t, cfg).(*sqlsink.Pipelined)
			if path == "copy" {
				s.SetLimits(1000, 1)
			}
			table := "types_" + path
			sc := sqltest.TypeSchema(table)
			full, nulls := sqltest.TypeRows()
			sqltest.Write(t, s, sqltest.Ev('r', sc, nil, full, 0), sqltest.Ev('r', sc, nil, nulls, 0))
			for _, tc := range sqltest.TypeCases {
				sqltest.Want(t, db.Rows(t, table, "id", tc.Col.Name), "1|"+tc.PG, "2|NULL")
			}
		})
	}
}

// TestTypesDDL checks the column types auto_create gave PostgreSQL.
func TestTypesDDL(t *testing.T) {
	t.Parallel()
	dsn := pgtest.NewDatabase(t)
	conn := pgtest.Connect(t, dsn)
	cfg := sqlsink.Defaults()
	cfg.AutoCreate = true
	cfg.DSN = dsn
	s, err := New(Config{Config: cfg, Schema: "public"}, component.Env{Name: "s"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	full, _ := sqltest.TypeRows()
	sqltest.Write(t, s, sqltest.Ev('r', sqltest.TypeSchema("ddl"), nil, full, 0))
	rows, _ := conn.Query(context.Background(), `SELECT attname || ' ' || format_type(atttypid, atttypmod) || CASE WHEN attnotnull THEN ' NOT NULL' ELSE '' END
		FROM pg_attribute WHERE attrelid = 'public.ddl'::regclass AND attnum > 0 ORDER BY attnum`)
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := "id bigint NOT NULL, b boolean, i16 smallint, i32 integer, i64 bigint, f32 real, f64 double precision, " +
		"dec numeric(20,5), num numeric, money numeric(19,2), vc character varying(10), ch character(4), txt text, bin bytea, " +
		"uid uuid, js jsonb, d date, t time without time zone, ttz time with time zone, ts timestamp without time zone, " +
		"ts3 timestamp(3) without time zone, tstz timestamp with time zone, iv interval, en text, ai integer[], at text[], " +
		"x xml, ip inet, pt text"
	if g := strings.Join(got, ", "); g != want {
		t.Errorf("DDL:\n got  %s\n want %s", g, want)
	}
}

// TestSpecialValues: PostgreSQL takes NaN, infinities and BC dates.
func TestSpecialValues(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	cfg := sqlsink.Defaults()
	cfg.AutoCreate = true
	s := db.Sink(t, cfg)
	sc := sqltest.Schema("sp", 1,
		event.Column{Name: "id", Type: event.TypeInt64, Key: true},
		event.Column{Name: "f", Type: event.TypeFloat64, Optional: true},
		event.Column{Name: "ts", Type: event.TypeTimestampTZ, Optional: true},
		event.Column{Name: "d", Type: event.TypeDate, Optional: true},
		event.Column{Name: "n", Type: event.TypeDecimal, Scale: -1, Optional: true})
	sqltest.Write(t, s,
		sqltest.Ev('r', sc, nil, sqltest.Row(sqltest.I(1), event.Float(nanf()), event.Int(1<<63-1), event.Int(-1<<31), event.Decimal("NaN")), 0),
		sqltest.Ev('r', sc, nil, sqltest.Row(sqltest.I(2), event.Float(-inf()), event.Int(-1<<63), event.Int(time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).Unix()/86400), event.Decimal("-0.5")), 0),
	)
	sqltest.Want(t, db.Rows(t, "sp", "id", "f", "ts", "d", "n"),
		"1|NaN|infinity|-infinity|NaN", "2|-Infinity|-infinity|0001-01-01 BC|-0.5")
	// A NUL byte is the record's fault.
	err := s.Write(context.Background(), []event.Event{
		sqltest.Ev('c', sqltest.Schema("nul", 1, event.Column{Name: "id", Type: event.TypeInt64, Key: true}, event.Column{Name: "s", Type: event.TypeString, Optional: true}),
			nil, sqltest.Row(sqltest.I(1), sqltest.S("a\x00b")), 5),
	})
	var re component.RecordErrors
	if !errors.As(err, &re) || len(re) != 1 {
		t.Fatalf("Write = %v, want one record error", err)
	}
}

// TestCopyOverExistingRows: a COPY-sized upsert group over rows that
// already exist (a resumed snapshot) falls back from the optimistic COPY to
// the staging table and overwrites them.
func TestCopyOverExistingRows(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	cfg := sqlsink.Defaults()
	cfg.AutoCreate = true
	s := db.Sink(t, cfg)
	sc := sqltest.Schema("big", 1,
		event.Column{Name: "id", Type: event.TypeInt64, Key: true},
		event.Column{Name: "v", Type: event.TypeString, Optional: true})
	batch := func(from, to int, v string) []event.Event {
		var evs []event.Event
		for i := from; i < to; i++ {
			evs = append(evs, sqltest.Ev('r', sc, nil, sqltest.Row(sqltest.I(int64(i)), sqltest.S(v)), 0))
		}
		return evs
	}
	sqltest.Write(t, s, batch(0, 300, "a")...)   // optimistic COPY
	sqltest.Write(t, s, batch(250, 600, "b")...) // conflicts on 250..299
	sqltest.Write(t, s, batch(0, 700, "c")...)   // staging from now on
	got := db.Rows(t, "big", "id", "v")
	if len(got) != 700 || got[0] != "0|c" || got[699] != "699|c" {
		t.Fatalf("%d rows, first %q last %q", len(got), got[0], got[len(got)-1])
	}
	for _, r := range got {
		if !strings.HasSuffix(r, "|c") {
			t.Fatalf("row %q not overwritten", r)
		}
	}
}
