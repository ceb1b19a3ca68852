package kafka

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
	"github.com/sluice-dev/sluice/internal/sourcetest"
	"github.com/sluice-dev/sluice/internal/svctest"
	kafkasink "github.com/sluice-dev/sluice/sink/kafka"
)

func brokers(t *testing.T) []string {
	return strings.Split(svctest.Need(t, svctest.Kafka), ",")
}

func uniq() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "t" + hex.EncodeToString(b[:])
}

type running struct {
	src  *Source
	out  *sourcetest.Emitter
	done chan error
	stop context.CancelFunc
}

func start(t *testing.T, cfg Config, cp []byte) *running {
	t.Helper()
	s, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{src: s, out: sourcetest.NewEmitter(), done: make(chan error, 1), stop: cancel}
	go func() { r.done <- s.Run(ctx, cp, r.out) }()
	t.Cleanup(r.close)
	return r
}

func (r *running) close() {
	if r.stop == nil {
		return
	}
	r.stop()
	<-r.done
	r.src.Close()
	r.stop = nil
}

func schema(src string) *event.Schema {
	return &event.Schema{
		Stream: src + ".public.items", Source: src, Connector: "postgresql", Database: "shop", Namespace: "public", Table: "items",
		Columns: []event.Column{
			{Name: "id", Type: event.TypeInt32, Key: true},
			{Name: "price", Type: event.TypeDecimal, Precision: 10, Scale: 2, Optional: true},
			{Name: "at", Type: event.TypeTimestampTZ, Optional: true},
		},
		KeyIdx: []int{0},
	}
}

func row(s *event.Schema, op event.Op, id int64, lsn uint64) event.Event {
	r := []event.Value{event.Int(id), event.Decimal("12.50"), event.Int(1704067200123456)}
	e := event.Event{Schema: s, Op: op, TsMs: 1700000000999,
		Source: event.Source{TsUs: 1700000000000000, LSN: lsn, HasLSN: true, TxID: 7, HasTxID: true, LastCommitLSN: lsn - 1, CommitLSN: lsn + 5}}
	if op == event.OpRead {
		e.Source.Snapshot, e.Source.CommitLSN = event.SnapshotTrue, 0
	}
	if op == event.OpDelete {
		e.Before = r
	} else {
		e.After = r
	}
	return e
}

// writeSluice writes events with sluice's Kafka sink (debezium+schema).
func writeSluice(t *testing.T, events []event.Event) {
	t.Helper()
	cfg := kafkasink.DefaultConfig()
	cfg.Brokers = brokers(t)
	cfg.Format = format.DebeziumSchema
	sk, err := kafkasink.New(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer sk.Close(context.Background())
	if err := sk.Write(context.Background(), events); err != nil {
		t.Fatal(err)
	}
}

func produceRaw(t *testing.T, topic string, kvs ...[]byte) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers(t)...), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := 0; i < len(kvs); i += 2 {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Key: kvs[i], Value: kvs[i+1]}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

func srcConfig(t *testing.T, topics ...string) Config {
	c := *DefaultConfig()
	c.Brokers = brokers(t)
	c.Topics = topics
	c.GroupID = "g-" + uniq()
	return c
}

func groupOffsets(t *testing.T, group string) map[string]map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers(t)...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).FetchOffsets(context.Background(), group)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[int32]int64{}
	resp.Each(func(o kadm.OffsetResponse) {
		if out[o.Topic] == nil {
			out[o.Topic] = map[int32]int64{}
		}
		out[o.Topic][o.Partition] = o.At
	})
	return out
}

// Sluice-written events (with a delete and its tombstone) come back equal:
// the re-encoded value is byte for byte the one written.
func TestSourceSluiceWritten(t *testing.T) {
	name := uniq()
	sc := schema(name)
	in := []event.Event{row(sc, event.OpRead, 1, 100), row(sc, event.OpCreate, 2, 200), row(sc, event.OpUpdate, 1, 300), row(sc, event.OpDelete, 2, 400)}
	writeSluice(t, in)
	topic := name + ".public.items"
	cfg := srcConfig(t, topic)
	r := start(t, cfg, nil)
	got, cp := r.out.WaitEvents(t, 4, 20*time.Second)
	enc := encoder(t, format.DebeziumSchema)
	for i := range in {
		want, _, _ := enc.AppendValue(nil, &in[i])
		g, _, err := enc.AppendValue(nil, &got[i])
		if err != nil || !bytes.Equal(g, want) {
			t.Errorf("event %d: %v\n got %s\nwant %s", i, err, g, want)
		}
		if got[i].Schema.Stream != topic || !reflect2(got[i].Schema.KeyIdx, []int{0}) {
			t.Errorf("event %d: stream %q key %v", i, got[i].Schema.Stream, got[i].Schema.KeyIdx)
		}
		if got[i].Seq() != in[i].Seq() {
			t.Errorf("event %d: seq %v, want %v (sluice.commit_lsn header)", i, got[i].Seq(), in[i].Seq())
		}
		if wantPos := topic + "/0@" + string(rune('0'+i)); got[i].Position != wantPos {
			t.Errorf("event %d: position %q, want %q", i, got[i].Position, wantPos)
		}
	}
	if string(cp) != `{"`+topic+`":{"0":4}}` && string(cp) != `{"`+topic+`":{"0":5}}` {
		t.Errorf("checkpoint %s", cp)
	}
	// Nothing is committed before Committed.
	if o := groupOffsets(t, cfg.GroupID); len(o) != 0 {
		t.Errorf("group offsets before Committed: %v", o)
	}
	if err := r.src.Committed(context.Background(), []byte(`{"`+topic+`":{"0":3}}`)); err != nil {
		t.Fatal(err)
	}
	if o := groupOffsets(t, cfg.GroupID); o[topic][0] != 3 {
		t.Errorf("group offsets after Committed: %v, want 3", o)
	}
	// No fifth event: the tombstone after the delete (offset 4) is skipped.
	r.close()
	if n := len(r.out.Events()); n != 4 {
		t.Errorf("%d events, want 4", n)
	}
}

func reflect2(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Debezium 2.7's own messages (captured), with and without schemas.
func TestSourceDebeziumWritten(t *testing.T) {
	topic := uniq()
	produceRaw(t, topic,
		nil, readFile(t, "debezium273-schema-value.json"),
		readFile(t, "debezium271-schema-key.json"), readFile(t, "debezium271-value.json"),
		[]byte(`{"id":1}`), nil, // a tombstone
	)
	r := start(t, srcConfig(t, topic), nil)
	got, _ := r.out.WaitEvents(t, 2, 20*time.Second)
	if got[0].Schema.Stream != "postgres_server.connect_test_db.public.source_table" || got[0].After[1].Str != "test1" || got[0].Source.TxID != 780 {
		t.Errorf("event 0: %s %+v", got[0].Schema.Stream, got[0])
	}
	if got[1].Schema.Stream != "pg.public.persons" || got[1].Op != event.OpRead || got[1].After[1].Str != "John" || !reflect2(got[1].Schema.KeyIdx, []int{0}) {
		t.Errorf("event 1: %s %+v", got[1].Schema.Stream, got[1])
	}
}

// With stream_from_topic the events' streams are their topics (what
// sluice serve's sink connectors need for ${topic}); the table and schema
// still come from the envelope.
func TestSourceStreamFromTopic(t *testing.T) {
	topic := uniq()
	produceRaw(t, topic,
		nil, readFile(t, "debezium273-schema-value.json"),
		readFile(t, "debezium271-schema-key.json"), readFile(t, "debezium271-value.json"),
	)
	cfg := srcConfig(t, topic)
	cfg.StreamFromTopic = true
	r := start(t, cfg, nil)
	got, _ := r.out.WaitEvents(t, 2, 20*time.Second)
	for i, want := range []string{"source_table", "persons"} {
		if got[i].Schema.Stream != topic || got[i].Schema.Table != want || got[i].Schema.Namespace != "public" {
			t.Errorf("event %d: stream %q table %q namespace %q, want %s, %s, public", i, got[i].Schema.Stream, got[i].Schema.Table, got[i].Schema.Namespace, topic, want)
		}
	}
}

// A restart resumes from the checkpoint even when the group has committed
// nothing; without a checkpoint it resumes from the group's offset.
func TestSourceResumes(t *testing.T) {
	name := uniq()
	sc := schema(name)
	topic := name + ".public.items"
	cfg := srcConfig(t, topic)
	cfg.TopicRegex, cfg.Topics = strings.ReplaceAll(topic, ".", `\.`), nil
	writeSluice(t, []event.Event{row(sc, event.OpCreate, 1, 10), row(sc, event.OpCreate, 2, 20), row(sc, event.OpCreate, 3, 30)})
	r := start(t, cfg, nil)
	_, cp := r.out.WaitEvents(t, 3, 20*time.Second)
	r.close()

	writeSluice(t, []event.Event{row(sc, event.OpCreate, 4, 40)})
	r = start(t, cfg, cp)
	got, _ := r.out.WaitEvents(t, 1, 20*time.Second)
	if got[0].After[0].AsInt() != 4 {
		t.Errorf("resumed at id %d, want 4", got[0].After[0].AsInt())
	}
	if err := r.src.Committed(context.Background(), []byte(`{"`+topic+`":{"0":2}}`)); err != nil {
		t.Fatal(err)
	}
	r.close()

	r = start(t, cfg, nil) // no checkpoint: the group's offset 2
	got, _ = r.out.WaitEvents(t, 2, 20*time.Second)
	if got[0].After[0].AsInt() != 3 || got[1].After[0].AsInt() != 4 {
		t.Errorf("resumed at ids %d, %d; want 3, 4", got[0].After[0].AsInt(), got[1].After[0].AsInt())
	}
}

// A malformed message stops the source with its coordinates, after
// emitting what came before it.
func TestSourceMalformedStops(t *testing.T) {
	topic := uniq()
	produceRaw(t, topic, nil, readFile(t, "debezium271-value.json"), nil, []byte(`{"id":1,"unwrapped":true}`))
	r := start(t, srcConfig(t, topic), nil)
	select {
	case err := <-r.done:
		r.stop = nil
		want := "malformed message at topic " + topic + " partition 0 offset 1"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Run: %v, want %q", err, want)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not stop")
	}
	if bs := r.out.Batches(); len(bs) != 1 || bs[0].N != 1 || string(bs[0].Checkpoint) != `{"`+topic+`":{"0":1}}` {
		t.Errorf("emitted %+v, want one batch of one event with checkpoint offset 1", bs)
	}
	r.src.Close()

	cfg := srcConfig(t, topic)
	cfg.OnMalformed = "skip"
	produceRaw(t, topic, nil, readFile(t, "debezium271-value.json"))
	r = start(t, cfg, nil)
	if got, cp := r.out.WaitEvents(t, 2, 20*time.Second); len(got) != 2 || !strings.Contains(string(cp), `"0":3`) {
		t.Errorf("skip: %d events, checkpoint %s", len(got), cp)
	}
}

// The sluice.commit_lsn header restores only the first word of a Seq; the
// second comes back from the envelope's lsn, which only PostgreSQL's source
// block has. Events of other sources (here sql_poll's, whose first word is
// 1 for every row in incrementing mode; MySQL's and MongoDB's share theirs
// within a transaction) would come back with equal Seqs, and sinks would
// skip all but the first as replays: they get no Seq instead, and are
// written at least once.
func TestSeqNeedsTheLSN(t *testing.T) {
	name := uniq()
	sc := &event.Schema{Stream: name + ".public.users", Source: name, Connector: "sql_poll", Database: "shop",
		Namespace: "public", Table: "users", Columns: []event.Column{{Name: "id", Type: event.TypeInt64, Key: true}},
		KeyIdx: []int{0}, SeqPerStream: true}
	var in []event.Event
	for id := int64(1); id <= 3; id++ {
		in = append(in, event.Event{Schema: sc, Op: event.OpCreate, TsMs: 1700000000999, After: []event.Value{event.Int(id)},
			Source: event.Source{TsUs: 1700000000000000, CommitLSN: 1, LSN: uint64(id) ^ 1<<63}})
	}
	writeSluice(t, in)
	r := start(t, srcConfig(t, sc.Stream), nil)
	got, _ := r.out.WaitEvents(t, 3, 20*time.Second)
	for i, e := range got {
		if !e.Seq().IsZero() {
			t.Errorf("event %d: seq %v, want zero (the header alone is half a Seq)", i, e.Seq())
		}
	}
}

// Several topics, or a topic of several partitions, interleave a source's
// events out of their original order: the commit LSN header is not restored
// then, so sinks that skip replays by Seq write these events at least once
// instead of skipping some as replays.
func TestSeqOnlyFromOnePartition(t *testing.T) {
	name := uniq()
	a, b := schema(name), schema(name)
	b.Stream, b.Table = name+".public.other", "other"
	writeSluice(t, []event.Event{row(a, event.OpCreate, 1, 300), row(b, event.OpCreate, 2, 200)})

	two := start(t, srcConfig(t, a.Stream, b.Stream), nil)
	got, _ := two.out.WaitEvents(t, 2, 20*time.Second)
	for i, e := range got {
		if !e.Seq().IsZero() {
			t.Errorf("two topics, event %d (%s): seq %v, want zero", i, e.Schema.Stream, e.Seq())
		}
	}

	wide := name + ".wide"
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers(t)...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(context.Background(), 2, 1, nil, wide); err != nil {
		t.Fatal(err)
	}
	e := row(a, event.OpCreate, 3, 400)
	enc := encoder(t, format.DebeziumSchema)
	v, _, err := enc.AppendValue(nil, &e)
	if err != nil {
		t.Fatal(err)
	}
	r := &kgo.Record{Topic: wide, Value: v, Headers: []kgo.RecordHeader{{Key: headerCommitLSN, Value: []byte("405")}}}
	if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
		t.Fatal(err)
	}
	part := start(t, srcConfig(t, wide), nil)
	if got, _ := part.out.WaitEvents(t, 1, 20*time.Second); !got[0].Seq().IsZero() {
		t.Errorf("a topic of 2 partitions: seq %v, want zero", got[0].Seq())
	}

	one := start(t, srcConfig(t, a.Stream), nil)
	if got, _ := one.out.WaitEvents(t, 1, 20*time.Second); got[0].Seq() != (event.Seq{Hi: 305, Lo: 300}) {
		t.Errorf("one topic of one partition: seq %v, want {305 300} from the header", got[0].Seq())
	}
}
