package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink/sqltest"
)

// TestThroughputReport is a report, not a check (SLUICE_BENCH=1): rows/s of
// the sink writing snapshot rows against LOAD DATA LOCAL INFILE of the same
// rows into the same table shape.
func TestThroughputReport(t *testing.T) {
	if os.Getenv("SLUICE_BENCH") == "" {
		t.Skip("set SLUICE_BENCH=1 for the throughput report")
	}
	const n, batch = 200000, 16384
	sc := sqltest.Schema("product", 1,
		event.Column{Name: "id", Type: event.TypeInt64, Key: true},
		event.Column{Name: "name", Type: event.TypeString, TypeName: "varchar", Length: 200, Optional: true},
		event.Column{Name: "price", Type: event.TypeDecimal, Precision: 10, Scale: 2, Optional: true},
		event.Column{Name: "quantity", Type: event.TypeInt32, Optional: true},
		event.Column{Name: "description", Type: event.TypeString, Optional: true},
		event.Column{Name: "updated_at", Type: event.TypeTimestampTZ, Optional: true})
	evs := make([]event.Event, n)
	var b strings.Builder
	for i := range evs {
		name, price, desc := "Product "+strconv.Itoa(i), strconv.Itoa(i%1000)+".99", strings.Repeat("lorem ipsum ", 8)
		ts := int64(1700000000000000 + i)
		evs[i] = sqltest.Ev('r', sc, nil, sqltest.Row(sqltest.I(int64(i)), sqltest.S(name), event.Decimal(price),
			sqltest.I(int64(i%50)), sqltest.S(desc), event.Int(ts)), 0)
		fmt.Fprintf(&b, "%d\t%s\t%s\t%d\t%s\t%s\n", i, name, price, i%50, desc, time.UnixMicro(ts).UTC().Format("2006-01-02 15:04:05.999999"))
	}
	dsn := newDatabase(t)
	cfg := sqlsink.Defaults()
	cfg.AutoCreate = true
	s := newSink(t, dsn, cfg)
	if v := os.Getenv("SLUICE_BENCH_ROWS"); v != "" {
		r, _ := strconv.Atoi(v)
		s.SetLimits(r, 200)
	}
	sqltest.Write(t, s, evs[:1]...)
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.Exec("DELETE FROM product")
	db.Exec("CREATE TABLE product_load LIKE product")
	start := time.Now()
	for i := 0; i < n; i += batch {
		sqltest.Write(t, s, evs[i:min(i+batch, n)]...)
	}
	sink := time.Since(start)
	// Rounds of one Write (a committed transaction) per batch against the
	// engine's flushing runner's calls (WriteBuffered, and Flush on
	// another goroutine, started when the previous one has returned), in
	// the engine's batches of 2,048 rows.
	const small = 2048
	serial := func() {
		for i := 0; i < n; i += small {
			sqltest.Write(t, s, evs[i:min(i+small, n)]...)
		}
	}
	pipelined := func() { sqltest.WritePipelined(t, s, evs, small) }
	for r := 0; r < 3; r++ {
		for _, run := range []struct {
			name string
			f    func()
		}{{"one transaction a Write", serial}, {"pipelined", pipelined}} {
			if _, err := db.Exec("DELETE FROM product"); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			run.f()
			d := time.Since(start)
			var c int
			if err := db.QueryRow("SELECT COUNT(*) FROM product").Scan(&c); err != nil || c != n {
				t.Fatalf("%s: %d rows (%v), want %d", run.name, c, err, n)
			}
			t.Logf("round %d, %s: %d rows in %v (%.0f rows/s)", r+1, run.name, n, d.Round(time.Millisecond), float64(n)/d.Seconds())
		}
	}
	text := b.String()
	mysql.RegisterReaderHandler("rows", func() io.Reader { return strings.NewReader(text) })
	defer mysql.DeregisterReaderHandler("rows")
	start = time.Now()
	if _, err := db.ExecContext(context.Background(), "LOAD DATA LOCAL INFILE 'Reader::rows' INTO TABLE product_load"); err != nil {
		t.Fatal(err)
	}
	load := time.Since(start)
	var c1, c2 int
	db.QueryRow("SELECT COUNT(*) FROM product").Scan(&c1)
	db.QueryRow("SELECT COUNT(*) FROM product_load").Scan(&c2)
	t.Logf("MariaDB: sink %d rows in %v (%.0f rows/s); LOAD DATA %d rows in %v (%.0f rows/s); ratio %.2f",
		c1, sink, float64(n)/sink.Seconds(), c2, load, float64(n)/load.Seconds(), load.Seconds()/sink.Seconds())
}

// BenchmarkLoadText: a product row's LOAD DATA text from converted
// arguments (CopyInsert: MySQLArg, then appendTSV) and straight from the
// event values (the streamed load: AppendCopyRow).
func BenchmarkLoadText(b *testing.B) {
	sc := sqltest.Schema("product", 1,
		event.Column{Name: "id", Type: event.TypeInt64, Key: true},
		event.Column{Name: "name", Type: event.TypeString, Optional: true},
		event.Column{Name: "price", Type: event.TypeFloat64, Optional: true},
		event.Column{Name: "color", Type: event.TypeString, Optional: true},
		event.Column{Name: "category", Type: event.TypeString, Optional: true},
		event.Column{Name: "quantity", Type: event.TypeInt32, Optional: true},
		event.Column{Name: "description", Type: event.TypeString, Optional: true},
		event.Column{Name: "internalId", Type: event.TypeString, Optional: true})
	row := sqltest.Row(sqltest.I(12345), sqltest.S("Ergonomic Steel Chair"), event.Float(512.25), sqltest.S("red"),
		sqltest.S("Tools"), sqltest.I(17), sqltest.S(strings.Repeat("lorem ipsum ", 8)), sqltest.S("ab12cd34ef"))
	var buf []byte
	b.Run("args", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			args := make([]any, len(row))
			for i := range row {
				args[i], _ = sqlsink.MySQLArg(&sc.Columns[i], row[i])
			}
			buf = appendTSV(buf[:0], args)
		}
	})
	t := &myTx{}
	b.Run("values", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			buf, _ = t.AppendCopyRow(buf[:0], sc, row, false, false)
		}
	})
}
