package postgres

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink"
	"github.com/sluice-dev/sluice/sink/internal/sqlsink/sqltest"
)

// productRows returns n snapshot events shaped like the generator's product
// table, and the same rows as COPY text.
func productRows(n int) ([]event.Event, string) {
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
		name := "Product " + strconv.Itoa(i)
		price := strconv.Itoa(i%1000) + ".99"
		desc := strings.Repeat("lorem ipsum ", 8)
		ts := int64(1700000000000000 + i)
		evs[i] = sqltest.Ev('r', sc, nil, sqltest.Row(sqltest.I(int64(i)), sqltest.S(name), event.Decimal(price),
			sqltest.I(int64(i%50)), sqltest.S(desc), event.Int(ts)), 0)
		fmt.Fprintf(&b, "%d\t%s\t%s\t%d\t%s\t%s\n", i, name, price, i%50, desc, time.UnixMicro(ts).UTC().Format("2006-01-02 15:04:05.999999+00"))
	}
	return evs, b.String()
}

// TestThroughputReport is a report, not a check (SLUICE_BENCH=1): rows/s of
// the sink writing snapshot rows against a plain COPY of the same rows.
func TestThroughputReport(t *testing.T) {
	if testing.Short() || !benchEnabled() {
		t.Skip("set SLUICE_BENCH=1 for the throughput report")
	}
	const n, batch = 200000, 16384
	evs, text := productRows(n)
	dsn := pgtest.NewDatabase(t)
	conn := pgtest.Connect(t, dsn)
	cfg := sqlsink.Defaults()
	cfg.AutoCreate, cfg.DSN = true, dsn
	s, err := New(Config{Config: cfg, Schema: "public"}, component.Env{Name: "bench"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	sqltest.Write(t, s, evs[:1]...) // create the table
	conn.Exec(context.Background(), "TRUNCATE product")
	start := time.Now()
	for i := 0; i < n; i += batch {
		sqltest.Write(t, s, evs[i:min(i+batch, n)]...)
	}
	sink := time.Since(start)
	conn.Exec(context.Background(), "CREATE TABLE product_copy (LIKE product INCLUDING ALL)")
	start = time.Now()
	if _, err := conn.PgConn().CopyFrom(context.Background(), io.Reader(strings.NewReader(text)), "COPY product_copy FROM STDIN"); err != nil {
		t.Fatal(err)
	}
	cp := time.Since(start)
	var c1, c2 int
	conn.QueryRow(context.Background(), "SELECT count(*) FROM product").Scan(&c1)
	conn.QueryRow(context.Background(), "SELECT count(*) FROM product_copy").Scan(&c2)
	t.Logf("PostgreSQL: sink %d rows in %v (%.0f rows/s); COPY %d rows in %v (%.0f rows/s); ratio %.2f",
		c1, sink, float64(n)/sink.Seconds(), c2, cp, float64(n)/cp.Seconds(), cp.Seconds()/sink.Seconds())
}

// TestPipelinedThroughputReport is a report, not a check (SLUICE_BENCH=1;
// point SLUICE_PG_DSN at a server with fsync on, or commits cost nothing):
// rows/s of one Write (a committed transaction) per batch against the
// engine's flushing runner's calls (WriteBuffered, and Flush on another
// goroutine, started when the previous one has returned), batches of
// 4,096 snapshot rows, in alternating rounds.
func TestPipelinedThroughputReport(t *testing.T) {
	if testing.Short() || !benchEnabled() {
		t.Skip("set SLUICE_BENCH=1 for the throughput report")
	}
	const n, batch, rounds = 200000, 4096, 3
	evs, _ := productRows(n)
	dsn := pgtest.NewDatabase(t)
	conn := pgtest.Connect(t, dsn)
	cfg := sqlsink.Defaults()
	cfg.AutoCreate, cfg.DSN = true, dsn
	s, err := New(Config{Config: cfg, Schema: "public"}, component.Env{Name: "bench"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	ctx := context.Background()
	sqltest.Write(t, s, evs[:1]...) // create the table
	serial := func() {
		for i := 0; i < n; i += batch {
			sqltest.Write(t, s, evs[i:min(i+batch, n)]...)
		}
	}
	pipelined := func() { sqltest.WritePipelined(t, s, evs, batch) }
	for r := 0; r < rounds; r++ {
		for _, run := range []struct {
			name string
			f    func()
		}{{"one transaction a Write", serial}, {"pipelined", pipelined}} {
			if _, err := conn.Exec(ctx, "TRUNCATE product"); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			run.f()
			d := time.Since(start)
			var c int
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM product").Scan(&c); err != nil || c != n {
				t.Fatalf("%s: %d rows (%v), want %d", run.name, c, err, n)
			}
			t.Logf("round %d, %s: %d rows in %v (%.0f rows/s)", r+1, run.name, n, d.Round(time.Millisecond), float64(n)/d.Seconds())
		}
	}
}
