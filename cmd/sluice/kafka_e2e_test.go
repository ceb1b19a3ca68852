package main

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/internal/svctest"
)

// The Kafka end-to-end tests drive the binary: PostgreSQL → Kafka → sluice's
// Kafka source → files, and SIGKILLs while streaming into Kafka.

func kafkaName(prefix string) string {
	var b [4]byte
	_, _ = crand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// TestKafkaRoundTrip: PostgreSQL → sluice → Kafka (debezium+schema) →
// sluice's Kafka source → files gives, byte for byte, the files that
// PostgreSQL → sluice → file gives directly, with and without the schema
// part: every field survives, ts_ms included (it travels in the message).
func TestKafkaRoundTrip(t *testing.T) {
	brokers := svctest.Need(t, svctest.Kafka)
	dsn := pgtest.NewDatabase(t)
	db := pgtest.Connect(t, dsn)
	ctx := context.Background()
	for _, q := range []string{
		`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`,
		`CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, price numeric(10,2), qty int NOT NULL DEFAULT 0,
			ratio double precision, small real, flag boolean, at timestamptz, at3 timestamptz(3), ts timestamp, ts3 timestamp(3),
			day date, tm time, doc jsonb, tags text[], nums int[], raw bytea, uid uuid, amount numeric, m mood, span interval,
			note varchar(20) DEFAULT 'n/a')`,
		`INSERT INTO items (name, price, qty, ratio, small, flag, at, at3, ts, ts3, day, tm, doc, tags, nums, raw, uid, amount, m, span)
			VALUES ('a', 12.50, 3, 0.61987811851418, 3.14, true, '2024-01-01 10:00:00.123456+02', '2024-01-01 10:00:00.123+00',
			'2024-02-29 23:59:59.999999', '1999-12-31 23:59:59.5', '2024-01-01', '10:15:30.5', '{"a": [1, 2]}', '{x,"y z"}', '{1,NULL,3}',
			'\xdeadbeef', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 3.14159265358979, 'happy', '1 day 02:03:04.5')`,
		`INSERT INTO items (name) VALUES ('nulls')`,
		`INSERT INTO items (name, price, amount) VALUES ('neg', -0.01, -1e-10)`,
	} {
		if _, err := db.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	name := kafkaName("rt")
	topic := name + ".public.items"
	dir := t.TempDir()
	direct := writePipelineAs(t, dir, "direct.yaml", fmt.Sprintf(`state_dir: %[1]s/state-direct
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
    type: kafka
    inputs: [%[2]s]
    brokers: [%[3]s]
    format: debezium+schema
    partitions: 1
`, dir, name, brokers))
	cmd, stderr := runSluice(t, dir, direct, "RT_DSN="+dsn)
	waitLines(t, filepath.Join(dir, "direct.jsonl"), 3, 60*time.Second)
	for _, q := range []string{
		`UPDATE items SET qty = qty + 1, at = now(), tags = '{}' WHERE id = 1`,
		`INSERT INTO items (name, span, m) VALUES ('later', '-3 hours', 'sad')`,
		`DELETE FROM items WHERE id = 2`,
		`UPDATE items SET price = NULL, note = NULL WHERE id = 3`,
	} {
		if _, err := db.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	waitLines(t, filepath.Join(dir, "direct.jsonl"), 7, 60*time.Second)
	stop(t, cmd, stderr)

	back := writePipelineAs(t, dir, "back.yaml", fmt.Sprintf(`state_dir: %[1]s/state-back
sources:
  kin:
    type: kafka
    brokers: [%[2]s]
    topics: [%[3]s]
    group_id: %[4]s
sinks:
  schema_file:
    type: file
    inputs: [kin]
    path: %[1]s/back-schema.jsonl
    format: debezium+schema
  plain_file:
    type: file
    inputs: [kin]
    path: %[1]s/back.jsonl
    format: debezium
`, dir, brokers, topic, name))
	cmd, stderr = runSluice(t, dir, back)
	waitLines(t, filepath.Join(dir, "back.jsonl"), 7, 60*time.Second)
	waitLines(t, filepath.Join(dir, "back-schema.jsonl"), 7, 60*time.Second)
	stop(t, cmd, stderr)
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

func writePipelineAs(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func kafkaAdmin(t *testing.T, brokers string) (*kgo.Client, *kadm.Client) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl, kadm.NewClient(cl)
}

// endTotal sums the end offsets of topic's partitions (0 when it does not
// exist yet).
func endTotal(adm *kadm.Client, topic string) int64 {
	ends, err := adm.ListEndOffsets(context.Background(), topic)
	if err != nil {
		return 0
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			n += o.Offset
		}
	})
	return n
}

func waitEnd(t *testing.T, adm *kadm.Client, topic string, n int64, d time.Duration, stderr func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for endTotal(adm, topic) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d records, want %d\n%s", topic, endTotal(adm, topic), n, stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKafkaCrashRecovery: the randomized workload of the PostgreSQL crash
// test streams into Kafka (three partitions per topic) while sluice is
// SIGKILLed during streaming. Afterwards each topic, read in partition
// order, must end with the table: the last value per key equals the row
// (tombstones and deletes remove it). Duplicates from replays are allowed.
func TestKafkaCrashRecovery(t *testing.T) {
	brokers := svctest.Need(t, svctest.Kafka)
	kills, seedRows := 3, 10000
	if os.Getenv("SLUICE_CRASH_FULL") != "" {
		kills, seedRows = 20, 200000
	}
	dsn, db, _ := newCrashDB(t, seedRows)
	name := kafkaName("kc")
	dir := t.TempDir()
	r := newCrashRun(t, dir, writePipeline(t, dir, crashPipeline(dir, name, fmt.Sprintf(`    type: kafka
    brokers: [%s]
    format: debezium
    partitions: 3
`, brokers))), "CRASH_DSN="+dsn)
	logs := func() string { b, _ := os.ReadFile(filepath.Join(dir, "stderr.log")); return string(b) }
	_, adm := kafkaAdmin(t, brokers)

	// The snapshot lands, then the workload runs while sluice is killed.
	cmd := r.start()
	waitEnd(t, adm, name+".public.acct", int64(seedRows), 2*time.Minute, logs)
	var txs atomic.Int64
	r.killDuringWorkload(cmd, kills, r.randomMoment(300*time.Millisecond, 900*time.Millisecond), func(ctx context.Context) {
		workload(ctx, t, dsn, seedRows, &txs)
	})
	t.Logf("workload committed %d transactions; %d kills while streaming", txs.Load(), kills)

	// The final run has caught up once the marker arrives as a streamed
	// insert: a snapshot resumed after a kill (one that came before the
	// snapshot's last checkpoint) reads the marker table at a new
	// consistent read, before the stream has replayed the workload, as
	// TestMariaDBCrashRecovery's did in CI (markerSeen).
	commitMarker(t, db)
	markerFile := filepath.Join(dir, "marker.jsonl")
	r.finalRun(3*time.Minute, "the marker", func() bool {
		if endTotal(adm, name+".public.marker") < 1 {
			return false
		}
		dumpTopics(t, brokers, adm, []string{name + ".public.marker"}, markerFile)
		return markerSeen(markerFile)
	})

	// Read every topic to its end, in partition order, into a file of
	// envelopes, and replay it.
	topics := []string{name + ".public.acct", name + ".public.item", name + ".public.link"}
	out := filepath.Join(dir, "topics.jsonl")
	records := dumpTopics(t, brokers, adm, topics, out)
	lines := checkReplay(t, db, out, "topic")
	t.Logf("%d records (%d change events) verified", records, lines)
}

// dumpTopics reads topics from the start to their current end and writes
// every non-null value as a line; it returns the number of records read.
func dumpTopics(t *testing.T, brokers string, adm *kadm.Client, topics []string, path string) int {
	t.Helper()
	ends, err := adm.ListEndOffsets(context.Background(), topics...)
	if err != nil {
		t.Fatal(err)
	}
	left := map[string]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[fmt.Sprintf("%s/%d", o.Topic, o.Partition)] = o.Offset
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	n := 0
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading topics: %d partitions not read to the end", len(left))
		}
		fs.EachRecord(func(r *kgo.Record) {
			n++
			if r.Value != nil {
				f.Write(r.Value)
				f.Write([]byte{'\n'})
			}
			k := fmt.Sprintf("%s/%d", r.Topic, r.Partition)
			if end, ok := left[k]; ok && r.Offset+1 >= end {
				delete(left, k)
			}
		})
	}
	return n
}

// TestKafkaSourceCrashRecovery: sluice's Kafka source feeds a file while it
// is SIGKILLed again and again; offsets are committed only after the file is
// fsynced, so the file ends with every message (duplicates allowed).
func TestKafkaSourceCrashRecovery(t *testing.T) {
	brokers := svctest.Need(t, svctest.Kafka)
	const n = 20000
	name := kafkaName("ksc")
	topic := name + ".public.items"
	cl, adm := kafkaAdmin(t, brokers)
	if _, err := adm.CreateTopic(context.Background(), 3, -1, nil, topic); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i += 1000 {
		recs := make([]*kgo.Record, 0, 1000)
		for id := i; id < i+1000; id++ {
			recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf(`{"id":%d}`, id)),
				Value: []byte(fmt.Sprintf(`{"before":null,"after":{"id":%d,"name":"n%d"},"source":{"connector":"postgresql","name":%q,"ts_ms":1,"db":"d","schema":"public","table":"items","txId":null,"lsn":%d},"op":"c","ts_ms":2}`, id, id, name, id+1))})
		}
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out.jsonl")
	p := writePipelineAs(t, dir, "p.yaml", fmt.Sprintf(`state_dir: %[1]s/state
sources:
  kin:
    type: kafka
    brokers: [%[2]s]
    topics: [%[3]s]
    group_id: %[4]s
    instance_id: %[4]s-1
    client_id: %[4]s
    batch_size: 200
    fetch_max_bytes: 16384
sinks:
  out:
    type: file
    inputs: [kin]
    path: %[5]s
    format: row
engine:
  max_inflight: 4
`, dir, brokers, topic, name, out))
	r := newCrashRun(t, dir, p)
	// The broker throttles the runs (a consumer_byte_rate quota on their
	// client id, and fetches of 16 KiB), so no run can read the whole topic
	// before its kill, however late the test gets to look. The quota lets
	// about ten seconds' worth through before it throttles (the broker's
	// quota window), a quarter of the topic as stored; after that a run
	// reads little more than one fetch in the second before its kill.
	dirs, err := adm.DescribeAllLogDirs(context.Background(), kadm.TopicsSet{topic: {0: {}, 1: {}, 2: {}}})
	if err != nil {
		t.Fatalf("describe log dirs: %v", err)
	}
	var size int64
	dirs.Each(func(d kadm.DescribedLogDir) {
		if d.Err != nil {
			t.Fatalf("describe log dir %s: %v", d.Dir, d.Err)
		}
		size += d.Size()
	})
	if size < n {
		t.Fatalf("describe log dirs: the topic's %d messages take %d bytes", n, size)
	}
	quota := func(op kadm.AlterClientQuotaOp) {
		t.Helper()
		res, err := adm.AlterClientQuotas(context.Background(), []kadm.AlterClientQuotaEntry{{
			Entity: kadm.ClientQuotaEntity{{Type: "client-id", Name: &name}},
			Ops:    []kadm.AlterClientQuotaOp{op},
		}})
		if err == nil && len(res) == 1 {
			err = res[0].Err
		}
		if err != nil {
			t.Fatalf("client quota %+v: %v", op, err)
		}
	}
	quota(kadm.AlterClientQuotaOp{Key: "consumer_byte_rate", Value: float64(size / 40)}) // a whole number of bytes
	kills := 0
	for i := 0; i < 10 && kills < 3; i++ {
		cmd := r.start()
		r.pause(200*time.Millisecond, 600*time.Millisecond) // a random moment, not synchronisation
		if got := len(ids(t, out)); got > 0 && got < n {
			kills++
		}
		kill(cmd)
	}
	if kills == 0 {
		t.Fatalf("no kill landed while the file was filling; the test proves nothing (see %s/stderr.log)", dir)
	}
	quota(kadm.AlterClientQuotaOp{Key: "consumer_byte_rate", Remove: true})
	cmd := r.start()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		seen := map[int]bool{}
		for _, id := range ids(t, out) {
			seen[id] = true
		}
		if len(seen) == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the file has %d of %d ids (see %s/stderr.log); sluice stderr (tail):\n%s", len(seen), n, dir, stderrTail(dir))
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopRun(t, cmd, dir)
	t.Logf("%d kills; %d lines for %d messages", kills, len(stoppedIDs(t, out)), n)
}
