package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/internal/svctest"
)

// TestDebeziumDifferential runs Debezium 2.7.3's embedded engine
// (scripts/debezium.sh, scripts/debezium/Capture.java) and sluice side by
// side, each on its own replication slot of the same database, through the
// same snapshot and the same changes, and compares what they write byte for
// byte: values in the debezium, debezium+schema and row formats (through
// sluice's file sinks, which write no tombstones), and keys, values,
// tombstones and Debezium's key-change headers through sluice's Kafka sink.
// The workload covers snapshot rows, inserts, updates, deletes, primary key
// changes, unchanged TOAST values under REPLICA IDENTITY DEFAULT and FULL
// (text and int[]), a keyless table, a multi-row transaction, commit times
// with microseconds and a truncate (which neither writes by default).
//
// Normalised, and only these, because they cannot match between two
// engines: the envelope's ts_ms/ts_us/ts_ns (each engine's processing
// time), and in snapshot rows source.ts_ms/ts_us/ts_ns (the time each
// snapshot was read), source.txId (each snapshot's own transaction),
// source.lsn and the LSN in source.sequence (each slot's consistent point),
// and the row format's __source_ts_ms of snapshot rows. Numbers there are
// replaced by N; null stays null, so a missing value still differs.
func TestDebeziumDifferential(t *testing.T) {
	dbz := svctest.Need(t, svctest.Debezium)
	brokers := svctest.Need(t, svctest.Kafka)
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
	// md5 text does not compress, so big is stored out of line; nums is
	// EXTERNAL (uncompressed, out of line).
	const big = `(SELECT string_agg(md5(g::text), '') FROM generate_series(1, 400) g)`
	const nums = `(SELECT array_agg(g) FROM generate_series(1, 3000) g)`
	exec1(
		`CREATE TABLE items (id int PRIMARY KEY, name text, price numeric(10,2), at timestamptz, tags text[])`,
		`CREATE TABLE docs (id int PRIMARY KEY, name text, big text, nums int[])`,
		`CREATE TABLE docs_full (id int PRIMARY KEY, name text, big text, nums int[])`,
		`CREATE TABLE nokey (a int, b text)`,
		`CREATE TABLE stop (id int PRIMARY KEY)`,
		`ALTER TABLE docs ALTER COLUMN nums SET STORAGE EXTERNAL`,
		`ALTER TABLE docs_full ALTER COLUMN nums SET STORAGE EXTERNAL`,
		`ALTER TABLE docs_full REPLICA IDENTITY FULL`,
		`ALTER TABLE nokey REPLICA IDENTITY FULL`,
		`INSERT INTO items VALUES (1, 'a', 1.50, '2024-01-01 10:00:00.123456+02', '{x,"y z"}'), (2, 'b', NULL, NULL, '{}')`,
		`INSERT INTO docs VALUES (1, 'a', `+big+`, `+nums+`)`,
		`INSERT INTO docs_full VALUES (1, 'a', `+big+`, `+nums+`)`,
		`INSERT INTO nokey VALUES (1, 'x')`,
		`INSERT INTO stop VALUES (0)`,
	)
	tables := []string{"public.items", "public.docs", "public.docs_full", "public.nokey", "public.stop"}
	dir := t.TempDir()
	name := kafkaName("dbz")

	// Debezium, on slot <db>_dbz.
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	slot := cfg.Database + "_dbz"
	props := fmt.Sprintf(`name=differential
connector.class=io.debezium.connector.postgresql.PostgresConnector
offset.storage=org.apache.kafka.connect.storage.MemoryOffsetBackingStore
offset.flush.interval.ms=0
database.hostname=%s
database.port=%d
database.user=%s
database.password=%s
database.dbname=%s
topic.prefix=%s
plugin.name=pgoutput
slot.name=%s
slot.drop.on.stop=true
publication.name=%s
publication.autocreate.mode=filtered
table.include.list=%s
capture.out=%s
capture.ready=%s
capture.stop.topic=%s
capture.unwrap.delete.tombstone.handling.mode=rewrite
capture.unwrap.add.fields=op,table,source.ts_ms
`, cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database, name, slot, slot, strings.Join(tables, ","),
		filepath.Join(dir, "dbz"), filepath.Join(dir, "dbz.ready"), name+".public.stop")
	propsPath := filepath.Join(dir, "dbz.properties")
	if err := os.WriteFile(propsPath, []byte(props), 0o600); err != nil {
		t.Fatal(err)
	}
	jctx, jcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer jcancel()
	java := exec.CommandContext(jctx, "java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-cp", filepath.Join(dbz, "lib", "*")+string(os.PathListSeparator)+filepath.Join(dbz, "classes"), "Capture", propsPath)
	jlog, err := os.Create(filepath.Join(dir, "debezium.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer jlog.Close()
	java.Stdout, java.Stderr = jlog, jlog
	jout := func() string {
		b, _ := os.ReadFile(jlog.Name())
		return tail(string(b), 4000)
	}
	if err := java.Start(); err != nil {
		t.Fatalf("start Debezium (java): %v", err)
	}
	jdone := make(chan error, 1)
	go func() { jdone <- java.Wait() }()
	t.Cleanup(func() {
		jcancel()
		<-jdone
		// A Debezium that did not stop cleanly leaves its slot behind.
		_, _ = db.Exec(context.Background(), `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, slot)
	})
	waitFor(t, 60*time.Second, "Debezium's snapshot", dir, func() bool {
		select {
		case err := <-jdone:
			jdone <- err
			t.Fatalf("Debezium exited during its snapshot: %v\n%s", err, jout())
		default:
		}
		_, err := os.Stat(filepath.Join(dir, "dbz.ready"))
		return err == nil
	})

	// sluice, on its own slot, with the tables in the same order.
	var sinks strings.Builder
	for _, f := range []struct{ id, format, extra string }{
		{"plain", "debezium", ""},
		{"schema", "debezium+schema", ""},
		{"row", "row", "    unwrap:\n      delete_handling: rewrite\n      add_fields: [op, table, source.ts_ms]\n"},
	} {
		fmt.Fprintf(&sinks, "  file_%[1]s:\n    type: file\n    inputs: [%[2]s]\n    path: %[3]s/sluice-%[1]s.jsonl\n    format: %[4]s\n%[5]s",
			f.id, name, dir, f.format, f.extra)
	}
	fmt.Fprintf(&sinks, "  kafka_plain:\n    type: kafka\n    inputs: [%s]\n    brokers: [%s]\n    format: debezium\n    headers: true\n    partitions: 1\n",
		name, brokers)
	pipeline := writePipelineAs(t, dir, "pipeline.yaml", fmt.Sprintf(`state_dir: %s/state
sources:
  %s:
    type: postgres
    dsn: ${DIFF_DSN}
    tables: [%s]
    snapshot_workers: 1
    drop_slot_on_stop: true
sinks:
%s`, dir, name, strings.Join(tables, ", "), sinks.String()))
	cmd, stderr := runSluice(t, dir, pipeline, "DIFF_DSN="+dsn)
	waitLines(t, filepath.Join(dir, "sluice-plain.jsonl"), 6, 60*time.Second)

	// The changes, once both snapshots are read.
	exec1(
		`INSERT INTO items VALUES (3, 'c', 3.00, '2024-02-29 23:59:59.999999+00', '{q}')`,
		`UPDATE items SET name = 'A', price = 2.25 WHERE id = 1`,
		`UPDATE items SET id = 10 WHERE id = 2`,
		`DELETE FROM items WHERE id = 3`,
		`UPDATE docs SET name = 'b'`,
		`UPDATE docs_full SET name = 'b'`,
		`UPDATE docs_full SET id = 2`,
		`UPDATE docs SET id = 2`,
		`INSERT INTO nokey VALUES (2, 'y')`,
		`UPDATE nokey SET b = 'z' WHERE a = 2`,
		`DELETE FROM nokey WHERE a = 1`,
		`TRUNCATE items`,
		`BEGIN; INSERT INTO items VALUES (20, 'x'); INSERT INTO items VALUES (21, 'y'); UPDATE items SET name = 'w' WHERE id = 20; COMMIT`,
		`INSERT INTO stop VALUES (1)`,
	)
	select {
	case err := <-jdone:
		jdone <- err
		if err != nil {
			t.Fatalf("Debezium: %v\n%s", err, jout())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("Debezium did not reach the stop row\n%s", jout())
	}
	dbzPlain := readTSV(t, filepath.Join(dir, "dbz", "debezium.tsv"))
	// The insert into stop, in any format.
	stopLine := func(path string) func() bool {
		return func() bool {
			b, _ := os.ReadFile(path)
			for _, l := range strings.Split(string(b), "\n") {
				if tableOf(l) == "stop" && (strings.Contains(l, `"op":"c"`) || strings.Contains(l, `"__op":"c"`)) {
					return true
				}
			}
			return false
		}
	}
	for _, f := range []string{"plain", "schema", "row"} {
		waitFor(t, 30*time.Second, "sluice's "+f+" file to reach the stop row", dir, stopLine(filepath.Join(dir, "sluice-"+f+".jsonl")))
	}
	// Stopped first: every record sluice produced is acknowledged (acks=all)
	// and below the end offsets readTopics reads up to.
	stop(t, cmd, stderr)
	kafkaRecs := readTopics(t, brokers, name, dbzPlain)

	// Values, per table, in each format.
	for _, f := range []struct{ sluice, dbz string }{
		{"sluice-plain.jsonl", "debezium.tsv"},
		{"sluice-schema.jsonl", "debezium+schema.tsv"},
		{"sluice-row.jsonl", "row.tsv"},
	} {
		want := map[string][]string{}
		for _, r := range readTSV(t, filepath.Join(dir, "dbz", f.dbz)) {
			if r.value != "null" { // files hold no tombstones
				want[r.topic] = append(want[r.topic], normalise(r.value))
			}
		}
		got := map[string][]string{}
		b, err := os.ReadFile(filepath.Join(dir, f.sluice))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			got[name+".public."+tableOf(l)] = append(got[name+".public."+tableOf(l)], normalise(l))
		}
		compareStreams(t, f.sluice, got, want)
	}
	// Keys, values, tombstones and key-change headers through Kafka.
	want := map[string][]string{}
	for _, r := range dbzPlain {
		want[r.topic] = append(want[r.topic], r.key+"\t"+normalise(r.value)+"\t"+r.headers)
	}
	compareStreams(t, "kafka", kafkaRecs, want)
}

type tsvRecord struct{ topic, key, value, headers string }

func readTSV(t *testing.T, path string) []tsvRecord {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []tsvRecord
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		f := strings.SplitN(l, "\t", 4)
		if len(f) != 4 {
			t.Fatalf("%s: bad line %q", path, l)
		}
		out = append(out, tsvRecord{f[0], f[1], f[2], f[3]})
	}
	return out
}

// readTopics reads every record of the Debezium topics from Kafka, as
// "key<TAB>normalised value<TAB>__debezium.* headers" per topic.
func readTopics(t *testing.T, brokers, prefix string, like []tsvRecord) map[string][]string {
	t.Helper()
	counts := map[string]int{}
	for _, r := range like {
		counts[r.topic]++
	}
	var topics []string
	for tp := range counts {
		topics = append(topics, tp)
	}
	// sluice writes the topics of every table, Debezium's only of tables
	// with records: add those.
	for _, tbl := range []string{"items", "docs", "docs_full", "nokey", "stop"} {
		if tp := prefix + ".public." + tbl; counts[tp] == 0 {
			topics = append(topics, tp)
		}
	}
	// Read every topic to its end offset as it is now: records of several
	// topics come in no particular order, so waiting for one topic's last
	// record says nothing of the others'.
	admin, adm := kafkaAdmin(t, brokers)
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			if want[o.Topic] == nil {
				want[o.Topic] = map[int32]int64{}
			}
			want[o.Topic][o.Partition] = o.Offset
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	out := map[string][]string{}
	reached := map[string]map[int32]int64{}
	done := func() bool {
		for tp, ps := range want {
			for p, end := range ps {
				if reached[tp][p] < end {
					return false
				}
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading Kafka to the end offsets %v: at %v", want, reached)
		}
		fs.EachRecord(func(r *kgo.Record) {
			key, val := "null", "null"
			if r.Key != nil {
				key = string(r.Key)
			}
			if r.Value != nil {
				val = normalise(string(r.Value))
			}
			var hs []string
			for _, h := range r.Headers {
				if strings.HasPrefix(h.Key, "__debezium.") {
					hs = append(hs, h.Key+"="+string(h.Value))
				}
			}
			out[r.Topic] = append(out[r.Topic], key+"\t"+val+"\t"+strings.Join(hs, ";"))
			if reached[r.Topic] == nil {
				reached[r.Topic] = map[int32]int64{}
			}
			reached[r.Topic][r.Partition] = r.Offset + 1
		})
	}
	return out
}

var (
	tableRe   = regexp.MustCompile(`"(?:table|__table)":"([^"]+)"`)
	envTsRe   = regexp.MustCompile(`"op":"(.)","ts_ms":-?\d+,"ts_us":-?\d+,"ts_ns":-?\d+`)
	snapRe    = regexp.MustCompile(`"source":\{[^{}]*"snapshot":"(?:true|first|last|first_in_data_collection|last_in_data_collection)"[^{}]*\}`)
	snapNumRe = regexp.MustCompile(`"(ts_ms|ts_us|ts_ns|txId|lsn)":-?\d+`)
	snapSeqRe = regexp.MustCompile(`\\"\d+\\"`)
	rowTsRe   = regexp.MustCompile(`"__source_ts_ms":\d+`)
)

func tableOf(line string) string {
	if m := tableRe.FindStringSubmatch(line); m != nil {
		return m[1]
	}
	return "?"
}

// normalise replaces the fields that cannot match between two engines (see
// TestDebeziumDifferential) with N.
func normalise(v string) string {
	v = envTsRe.ReplaceAllString(v, `"op":"$1","ts_ms":N,"ts_us":N,"ts_ns":N`)
	v = snapRe.ReplaceAllStringFunc(v, func(s string) string {
		s = snapNumRe.ReplaceAllString(s, `"$1":N`)
		return snapSeqRe.ReplaceAllString(s, `\"N\"`)
	})
	if strings.Contains(v, `"__op":"r"`) {
		v = rowTsRe.ReplaceAllString(v, `"__source_ts_ms":N`)
	}
	return v
}

func compareStreams(t *testing.T, what string, got, want map[string][]string) {
	t.Helper()
	var names []string
	for n := range want {
		names = append(names, n)
	}
	for n := range got {
		if _, ok := want[n]; !ok && len(got[n]) > 0 {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		g, w := got[n], want[n]
		for i := range max(len(g), len(w)) {
			gl, wl := "(none)", "(none)"
			if i < len(g) {
				gl = g[i]
			}
			if i < len(w) {
				wl = w[i]
			}
			if gl != wl {
				t.Errorf("%s, %s record %d of %d (Debezium %d):\n sluice   %s\n debezium %s\n first difference at byte %d",
					what, n, i+1, len(g), len(w), gl, wl, firstDiffAt(gl, wl))
				break
			}
		}
	}
}

func firstDiffAt(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
