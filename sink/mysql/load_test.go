package mysql

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/svctest"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink/sqltest"
)

// TestTSVReader: the exact text LOAD DATA receives, read in small pieces.
func TestTSVReader(t *testing.T) {
	r := &tsvReader{rows: [][]any{
		{int64(-7), "a\tb\nc\rd\\e\x00f", nil, 0.1},
		{int64(math.MaxInt64), `\N`, []byte{0, '\t', 0xff}, 1e300},
		{nil, "", "é😀", math.Copysign(0, -1)},
	}}
	var got []byte
	buf := make([]byte, 5)
	for {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	want := "-7\ta\\tb\\nc\\rd\\\\e\\0f\t\\N\t0.1\n" +
		"9223372036854775807\t\\\\N\t\\0\\t\xff\t1e+300\n" +
		"\\N\t\té😀\t-0\n"
	if string(got) != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// loadCase writes evs through two sinks into table x of two databases:
// with multi-row statements, and through LOAD DATA. It returns both
// tables' rows (exprs joined by '|'), the Writes' errors and the load
// sink's dialect.
func loadCase(t *testing.T, pre func(db *sql.DB), evs []event.Event, exprs ...string) (stmts, load []string, d *dialect, errs [2]error) {
	return loadCaseDSN(t, nil, pre, evs, exprs...)
}

// loadCaseDSN is loadCase with the sinks' DSN changed by tweak.
func loadCaseDSN(t *testing.T, tweak func(*mysql.Config), pre func(db *sql.DB), evs []event.Event, exprs ...string) (stmts, load []string, d *dialect, errs [2]error) {
	var out [2][]string
	for i := range 2 {
		dsn := newDatabase(t)
		db, err := sql.Open("mysql", dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if pre != nil {
			pre(db)
		}
		cfg := sqlsink.Defaults()
		cfg.AutoCreate = true
		sinkDSN := dsn
		if tweak != nil {
			mc, _ := mysql.ParseDSN(dsn)
			tweak(mc)
			sinkDSN = mc.FormatDSN()
		}
		s, sd := newSinkD(t, sinkDSN, cfg)
		if i == 1 {
			s.SetLimits(1000, 1)
			d = sd
		} else {
			s.SetLimits(1000, 1<<30)
		}
		errs[i] = s.Write(context.Background(), evs)
		r, err := db.Query("SELECT CONCAT_WS('|', " + strings.Join(exprs, ", ") + ") FROM x ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			var v string
			if err := r.Scan(&v); err != nil {
				t.Fatal(err)
			}
			out[i] = append(out[i], v)
		}
		r.Close()
	}
	return out[0], out[1], d, errs
}

// TestLoadMatchesStatements: values that need escaping, every float
// boundary and text that looks like LOAD DATA's NULL arrive through LOAD
// DATA exactly as through the statements.
func TestLoadMatchesStatements(t *testing.T) {
	t.Parallel()
	sc := sqltest.Schema("x", 1,
		event.Column{Name: "id", Type: event.TypeInt64, Key: true},
		event.Column{Name: "s", Type: event.TypeString, Optional: true},
		event.Column{Name: "b", Type: event.TypeBytes, Optional: true},
		event.Column{Name: "f", Type: event.TypeFloat64, Optional: true},
		event.Column{Name: "g", Type: event.TypeFloat32, Optional: true},
		event.Column{Name: "n", Type: event.TypeDecimal, Precision: 30, Scale: 10, Optional: true})
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	strs := []string{"", `\N`, "\\", "a\tb", "line\nbreak\r\n", "nul\x00byte", "é😀", "'quote\"", strings.Repeat("x", 5000)}
	floats := []float64{0, math.Copysign(0, -1), 0.1, 1.0 / 3, -2.5e-300, 1e300, math.MaxFloat64, math.SmallestNonzeroFloat64, 123456789012345678}
	var vals [][]event.Value
	for i := 0; i < 30; i++ {
		s := event.String(strs[i%len(strs)])
		f := event.Float(floats[i%len(floats)])
		g := event.Float(float64(float32(floats[i%len(floats)] / 1e290)))
		b := event.Bytes(all[i*8 : i*8+8])
		if i == 29 {
			b = event.Bytes(all)
		}
		n := event.Decimal("-12345678901234567890.0123456789")
		if i%4 == 3 {
			s, f, g, b, n = event.Null, event.Null, event.Null, event.Null, event.Null
		}
		vals = append(vals, sqltest.Row(sqltest.I(int64(i)), s, b, f, g, n))
	}
	evs := make([]event.Event, len(vals))
	for i, v := range vals {
		evs[i] = sqltest.Ev('r', sc, nil, v, 0)
	}
	stmts, load, d, errs := loadCase(t, nil, evs, "id", "COALESCE(HEX(s), 'NULL')", "COALESCE(HEX(b), 'NULL')",
		"COALESCE(CAST(f AS CHAR), 'NULL')", "COALESCE(CAST(g AS CHAR), 'NULL')", "COALESCE(CAST(n AS CHAR), 'NULL')")
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("writes: %v, %v", errs[0], errs[1])
	}
	if len(load) != 30 {
		t.Fatalf("load table holds %d rows, want 30", len(load))
	}
	sqltest.Want(t, load, stmts...)
	if kept, declined, streamed := d.loadsKept.Load(), d.loadsDeclined.Load(), d.loadsStreamed.Load(); kept != 1 || declined != 0 || streamed != 1 {
		t.Errorf("loads kept %d, declined %d, streamed %d; want 1, 0, 1", kept, declined, streamed)
	}
}

// TestLoadDeclinesExistingKey: an upsert of a key that exists cannot be a
// load; the load is rolled back and the statements upsert. A table whose
// loads are declined skips the load for 1, then 2, … steps.
func TestLoadDeclinesExistingKey(t *testing.T) {
	t.Parallel()
	cfg := sqlsink.Defaults()
	cfg.AutoCreate = true
	dsn := newDatabase(t)
	s, d := newSinkD(t, dsn, cfg)
	s.SetLimits(1000, 1)
	sdb, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	sc := sqltest.Schema("items", 1,
		event.Column{Name: "id", Type: event.TypeInt64, Key: true},
		event.Column{Name: "name", Type: event.TypeString, Optional: true})
	write := func(seq uint64, rows ...[2]any) {
		t.Helper()
		var evs []event.Event
		for i, r := range rows {
			evs = append(evs, sqltest.Ev('c', sc, nil, sqltest.Row(sqltest.I(int64(r[0].(int))), sqltest.S(r[1].(string))), seq+uint64(i)))
		}
		sqltest.Write(t, s, evs...)
	}
	counts := func(kept, declined int64) {
		t.Helper()
		if k, dc := d.loadsKept.Load(), d.loadsDeclined.Load(); k != kept || dc != declined {
			t.Fatalf("loads kept %d, declined %d; want %d, %d", k, dc, kept, declined)
		}
	}
	write(10, [2]any{1, "one"}, [2]any{2, "two"})
	counts(1, 0)
	write(20, [2]any{3, "three"}, [2]any{1, "uno"})
	counts(1, 1)
	sqltest.Want(t, rows(t, sdb, "items", "id", "name"), "1|uno", "2|two", "3|three")
	write(30, [2]any{4, "four"}) // skipped: statements
	counts(1, 1)
	write(40, [2]any{2, "dos"}) // tried again, declined: skips 2 steps
	counts(1, 2)
	write(50, [2]any{5, "five"})
	write(60, [2]any{6, "six"})
	counts(1, 2)
	write(70, [2]any{7, "seven"}) // tried again, kept: no more skipping
	counts(2, 2)
	write(80, [2]any{8, "eight"})
	counts(3, 2)
	sqltest.Want(t, rows(t, sdb, "items", "id", "name"), "1|uno", "2|dos", "3|three", "4|four", "5|five", "6|six", "7|seven", "8|eight")
	sqltest.Want(t, rows(t, sdb, sqlsink.DefaultPositionsTable, "sink", "source", "hi", "lo"), "sink1|src|80|80")
	if streamed := d.loadsStreamed.Load(); streamed != 3 {
		t.Errorf("loads streamed %d, want 3 (every load kept)", streamed)
	}
}

// TestLoadBadValueSameError: a value the column cannot hold is a warning
// in LOAD DATA; the load is declined and the statements reject the row
// with the same record error as without the load, the other rows commit.
func TestLoadBadValueSameError(t *testing.T) {
	t.Parallel()
	sc := sqltest.Schema("x", 1,
		event.Column{Name: "id", Type: event.TypeInt64, Key: true},
		event.Column{Name: "s", Type: event.TypeString, TypeName: "varchar", Length: 3, Optional: true})
	stmts, load, d, errs := loadCase(t, nil, []event.Event{
		sqltest.Ev('r', sc, nil, sqltest.Row(sqltest.I(1), sqltest.S("abc")), 0),
		sqltest.Ev('r', sc, nil, sqltest.Row(sqltest.I(2), sqltest.S("abcd")), 0),
		sqltest.Ev('r', sc, nil, sqltest.Row(sqltest.I(3), sqltest.S("x")), 0),
	}, "id", "s")
	var re [2]component.RecordErrors
	for i := range errs {
		if !errors.As(errs[i], &re[i]) || len(re[i]) != 1 || re[i][0].Index != 1 {
			t.Fatalf("write %d: %v, want a record error for event 1", i, errs[i])
		}
	}
	if a, b := re[0][0].Err.Error(), re[1][0].Err.Error(); a != b {
		t.Errorf("record error through the load:\n %s\nwithout:\n %s", b, a)
	}
	sqltest.Want(t, stmts, "1|abc", "3|x")
	sqltest.Want(t, load, "1|abc", "3|x")
	if kept, declined := d.loadsKept.Load(), d.loadsDeclined.Load(); declined < 1 {
		t.Errorf("loads kept %d, declined %d; want declined", kept, declined)
	}
}

// TestLoadOnlyExactConversions: a float into a DECIMAL column (and an
// integer into a DATETIME one) is converted by the server from a binary
// parameter otherwise than from text, so the load is not even tried.
func TestLoadOnlyExactConversions(t *testing.T) {
	t.Parallel()
	sc := sqltest.Schema("x", 1,
		event.Column{Name: "id", Type: event.TypeInt64, Key: true},
		event.Column{Name: "f", Type: event.TypeFloat64, Optional: true},
		event.Column{Name: "i", Type: event.TypeInt64, Optional: true})
	pre := func(db *sql.DB) {
		if _, err := db.Exec("CREATE TABLE x (id BIGINT PRIMARY KEY, f DECIMAL(65,30), i DATETIME)"); err != nil {
			t.Fatal(err)
		}
	}
	stmts, load, d, errs := loadCase(t, pre, []event.Event{
		sqltest.Ev('r', sc, nil, sqltest.Row(sqltest.I(1), event.Float(0.1), event.Int(20240102030405)), 0),
		sqltest.Ev('r', sc, nil, sqltest.Row(sqltest.I(2), event.Float(1.0/3), event.Null), 0),
	}, "id", "CAST(f AS CHAR)", "COALESCE(CAST(i AS CHAR), 'NULL')")
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("writes: %v, %v", errs[0], errs[1])
	}
	sqltest.Want(t, load, stmts...)
	if kept, declined := d.loadsKept.Load(), d.loadsDeclined.Load(); kept != 0 || declined != 0 {
		t.Errorf("loads kept %d, declined %d; want 0, 0 (not tried)", kept, declined)
	}
}

// TestLoadConnectionCut cuts the connection in the middle of a load's
// data: the Write fails, nothing of it is committed (rows or position),
// and the engine's retry of the same Write writes every row once.
//
// Not parallel: it sets the driver's logger (a global).
func TestLoadConnectionCut(t *testing.T) {
	dsn := newDatabase(t)
	mc, _ := mysql.ParseDSN(dsn)
	proxy := svctest.NewProxy(t, mc.Addr)
	mc.Addr = proxy.Addr()
	_ = mysql.SetLogger(nopLogger{})
	cfg := sqlsink.Defaults()
	cfg.AutoCreate = true
	s, d := newSinkD(t, mc.FormatDSN(), cfg)
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sc := sqltest.Schema("items", 1,
		event.Column{Name: "id", Type: event.TypeInt64, Key: true},
		event.Column{Name: "name", Type: event.TypeString, Optional: true})
	const n = 20000
	evs := make([]event.Event, n)
	want := make([]string, n)
	for i := range evs {
		name := strings.Repeat("v", 40) + string(rune('a'+i%26))
		evs[i] = sqltest.Ev('c', sc, nil, sqltest.Row(sqltest.I(int64(i)), sqltest.S(name)), uint64(1000+i))
		want[i] = name
	}
	sqltest.Write(t, s, evs[:1]...) // creates the table (one row: statements)
	var once sync.Once
	cut := false
	d.readHook = func(sent int) {
		if sent > 256<<10 { // well inside the data (≈ 1 MB)
			once.Do(func() { proxy.Cut(); cut = true })
		}
	}
	err = s.Write(context.Background(), evs[1:])
	if !cut || err == nil || component.IsPermanent(err) {
		t.Fatalf("Write during the cut (cut %v) = %v, want a transient error", cut, err)
	}
	var got int
	db.QueryRow("SELECT COUNT(*) FROM items").Scan(&got)
	if got != 1 {
		t.Fatalf("after the cut the table holds %d rows, want 1 (nothing of the failed Write)", got)
	}
	sqltest.Want(t, rows(t, db, sqlsink.DefaultPositionsTable, "sink", "source", "hi", "lo"), "sink1|src|1000|1000")
	d.readHook = nil
	proxy.Restore()
	sqltest.Write(t, s, evs[1:]...)
	var cnt, distinct int
	db.QueryRow("SELECT COUNT(*), COUNT(DISTINCT id) FROM items").Scan(&cnt, &distinct)
	if cnt != n || distinct != n {
		t.Fatalf("after the retry: %d rows, %d keys; want %d", cnt, distinct, n)
	}
	var name string
	db.QueryRow("SELECT name FROM items WHERE id = 19999").Scan(&name)
	if name != want[19999] {
		t.Errorf("row 19999 = %q, want %q", name, want[19999])
	}
	sqltest.Want(t, rows(t, db, sqlsink.DefaultPositionsTable, "sink", "source", "hi", "lo"), "sink1|src|20999|20999")
	if kept, declined := d.loadsKept.Load(), d.loadsDeclined.Load(); kept != 1 || declined != 0 {
		t.Errorf("loads kept %d, declined %d; want 1, 0", kept, declined)
	}
}

// TestLoadClientCharset: the load's data is in the session's client
// character set, as the statements' string parameters are, so a DSN's
// charset=latin1 stores the same bytes either way.
func TestLoadClientCharset(t *testing.T) {
	t.Parallel()
	sc := sqltest.Schema("x", 1,
		event.Column{Name: "id", Type: event.TypeInt64, Key: true},
		event.Column{Name: "s", Type: event.TypeString, Optional: true})
	latin1 := func(mc *mysql.Config) {
		if mc.Params == nil {
			mc.Params = map[string]string{}
		}
		mc.Params["charset"] = "latin1"
	}
	stmts, load, d, errs := loadCaseDSN(t, latin1, nil, []event.Event{
		sqltest.Ev('r', sc, nil, sqltest.Row(sqltest.I(1), sqltest.S("é")), 0),
		sqltest.Ev('r', sc, nil, sqltest.Row(sqltest.I(2), sqltest.S("plain")), 0),
	}, "id", "HEX(s)")
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("writes: %v, %v", errs[0], errs[1])
	}
	sqltest.Want(t, stmts, "1|C383C2A9", "2|706C61696E")
	sqltest.Want(t, load, stmts...)
	if kept, declined := d.loadsKept.Load(), d.loadsDeclined.Load(); kept != 1 || declined != 0 {
		t.Errorf("loads kept %d, declined %d; want 1, 0", kept, declined)
	}
}

// TestLoadStreamRejectsBadRow: a row whose value cannot be converted is
// rejected with the statements' record error and never sent; the other
// rows are streamed in one load, or, when the server declines the load (an
// existing key), upserted by the statements, with the same errors and
// rows either way.
func TestLoadStreamRejectsBadRow(t *testing.T) {
	t.Parallel()
	sc := sqltest.Schema("x", 1,
		event.Column{Name: "id", Type: event.TypeInt64, Key: true},
		event.Column{Name: "f", Type: event.TypeFloat64, Optional: true},
		event.Column{Name: "s", Type: event.TypeString, Optional: true})
	evs := []event.Event{
		sqltest.Ev('r', sc, nil, sqltest.Row(sqltest.I(1), event.Float(0.5), sqltest.S("a")), 0),
		sqltest.Ev('r', sc, nil, sqltest.Row(sqltest.I(2), event.Float(math.NaN()), sqltest.S("b")), 0),
		sqltest.Ev('r', sc, nil, sqltest.Row(sqltest.I(3), event.Null, sqltest.S("c\td")), 0),
		sqltest.Ev('r', sc, nil, sqltest.Row(sqltest.I(4), event.Float(math.Inf(-1)), event.Null), 0),
		sqltest.Ev('r', sc, nil, sqltest.Row(sqltest.I(5), event.Float(-2.5e-300), sqltest.S("e")), 0),
	}
	for _, existing := range []bool{false, true} {
		pre := func(db *sql.DB) {
			if _, err := db.Exec("CREATE TABLE x (id BIGINT PRIMARY KEY, f DOUBLE, s TEXT)"); err != nil {
				t.Fatal(err)
			}
			if existing {
				if _, err := db.Exec("INSERT INTO x VALUES (3, 7, 'old')"); err != nil {
					t.Fatal(err)
				}
			}
		}
		stmts, load, d, errs := loadCase(t, pre, evs, "id", "COALESCE(CAST(f AS CHAR), 'NULL')", "COALESCE(HEX(s), 'NULL')")
		var re [2]component.RecordErrors
		for i := range errs {
			if !errors.As(errs[i], &re[i]) || len(re[i]) != 2 || re[i][0].Index != 1 || re[i][1].Index != 3 {
				t.Fatalf("existing %v, write %d: %v, want record errors for events 1 and 3", existing, i, errs[i])
			}
		}
		for j := range re[0] {
			if a, b := re[0][j].Err.Error(), re[1][j].Err.Error(); a != b {
				t.Errorf("existing %v: record error through the load:\n %s\nwithout:\n %s", existing, b, a)
			}
		}
		sqltest.Want(t, stmts, "1|0.5|61", "3|NULL|630964", "5|-2.5e-300|65")
		sqltest.Want(t, load, stmts...)
		want := [3]int64{1, 0, 1} // kept, declined, streamed
		if existing {
			want = [3]int64{0, 1, 0}
		}
		if got := [3]int64{d.loadsKept.Load(), d.loadsDeclined.Load(), d.loadsStreamed.Load()}; got != want {
			t.Errorf("existing %v: loads kept, declined, streamed %v; want %v", existing, got, want)
		}
	}
}
