package mysql

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink/sqltest"
)

// TestTypesRoundTrip creates a table with auto_create from a schema with
// every event type and reads back exactly the values sent, and checks the
// DDL (the type mapping) against its golden text.
//
// It runs twice: with multi-row statements, and through the LOAD DATA
// path (load.go), which must keep the load (no value converted otherwise).
func TestTypesRoundTrip(t *testing.T) {
	t.Parallel()
	for _, load := range []bool{false, true} {
		t.Run(map[bool]string{false: "statements", true: "load"}[load], func(t *testing.T) {
			t.Parallel()
			testTypesRoundTrip(t, load)
		})
	}
}

func testTypesRoundTrip(t *testing.T, load bool) {
	dsn := newDatabase(t)
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg := sqlsink.Defaults()
	cfg.AutoCreate = true
	s, d := newSinkD(t, dsn, cfg)
	if load {
		s.SetLimits(1000, 1)
	}
	sc := sqltest.TypeSchema("types")
	full, nulls := sqltest.TypeRows()
	sqltest.Write(t, s, sqltest.Ev('r', sc, nil, full, 0), sqltest.Ev('r', sc, nil, nulls, 0))
	if kept, declined := d.loadsKept.Load(), d.loadsDeclined.Load(); load && (kept != 1 || declined != 0) {
		t.Errorf("loads kept %d, declined %d; want 1, 0", kept, declined)
	}
	for _, tc := range sqltest.TypeCases {
		expr := "CAST(" + sqlsink.QuoteMySQL(tc.Col.Name) + " AS CHAR)"
		if tc.Col.Type == event.TypeBytes {
			expr = "HEX(" + sqlsink.QuoteMySQL(tc.Col.Name) + ")"
		}
		var got []string
		r, err := db.Query("SELECT COALESCE(" + expr + ", 'NULL') FROM types ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			var v string
			r.Scan(&v)
			got = append(got, v)
		}
		r.Close()
		if len(got) != 2 || got[0] != tc.MySQL || got[1] != "NULL" {
			t.Errorf("%s: got %q, want %q", tc.Col.Name, got, []string{tc.MySQL, "NULL"})
		}
	}

	var cols []string
	r, err := db.Query(`SELECT CONCAT(COLUMN_NAME, ' ', COLUMN_TYPE, IF(IS_NULLABLE = 'NO', ' NOT NULL', ''))
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'types' ORDER BY ORDINAL_POSITION`)
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var c string
		r.Scan(&c)
		cols = append(cols, c)
	}
	r.Close()
	// MariaDB reports JSON as longtext (with a json_valid CHECK).
	want := "id bigint(20) NOT NULL, b tinyint(1), i16 smallint(6), i32 int(11), i64 bigint(20), f32 float, f64 double, " +
		"dec decimal(20,5), num decimal(65,30), money decimal(19,2), vc varchar(10), ch varchar(4), txt longtext, bin longblob, " +
		"uid char(36), js longtext, d date, t time(6), ttz time(6), ts datetime(6), ts3 datetime(3), tstz datetime(6), " +
		"iv varchar(64), en varchar(255), ai longtext, at longtext, x longtext, ip varchar(64), pt longtext"
	if g := strings.Join(cols, ", "); g != want {
		t.Errorf("DDL:\n got  %s\n want %s", g, want)
	}
}

// TestUnrepresentable: values MySQL cannot hold are record errors; the
// other rows of the Write commit.
func TestUnrepresentable(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	cfg := sqlsink.Defaults()
	cfg.AutoCreate = true
	s := db.Sink(t, cfg)
	sc := sqltest.Schema("sp", 1,
		event.Column{Name: "id", Type: event.TypeInt64, Key: true},
		event.Column{Name: "f", Type: event.TypeFloat64, Optional: true},
		event.Column{Name: "ts", Type: event.TypeTimestampTZ, Optional: true},
		event.Column{Name: "n", Type: event.TypeDecimal, Precision: 5, Scale: 2, Optional: true})
	err := s.Write(context.Background(), []event.Event{
		sqltest.Ev('c', sc, nil, sqltest.Row(sqltest.I(1), event.Float(math.NaN()), event.Null, event.Null), 1),
		sqltest.Ev('c', sc, nil, sqltest.Row(sqltest.I(2), event.Null, event.Int(math.MaxInt64), event.Null), 2),
		sqltest.Ev('c', sc, nil, sqltest.Row(sqltest.I(3), event.Float(2.5), event.Int(0), event.Decimal("1.25")), 3),
		sqltest.Ev('c', sc, nil, sqltest.Row(sqltest.I(4), event.Null, event.Null, event.Decimal("12345.6")), 4),
		sqltest.Ev('c', sc, nil, sqltest.Row(sqltest.I(5), event.Null, event.Null, event.Decimal("NaN")), 5),
	})
	var re component.RecordErrors
	if !errors.As(err, &re) || len(re) != 4 || re[0].Index != 0 || re[1].Index != 1 || re[2].Index != 3 || re[3].Index != 4 {
		t.Fatalf("Write = %v, want record errors for events 0, 1, 3, 4", err)
	}
	sqltest.Want(t, db.Rows(t, "sp", "id", "f", "ts", "n"), "3|2.5|1970-01-01 00:00:00.000000|1.25")
}
