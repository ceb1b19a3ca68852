package topiclog

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
	"github.com/sluice-dev/sluice/internal/logtest"
	"github.com/sluice-dev/sluice/internal/sourcetest"
	"github.com/sluice-dev/sluice/internal/topiclog"
	sink "github.com/sluice-dev/sluice/sink/topiclog"
)

type running struct {
	src  *Source
	out  *sourcetest.Emitter
	done chan error
	stop context.CancelFunc
}

func start(t *testing.T, cfg Config, cp []byte) *running {
	t.Helper()
	s, err := New(cfg, component.Env{})
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
	if err := <-r.done; err != nil {
		panic(err)
	}
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

// write writes events with the topic-log sink (debezium+schema).
func write(t *testing.T, dir string, events []event.Event) {
	t.Helper()
	cfg := sink.DefaultConfig()
	cfg.Dir = dir
	cfg.Format = format.DebeziumSchema
	sk, err := sink.New(*cfg, component.Env{})
	if err != nil {
		t.Fatal(err)
	}
	defer sk.Close(context.Background())
	if err := sk.Write(context.Background(), events); err != nil {
		t.Fatal(err)
	}
}

func config(dir string, topics ...string) Config {
	c := *DefaultConfig()
	c.Dir = dir
	c.Topics = topics
	return c
}

func encode(t *testing.T, e *event.Event) []byte {
	t.Helper()
	enc, err := format.New(format.Options{Format: format.DebeziumSchema})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := enc.AppendValue(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Events written by the sink (a delete and its tombstone among them) come
// back equal — the re-encoded value byte for byte the one written, with
// the Seq from the sluice.commit_lsn header — with the Kafka source's
// positions and checkpoint; a restart from the checkpoint goes on after it.
func TestRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "topics")
	sc := schema("pg")
	in := []event.Event{row(sc, event.OpRead, 1, 100), row(sc, event.OpCreate, 2, 200), row(sc, event.OpUpdate, 1, 300), row(sc, event.OpDelete, 2, 400)}
	write(t, dir, in)
	const topic = "pg.public.items"
	r := start(t, config(dir, topic), nil)
	got, cp := r.out.WaitEvents(t, 4, 10*time.Second)
	for i := range in {
		if g, w := encode(t, &got[i]), encode(t, &in[i]); !bytes.Equal(g, w) {
			t.Errorf("event %d:\n got %s\nwant %s", i, g, w)
		}
		if got[i].Seq() != in[i].Seq() {
			t.Errorf("event %d: seq %v, want %v", i, got[i].Seq(), in[i].Seq())
		}
		if want := topic + "/0@" + strconv.Itoa(i); got[i].Position != want {
			t.Errorf("event %d: position %q, want %q", i, got[i].Position, want)
		}
	}
	// Offset 4 is the delete's tombstone: read, skipped, in the checkpoint.
	if want := `{"` + topic + `":{"0":4}}`; string(cp) != want && string(cp) != `{"`+topic+`":{"0":5}}` {
		t.Errorf("checkpoint %s", cp)
	}
	r.close()
	// Appends after a restart from the checkpoint: only they come.
	write(t, dir, []event.Event{row(sc, event.OpCreate, 3, 500)})
	r = start(t, config(dir, topic), []byte(`{"`+topic+`":{"0":5}}`))
	got, cp = r.out.WaitEvents(t, 1, 10*time.Second)
	if got[0].After[0] != event.Int(3) || got[0].Position != topic+"/0@5" || string(cp) != `{"`+topic+`":{"0":6}}` {
		t.Fatalf("after the restart: %v at %s, checkpoint %s", got[0].After, got[0].Position, cp)
	}
	// A live append reaches a running source.
	write(t, dir, []event.Event{row(sc, event.OpCreate, 4, 600)})
	got, _ = r.out.WaitEvents(t, 2, 10*time.Second)
	if got[1].After[0] != event.Int(4) {
		t.Fatalf("live append: %v", got[1].After)
	}
}

// topic_regex reads every matching topic, those created while it runs
// too; Seq stays zero (several topics interleave it).
func TestTopicRegex(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "topics")
	write(t, dir, []event.Event{row(schema("a"), event.OpCreate, 1, 100), row(schema("other"), event.OpCreate, 2, 100)})
	c := config(dir)
	c.TopicRegex = `(a|b)\.public\..*`
	r := start(t, c, nil)
	got, _ := r.out.WaitEvents(t, 1, 10*time.Second)
	if got[0].Schema.Stream != "a.public.items" || got[0].Seq() != (event.Seq{}) {
		t.Fatalf("got %s seq %v", got[0].Schema.Stream, got[0].Seq())
	}
	write(t, dir, []event.Event{row(schema("b"), event.OpCreate, 3, 100)})
	got, cp := r.out.WaitEvents(t, 2, 10*time.Second)
	if got[1].Schema.Stream != "b.public.items" {
		t.Fatalf("got %s", got[1].Schema.Stream)
	}
	if want := `{"a.public.items":{"0":1},"b.public.items":{"0":1}}`; string(cp) != want {
		t.Fatalf("checkpoint %s, want %s", cp, want)
	}
	r.close()
	if n := len(r.out.Events()); n != 2 {
		t.Fatalf("%d events, want 2 (other.public.items does not match)", n)
	}
}

// A checkpoint offset the topic does not hold (here beyond its end: the log
// was replaced) resumes at the topic's start (start_offset earliest) with
// a warning; a checkpoint that cannot be one is an error.
func TestOutOfRange(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "topics")
	sc := schema("pg")
	write(t, dir, []event.Event{row(sc, event.OpCreate, 1, 100), row(sc, event.OpCreate, 2, 200)})
	r := start(t, config(dir, "pg.public.items"), []byte(`{"pg.public.items":{"0":10}}`))
	got, cp := r.out.WaitEvents(t, 2, 10*time.Second)
	if got[0].After[0] != event.Int(1) || string(cp) != `{"pg.public.items":{"0":2}}` {
		t.Fatalf("got %v, checkpoint %s", got[0].After, cp)
	}
	r.close()
	s, _ := New(config(dir, "pg.public.items"), component.Env{})
	err := s.Run(context.Background(), []byte(`{"pg.public.items":{"1":3}}`), sourcetest.NewEmitter())
	if err == nil || err.Error() != `topiclog source: checkpoint: topic pg.public.items: partition "1": a topic log topic has partition 0 only` {
		t.Fatalf("run: %v", err)
	}
}

// A reader whose checkpoint offset retention deleted goes on at the
// topic's oldest retained record, with a warning naming the lost offsets.
func TestRetentionDeletedTheCheckpoint(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "topics")
	cfg := sink.DefaultConfig()
	cfg.Dir = dir
	cfg.SegmentBytes = 1024 // a few events per segment
	cfg.RetentionBytes = 2048
	sk, err := sink.New(*cfg, component.Env{})
	if err != nil {
		t.Fatal(err)
	}
	sc := schema("pg")
	for i := range 30 {
		if err := sk.Write(context.Background(), []event.Event{row(sc, event.OpCreate, int64(i), uint64(100+i))}); err != nil {
			t.Fatal(err)
		}
	}
	sk.Close(context.Background())
	lg, err := topiclog.Open(dir, topiclog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tp, err := lg.Topic("pg.public.items")
	if err != nil {
		t.Fatal(err)
	}
	start, end, _ := tp.Offsets()
	lg.Close()
	if start == 0 || end != 30 {
		t.Fatalf("offsets %d..%d: retention did not delete the oldest", start, end)
	}
	rec := logtest.New()
	s, err := New(config(dir, "pg.public.items"), component.Env{Logger: rec.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := sourcetest.NewEmitter()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, []byte(`{"pg.public.items":{"0":1}}`), out) }()
	got, _ := out.WaitEvents(t, int(end-start), 10*time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s.Close()
	if got[0].After[0] != event.Int(start) || got[0].Position != "pg.public.items/0@"+strconv.FormatInt(start, 10) {
		t.Fatalf("first event %v at %s, want id %d", got[0].After, got[0].Position, start)
	}
	want := fmt.Sprintf(`WARN topiclog source: records were deleted by retention before they were read; going on as start_offset says topic=pg.public.items lost=1..%d resume=%d start_offset=earliest`, start-1, start)
	var warned bool
	for _, l := range rec.Lines() {
		warned = warned || l.Text == want
	}
	if !warned {
		t.Fatalf("no warning %q in %v", want, rec.Lines())
	}
}

// With stream_from_topic a topic named otherwise than its envelope (a JDBC
// source's topic.prefix + table) gives events whose stream is the topic,
// table and schema still the envelope's; without it, the envelope's name.
func TestStreamFromTopic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "topics")
	cfg := sink.DefaultConfig()
	cfg.Dir, cfg.Format, cfg.Topic = dir, format.DebeziumSchema, "P_${table}"
	sk, err := sink.New(*cfg, component.Env{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sk.Write(context.Background(), []event.Event{row(schema("a"), event.OpCreate, 1, 100)}); err != nil {
		t.Fatal(err)
	}
	sk.Close(context.Background())
	for _, byTopic := range []bool{true, false} {
		c := config(dir, "P_items")
		c.StreamFromTopic = byTopic
		r := start(t, c, nil)
		got, _ := r.out.WaitEvents(t, 1, 10*time.Second)
		want := "a.public.items"
		if byTopic {
			want = "P_items"
		}
		if s := got[0].Schema; s.Stream != want || s.Table != "items" || s.Namespace != "public" || s.Source != "a" {
			t.Errorf("stream_from_topic %v: stream %q table %q namespace %q source %q, want stream %q", byTopic, s.Stream, s.Table, s.Namespace, s.Source, want)
		}
		r.close()
	}
}
