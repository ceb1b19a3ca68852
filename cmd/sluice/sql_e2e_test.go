package main

import (
	"context"
	crand "crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/internal/svctest"
)

// sqlTarget is a database the SQL sinks write to in these tests.
type sqlTarget struct {
	sinkYAML string // the sink's type and dsn lines
	env      string // DSN for ${TARGET_DSN}
	// rows returns query's single text column, in order.
	rows func(t *testing.T, query string) []string
	// quote quotes an identifier.
	quote func(string) string
}

// mariaDBDatabase creates a database of its own on the test MariaDB,
// named prefix and a random suffix and dropped at cleanup, and returns the
// server's DSN with that database.
func mariaDBDatabase(t *testing.T, prefix string) *mysql.Config {
	t.Helper()
	base := svctest.Need(t, svctest.MariaDB)
	mc, err := mysql.ParseDSN(base)
	if err != nil {
		t.Fatal("SLUICE_MYSQL_DSN cannot be parsed")
	}
	var rnd [4]byte
	_, _ = crand.Read(rnd[:])
	name := prefix + hex.EncodeToString(rnd[:])
	admin, err := sql.Open("mysql", base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec("DROP DATABASE " + name) })
	mc.DBName = name
	return mc
}

func newMariaDB(t *testing.T) sqlTarget {
	dsn := mariaDBDatabase(t, "e2e_").FormatDSN()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return sqlTarget{
		sinkYAML: "type: mysql\n    dsn: ${TARGET_DSN}",
		env:      dsn,
		quote:    func(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" },
		rows: func(t *testing.T, q string) []string {
			r, err := db.Query(q)
			if err != nil {
				if strings.Contains(err.Error(), "doesn't exist") {
					return nil
				}
				t.Fatalf("%s: %v", q, err)
			}
			defer r.Close()
			var out []string
			for r.Next() {
				var s sql.NullString
				if err := r.Scan(&s); err != nil {
					t.Fatal(err)
				}
				out = append(out, s.String)
			}
			return out
		},
	}
}

func newPGTarget(t *testing.T) sqlTarget {
	dsn := pgtest.NewDatabase(t)
	conn := pgtest.Connect(t, dsn)
	return sqlTarget{
		sinkYAML: "type: postgres\n    dsn: ${TARGET_DSN}",
		env:      dsn,
		quote:    func(s string) string { return pgx.Identifier{s}.Sanitize() },
		rows: func(t *testing.T, q string) []string {
			r, err := conn.Query(context.Background(), q)
			if err != nil {
				if strings.Contains(err.Error(), "does not exist") {
					return nil
				}
				t.Fatalf("%s: %v", q, err)
			}
			out, err := pgx.CollectRows(r, func(row pgx.CollectableRow) (string, error) {
				var s *string
				err := row.Scan(&s)
				if s == nil {
					return "", err
				}
				return *s, err
			})
			if err != nil {
				if strings.Contains(err.Error(), "does not exist") {
					return nil
				}
				t.Fatalf("%s: %v", q, err)
			}
			return out
		},
	}
}

// sameRows fails the test unless got, a table's rows as text in the
// database gotIn, equals want, its rows in wantIn; it shows the first row
// that differs.
func sameRows(t *testing.T, table, gotIn string, got []string, wantIn string, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d rows in %s, %d in %s", table, len(got), gotIn, len(want), wantIn)
	}
	for i := 0; i < len(want) && i < len(got); i++ {
		if got[i] != want[i] {
			t.Errorf("%s row %d:\n %-10s %s\n %-10s %s", table, i, gotIn, got[i], wantIn, want[i])
			break
		}
	}
}

// pgRows reads one text column from the source.
func pgRows(t *testing.T, db *pgx.Conn, q string) []string {
	r, err := db.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	out, err := pgx.CollectRows(r, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

// TestPostgresToMariaDB is seed 003's shape with a PostgreSQL source:
// customers and orders, snapshot then inserts, updates and deletes, into
// MariaDB tables created by auto_create; the tables end equal to the
// source's, column types included.
func TestPostgresToMariaDB(t *testing.T) {
	src := pgtest.NewDatabase(t)
	db := pgtest.Connect(t, src)
	ctx := context.Background()
	target := newMariaDB(t)
	for _, q := range []string{
		`CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, email varchar(200),
			created_at timestamptz NOT NULL, balance numeric(12,2), vip boolean, tags text[], profile jsonb,
			avatar bytea, uid uuid, born date)`,
		`CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL, total numeric(10,2),
			status text, placed_at timestamp(3), qty smallint, weight double precision)`,
		`INSERT INTO customers (name, email, created_at, balance, vip, tags, profile, avatar, uid, born)
			SELECT 'customer ' || g, 'c' || g || '@example.com', timestamptz '2024-01-01 10:00:00.123456+02' + g * interval '1 hour',
				g * 1.25, g % 2 = 0, ARRAY['t' || g, 'x"y'], jsonb_build_object('n', g, 's', 'é'), decode(md5(g::text), 'hex'),
				md5(g::text)::uuid, date '1990-01-01' + g
			FROM generate_series(1, 300) g`,
		`INSERT INTO orders SELECT g, 1 + g % 300, g * 0.5, CASE WHEN g % 3 = 0 THEN 'shipped' ELSE 'new' END,
			timestamp '2024-02-01 00:00:00.123' + g * interval '1 minute', g % 100, g / 3.0 FROM generate_series(1, 2000) g`,
		`CREATE TABLE marker (id int PRIMARY KEY)`,
	} {
		if _, err := db.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	dir := t.TempDir()
	p := writePipeline(t, dir, fmt.Sprintf(`state_dir: %s/state
sources:
  pg:
    type: postgres
    dsn: ${SOURCE_DSN}
    tables: [public.*]
    slot: %s
sinks:
  mariadb:
    %s
    inputs: [pg]
    auto_create: true
`, dir, uniqueSlot(), target.sinkYAML))
	cmd := startSluice(t, dir, p, "SOURCE_DSN="+src, "TARGET_DSN="+target.env)
	count := func(table string) int {
		r := target.rows(t, "SELECT CAST(COUNT(*) AS CHAR) FROM "+table)
		if len(r) == 0 {
			return -1
		}
		var n int
		fmt.Sscan(r[0], &n)
		return n
	}
	waitFor(t, time.Minute, "the snapshot", dir, func() bool { return count("orders") == 2000 && count("customers") == 300 })
	for _, q := range []string{
		`INSERT INTO customers (name, email, created_at, balance, vip, tags, profile, avatar, uid, born)
			VALUES ('new one', NULL, now(), 99999999.99, NULL, '{}', 'null', '\x00', NULL, '2000-02-29')`,
		`UPDATE customers SET name = name || ' (renamed)', balance = balance + 0.01, tags = tags || ARRAY[NULL::text] WHERE id % 7 = 0`,
		`DELETE FROM customers WHERE id % 11 = 0`,
		// (Both servers print doubles alike above 1e-4; below, PostgreSQL switches to exponents.)
		`INSERT INTO orders VALUES (5000, 1, 10.10, 'new', '2024-03-01 12:00:00.5', 1, 0.0015)`,
		`UPDATE orders SET status = 'cancelled', total = NULL WHERE id % 5 = 0`,
		`DELETE FROM orders WHERE id BETWEEN 100 AND 199`,
		`UPDATE orders SET id = id + 10000 WHERE id BETWEEN 1 AND 9`,
		`INSERT INTO marker VALUES (1)`,
	} {
		if _, err := db.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	stopWhen(t, cmd, dir, time.Minute, "the marker", func() bool { return count("marker") == 1 })

	for _, tc := range []struct{ table, pg, my string }{
		{"customers",
			`SELECT concat_ws('|', id, name, coalesce(email, 'NULL'), to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),
				coalesce(balance::text, 'NULL'), coalesce(vip::int::text, 'NULL'), coalesce(array_to_json(tags)::text, 'NULL'),
				coalesce(profile::text, 'NULL'), coalesce(encode(avatar, 'hex'), 'NULL'), coalesce(uid::text, 'NULL'), born) FROM customers ORDER BY id`,
			myConcat("id, name, email, created_at, balance, vip, tags, profile, LOWER(HEX(avatar)), uid, born") + " FROM customers ORDER BY id"},
		{"orders",
			`SELECT concat_ws('|', id, customer_id, coalesce(total::text, 'NULL'), status, to_char(placed_at, 'YYYY-MM-DD HH24:MI:SS.MS'), qty, weight) FROM orders ORDER BY id`,
			myConcat("id, customer_id, total, status, placed_at, qty, weight") + " FROM orders ORDER BY id"},
	} {
		sameRows(t, tc.table, "MariaDB", target.rows(t, tc.my), "PostgreSQL", pgRows(t, db, tc.pg))
	}
	types := strings.Join(target.rows(t, `SELECT CONCAT(TABLE_NAME, '.', COLUMN_NAME, ' ', COLUMN_TYPE, IF(IS_NULLABLE = 'NO', ' NOT NULL', ''))
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ('customers', 'orders')
		ORDER BY TABLE_NAME, ORDINAL_POSITION`), ", ")
	wantTypes := "customers.id int(11) NOT NULL, customers.name longtext NOT NULL, customers.email varchar(200), " +
		"customers.created_at datetime(6) NOT NULL, customers.balance decimal(12,2), customers.vip tinyint(1), customers.tags longtext, " +
		"customers.profile longtext, customers.avatar longblob, customers.uid char(36), customers.born date, " +
		"orders.id bigint(20) NOT NULL, orders.customer_id int(11) NOT NULL, orders.total decimal(10,2), orders.status longtext, " +
		"orders.placed_at datetime(3), orders.qty smallint(6), orders.weight double"
	if types != wantTypes {
		t.Errorf("MariaDB columns:\n got  %s\n want %s", types, wantTypes)
	}
}

// TestPostgresToMariaDBCrashRecovery is TestPostgresCrashRecovery's
// workload with a MariaDB sink: sluice is SIGKILLed during the snapshot
// and during streaming, and the MariaDB tables end equal to the source.
func TestPostgresToMariaDBCrashRecovery(t *testing.T) {
	sqlCrash(t, newMariaDB(t))
}

// TestPostgresToPostgresCrashRecovery is the same into a PostgreSQL sink.
func TestPostgresToPostgresCrashRecovery(t *testing.T) {
	sqlCrash(t, newPGTarget(t))
}

func sqlCrash(t *testing.T, target sqlTarget) {
	ctx := context.Background()
	snapKills, streamKills, seedRows := 3, 3, 12000
	if os.Getenv("SLUICE_CRASH_FULL") != "" {
		snapKills, streamKills, seedRows = 20, 50, 500000
	}
	dsn, db, total := newCrashDB(t, seedRows)
	gate, gated := newSnapshotGate(t, dsn, "acct", "item", "link", "marker")
	dir := t.TempDir()
	r := newCrashRun(t, dir, writePipeline(t, dir, crashPipeline(dir, "pg", "    "+target.sinkYAML+"\n    auto_create: true\n")),
		"CRASH_DSN="+gated, "TARGET_DSN="+target.env)
	count := func() int {
		n := 0
		for _, tb := range []string{"acct", "item", "link"} {
			rows := target.rows(t, "SELECT CAST(COUNT(*) AS CHAR(20)) FROM "+tb)
			if len(rows) == 1 {
				var c int
				fmt.Sscan(strings.TrimSpace(rows[0]), &c)
				n += c
			}
		}
		return n
	}
	r.killDuringSnapshot(snapshotKills{
		kills: snapKills, tries: snapKills * 4, gate: gate,
		left:     func() int { return total - count() },
		done:     func() bool { return count() >= total },
		progress: func() string { return fmt.Sprintf("%d of %d rows written", count(), total) },
	})

	var txs atomic.Int64
	r.killDuringWorkload(nil, streamKills, r.randomMoment(time.Second, 1500*time.Millisecond), func(ctx context.Context) {
		workload(ctx, t, dsn, seedRows, &txs)
	})
	t.Logf("workload committed %d transactions", txs.Load())

	// Catch up to a marker transaction committed after the workload. The
	// marker row itself may arrive early, through a snapshot resumed at a
	// new snapshot, so wait for the sink's position row to pass it: the
	// marker is the database's only transaction after lsn0.
	var lsn0 string
	if err := db.QueryRow(ctx, `SELECT (pg_current_wal_lsn() - '0/0')::text`).Scan(&lsn0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `INSERT INTO marker VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	var after uint64
	fmt.Sscan(lsn0, &after)
	r.finalRun(3*time.Minute, "the marker", func() bool {
		rows := target.rows(t, "SELECT CAST(hi AS CHAR(30)) FROM sluice_positions")
		var hi uint64
		if len(rows) == 1 {
			fmt.Sscan(strings.TrimSpace(rows[0]), &hi)
		}
		return hi > after
	})
	for _, tc := range []struct{ table, cols, order string }{
		{"acct", "id, balance, note", "id"},
		{"item", "id, name, big", "id"},
		{"link", "a, b, val", "a, b"},
	} {
		// concat_ws skips NULLs in both servers; mark them explicitly.
		var parts []string
		for _, c := range strings.Split(tc.cols, ", ") {
			parts = append(parts, "COALESCE(CAST("+c+" AS CHAR(20000)), 'NULL')")
		}
		pgParts := strings.ReplaceAll(strings.Join(parts, ", "), "CHAR(20000)", "text")
		want := pgRows(t, db, "SELECT concat_ws('|', "+pgParts+") FROM "+tc.table+" ORDER BY "+tc.order)
		myParts := strings.Join(parts, ", ")
		if strings.HasPrefix(target.sinkYAML, "type: postgres") {
			myParts = pgParts
		}
		got := target.rows(t, "SELECT CONCAT_WS('|', "+myParts+") FROM "+tc.table+" ORDER BY "+tc.order)
		if len(got) != len(want) {
			t.Errorf("%s: %d rows in the sink, %d in the source", tc.table, len(got), len(want))
		}
		gs, ws := map[string]bool{}, map[string]bool{}
		for _, g := range got {
			gs[g] = true
		}
		for _, w := range want {
			ws[w] = true
		}
		var diff []string
		for w := range ws {
			if !gs[w] {
				diff = append(diff, "missing "+trim(w))
			}
		}
		for g := range gs {
			if !ws[g] {
				diff = append(diff, "extra "+trim(g))
			}
		}
		sort.Strings(diff)
		if len(diff) > 0 {
			t.Errorf("%s: %d differences, first: %q", tc.table, len(diff), diff[:min(5, len(diff))])
		}
	}
}

// myConcat selects MariaDB columns joined by "|", NULL spelled out. Every
// part is cast to the connection's collation: the sink's tables use a
// binary NO PAD collation that CONCAT_WS will not mix with others.
func myConcat(cols string) string {
	var parts []string
	for _, c := range strings.Split(cols, ", ") {
		parts = append(parts, "COALESCE(CAST("+c+" AS CHAR), 'NULL')")
	}
	return "SELECT CONCAT_WS('|', " + strings.Join(parts, ", ") + ")"
}

// uniqueSlot names a replication slot no other test uses: slots are
// cluster-wide, and the default name comes from the pipeline file's name.
func uniqueSlot() string {
	var rnd [6]byte
	_, _ = crand.Read(rnd[:])
	return "sluice_sqltest_" + hex.EncodeToString(rnd[:])
}

func trim(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}
