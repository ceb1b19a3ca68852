package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/pgtest"
)

// TestTopicLogRoundTrip: PostgreSQL → sluice → the topic-log sink
// (debezium+schema), then the topic-log source → files gives, byte for
// byte, the files PostgreSQL → sluice → file gives directly, with and
// without the schema part — first as two runs one after the other, then
// both pipelines in one process sharing the log while PostgreSQL changes.
func TestTopicLogRoundTrip(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	db := pgtest.Connect(t, dsn)
	ctx := context.Background()
	exec1 := func(qs ...string) {
		t.Helper()
		for _, q := range qs {
			if _, err := db.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	exec1(
		`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`,
		`CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, price numeric(10,2), qty int NOT NULL DEFAULT 0,
			ratio double precision, flag boolean, at timestamptz, ts timestamp, day date, tm time, doc jsonb, tags text[],
			raw bytea, uid uuid, amount numeric, m mood, span interval, note varchar(20) DEFAULT 'n/a')`,
		`INSERT INTO items (name, price, qty, ratio, flag, at, ts, day, tm, doc, tags, raw, uid, amount, m, span)
			VALUES ('a', 12.50, 3, 0.61987811851418, true, '2024-01-01 10:00:00.123456+02', '2024-02-29 23:59:59.999999',
			'2024-01-01', '10:15:30.5', '{"a": [1, 2]}', '{x,"y z"}', '\xdeadbeef', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
			3.14159265358979, 'happy', '1 day 02:03:04.5')`,
		`INSERT INTO items (name) VALUES ('nulls')`,
		`INSERT INTO items (name, price, amount) VALUES ('neg', -0.01, -1e-10)`,
	)
	name := kafkaName("tl")
	topic := name + ".public.items"
	dir := t.TempDir()
	pipes := filepath.Join(dir, "pipelines")
	if err := os.MkdirAll(pipes, 0o755); err != nil {
		t.Fatal(err)
	}
	direct := writePipelineAs(t, pipes, "direct.yaml", fmt.Sprintf(`state_dir: %[1]s/state-direct
sources:
  %[2]s:
    type: postgres
    dsn: ${RT_DSN}
    tables: [public.items]
sinks:
  schema_file:
    type: file
    inputs: [%[2]s]
    path: %[1]s/direct-schema.jsonl
    format: debezium+schema
  plain_file:
    type: file
    inputs: [%[2]s]
    path: %[1]s/direct.jsonl
    format: debezium
  topics:
    type: topiclog
    inputs: [%[2]s]
    dir: %[1]s/topics
    format: debezium+schema
`, dir, name))
	cmd, stderr := runSluice(t, dir, direct, "RT_DSN="+dsn)
	waitLines(t, filepath.Join(dir, "direct.jsonl"), 3, 60*time.Second)
	exec1(
		`UPDATE items SET qty = qty + 1, at = now(), tags = '{}' WHERE id = 1`,
		`INSERT INTO items (name, span, m) VALUES ('later', '-3 hours', 'sad')`,
		`DELETE FROM items WHERE id = 2`,
		`UPDATE items SET id = 20 WHERE id = 3`, // a key change: delete + create
	)
	waitLines(t, filepath.Join(dir, "direct.jsonl"), 8, 60*time.Second)
	stop(t, cmd, stderr)

	back := writePipelineAs(t, pipes, "back.yaml", fmt.Sprintf(`state_dir: %[1]s/state-back
sources:
  tin:
    type: topiclog
    dir: %[1]s/topics
    topics: [%[2]s]
sinks:
  schema_file:
    type: file
    inputs: [tin]
    path: %[1]s/back-schema.jsonl
    format: debezium+schema
  plain_file:
    type: file
    inputs: [tin]
    path: %[1]s/back.jsonl
    format: debezium
`, dir, topic))
	cmd, stderr = runSluice(t, dir, back)
	waitLines(t, filepath.Join(dir, "back.jsonl"), 8, 60*time.Second)
	waitLines(t, filepath.Join(dir, "back-schema.jsonl"), 8, 60*time.Second)
	stop(t, cmd, stderr)
	compareFiles(t, dir)

	// Both pipelines in one process: they share the topic log, and each
	// resumes from its checkpoint.
	both, out := runSluiceArgs(t, []string{"--progress", "never", pipes}, "RT_DSN="+dsn)
	exec1(
		`INSERT INTO items (name) VALUES ('live 1'), ('live 2')`,
		`UPDATE items SET name = 'live' WHERE id = 1`,
	)
	waitLines(t, filepath.Join(dir, "direct.jsonl"), 11, 60*time.Second)
	waitLines(t, filepath.Join(dir, "back.jsonl"), 11, 60*time.Second)
	waitLines(t, filepath.Join(dir, "back-schema.jsonl"), 11, 60*time.Second)
	stop(t, both, out)
	compareFiles(t, dir)
}

func compareFiles(t *testing.T, dir string) {
	t.Helper()
	for _, pair := range [][2]string{{"direct.jsonl", "back.jsonl"}, {"direct-schema.jsonl", "back-schema.jsonl"}} {
		want, _ := os.ReadFile(filepath.Join(dir, pair[0]))
		got, _ := os.ReadFile(filepath.Join(dir, pair[1]))
		if !bytes.Equal(got, want) {
			wl, gl := strings.Split(string(want), "\n"), strings.Split(string(got), "\n")
			for i := range min(len(wl), len(gl)) {
				if wl[i] != gl[i] {
					t.Errorf("%s line %d after the round trip:\n got %s\nwant %s", pair[1], i+1, gl[i], wl[i])
					break
				}
			}
			if len(wl) != len(gl) {
				t.Errorf("%s has %d lines, %s %d", pair[1], len(gl), pair[0], len(wl))
			}
		}
	}
}
