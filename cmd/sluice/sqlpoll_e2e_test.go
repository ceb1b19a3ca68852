package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/pgtest"
)

// seed003Users creates seed 003's USERS table (a quoted, upper-case name
// and a column called index, as the JDBC connector's config has them) with
// two rows, and returns its DSN and an exec function.
func seed003Users(t *testing.T) (string, func(string)) {
	dsn := pgtest.NewDatabase(t)
	db := pgtest.Connect(t, dsn)
	exec1 := func(q string) {
		t.Helper()
		if _, err := db.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec1(`CREATE TABLE "USERS" (index serial PRIMARY KEY, name text NOT NULL, email text,
		signed_up timestamptz NOT NULL, score numeric(6,2))`)
	exec1(`INSERT INTO "USERS" (name, email, signed_up, score) VALUES
		('Ada', 'ada@example.com', '2024-03-01 09:30:00.25+01', 12.50),
		('Bob', NULL, '2024-03-02 10:00:00Z', NULL)`)
	return dsn, exec1
}

func fileLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// usersToFile is the pipeline that polls seed003Users' table (its DSN in
// ${SEED_DSN}) in incrementing mode on its index column, every poll, at most
// batchRows rows at a time, into the row-format file out; engine is the
// pipeline's engine section, if any.
func usersToFile(dir, out, poll string, batchRows int, engine string) string {
	return fmt.Sprintf(`state_dir: %s/state
sources:
  jdbc:
    type: sql_poll
    driver: postgres
    dsn: ${SEED_DSN}
    mode: incrementing
    incrementing_column: index
    tables: [USERS]
    poll_interval: %s
    batch_max_rows: %d
sinks:
  users:
    type: file
    inputs: [jdbc]
    path: %s
    format: row
%s`, dir, poll, batchRows, out, engine)
}

// TestSeed003SQLPollToFile is seed 003's start: a USERS table polled in
// incrementing mode on its index column into a file. The existing rows
// arrive, rows inserted later arrive, and after a graceful restart the
// source resumes from its watermark: every row exactly once, in order.
func TestSeed003SQLPollToFile(t *testing.T) {
	dsn, exec1 := seed003Users(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "users.jsonl")
	p := writePipeline(t, dir, usersToFile(dir, out, "50ms", 2, ""))
	cmd, stderr := runSluice(t, dir, p, "SEED_DSN="+dsn)
	waitLines(t, out, 2, 30*time.Second)
	exec1(`INSERT INTO "USERS" (name, email, signed_up) SELECT 'user ' || i, 'u' || i || '@example.com', '2024-03-03 00:00:00Z' FROM generate_series(3, 5) i`)
	waitLines(t, out, 5, 30*time.Second)
	stop(t, cmd, stderr)

	exec1(`INSERT INTO "USERS" (name, signed_up, score) VALUES ('Cy', '2024-03-04 00:00:00Z', -0.01)`)
	cmd, stderr = runSluice(t, dir, p, "SEED_DSN="+dsn)
	waitLines(t, out, 6, 30*time.Second)
	stop(t, cmd, stderr)

	// score is Debezium's precise decimal: the base64 of the unscaled
	// big-endian integer (1250 → "BOI=", -1 → "/w==").
	want := []string{
		`{"index":1,"name":"Ada","email":"ada@example.com","signed_up":"2024-03-01T08:30:00.250000Z","score":"BOI="}`,
		`{"index":2,"name":"Bob","email":null,"signed_up":"2024-03-02T10:00:00.000000Z","score":null}`,
		`{"index":3,"name":"user 3","email":"u3@example.com","signed_up":"2024-03-03T00:00:00.000000Z","score":null}`,
		`{"index":4,"name":"user 4","email":"u4@example.com","signed_up":"2024-03-03T00:00:00.000000Z","score":null}`,
		`{"index":5,"name":"user 5","email":"u5@example.com","signed_up":"2024-03-03T00:00:00.000000Z","score":null}`,
		`{"index":6,"name":"Cy","email":null,"signed_up":"2024-03-04T00:00:00.000000Z","score":"/w=="}`,
	}
	if got := fileLines(t, out); !slices.Equal(got, want) {
		t.Fatalf("file:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestSeed003SQLPollToMariaDB is seed 003's JDBC-source-to-JDBC-sink flow:
// USERS polled in incrementing mode lands in a MariaDB table created by the
// mysql sink, with rows inserted later following.
func TestSeed003SQLPollToMariaDB(t *testing.T) {
	target := newMariaDB(t)
	dsn, exec1 := seed003Users(t)
	dir := t.TempDir()
	p := writePipeline(t, dir, fmt.Sprintf(`state_dir: %s/state
sources:
  jdbc:
    type: sql_poll
    driver: postgres
    dsn: ${SOURCE_DSN}
    mode: incrementing
    incrementing_column: index
    tables: [USERS]
    poll_interval: 50ms
sinks:
  mariadb:
    %s
    inputs: [jdbc]
    auto_create: true
`, dir, target.sinkYAML))
	cmd := startSluice(t, dir, p, "SOURCE_DSN="+dsn, "TARGET_DSN="+target.env)
	q := "SELECT CONCAT_WS('|', `index`, name, COALESCE(email, 'NULL'), signed_up, COALESCE(score, 'NULL')) FROM `USERS` ORDER BY `index`"
	waitFor(t, time.Minute, "the first rows", dir, func() bool { return len(target.rows(t, q)) == 2 })
	exec1(`INSERT INTO "USERS" (name, email, signed_up, score) VALUES ('Cy', 'cy@example.com', '2024-03-04 00:00:00.5Z', 3)`)
	stopWhen(t, cmd, dir, time.Minute, "the later row", func() bool { return len(target.rows(t, q)) == 3 })
	want := []string{
		"1|Ada|ada@example.com|2024-03-01 08:30:00.250000|12.50",
		"2|Bob|NULL|2024-03-02 10:00:00.000000|NULL",
		"3|Cy|cy@example.com|2024-03-04 00:00:00.500000|3.00",
	}
	if got := target.rows(t, q); !slices.Equal(got, want) {
		t.Fatalf("MariaDB rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	types := strings.Join(target.rows(t, `SELECT CONCAT(COLUMN_NAME, ' ', COLUMN_TYPE, IF(IS_NULLABLE = 'NO', ' NOT NULL', ''))
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'USERS' ORDER BY ORDINAL_POSITION`), ", ")
	if want := "index int(11) NOT NULL, name longtext NOT NULL, email longtext, signed_up datetime(6) NOT NULL, score decimal(6,2)"; types != want {
		t.Errorf("MariaDB columns:\n got  %s\n want %s", types, want)
	}
}

// TestSQLPollSigkill kills sluice at random moments while it polls a
// growing table into a file: after the last restart every row is in the
// file, and whenever the ids go back it is to a point already written (a
// replay of the unacknowledged window), never skipping ahead.
func TestSQLPollSigkill(t *testing.T) {
	dsn, exec1 := seed003Users(t)
	exec1(`INSERT INTO "USERS" (name, signed_up) SELECT 'user ' || i, now() FROM generate_series(3, 30000) i`)
	dir := t.TempDir()
	out := filepath.Join(dir, "users.jsonl")
	p := writePipeline(t, dir, usersToFile(dir, out, "20ms", 20, "engine:\n  max_inflight: 4\n"))
	rng := rand.New(rand.NewPCG(3, 4))
	total := 30000
	midway := 0 // kills that came while rows were still to be written
	for kill := 0; kill < 6; kill++ {
		cmd := exec.Command(bin, "run", p)
		cmd.Env = append(os.Environ(), "SEED_DSN="+dsn)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(100+rng.IntN(400)) * time.Millisecond) // a random moment, not synchronisation
		exec1(`INSERT INTO "USERS" (name, signed_up) SELECT 'late ' || i, now() FROM generate_series(1, 500) i`)
		total += 500
		cmd.Process.Kill()
		cmd.Wait()
		if g := indexes(t, out); len(g) == 0 || g[len(g)-1] < total {
			midway++
		}
	}
	cmd := startSluice(t, dir, p, "SEED_DSN="+dsn)
	stopWhen(t, cmd, dir, 60*time.Second, fmt.Sprintf("the final run to reach index %d", total), func() bool {
		g := indexes(t, out)
		return len(g) > 0 && g[len(g)-1] == total
	})
	got := indexes(t, out)
	checkEveryID(t, got, total, "index", "row")
	if midway == 0 {
		t.Fatalf("every kill came after the file was complete: the test proves nothing")
	}
	t.Logf("%d kills midway; %d lines for %d rows (%d re-delivered)", midway, len(got), total, len(got)-total)
}

// indexes returns the index column of every complete line of a row-format
// file (a line still being written is left out).
func indexes(t *testing.T, path string) []int {
	t.Helper()
	b, _ := os.ReadFile(path)
	var out []int
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break
		}
		var row struct{ Index int }
		if err := json.Unmarshal(b[:i], &row); err != nil {
			t.Fatalf("bad line %q: %v", b[:i], err)
		}
		out = append(out, row.Index)
		b = b[i+1:]
	}
	return out
}
