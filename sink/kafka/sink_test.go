package kafka

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/svctest"
)

func uniq(t testing.TB) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "t" + hex.EncodeToString(b[:])
}

func testSchema(src string) *event.Schema {
	return &event.Schema{
		Stream: src + ".public.items", Source: src, Connector: "postgresql", Database: "shop",
		Namespace: "public", Table: "items",
		Columns: []event.Column{
			{Name: "id", Type: event.TypeInt32, Key: true},
			{Name: "name", Type: event.TypeString, Optional: true},
		},
		KeyIdx: []int{0},
	}
}

func ev(s *event.Schema, op event.Op, id int64, name string) event.Event {
	row := []event.Value{event.Int(id), event.String(name)}
	e := event.Event{Schema: s, Op: op, TsMs: 1700000000500,
		Source: event.Source{TsUs: 1700000000000000, LSN: 0x16B3748 + uint64(id), HasLSN: true, TxID: 42, HasTxID: true}}
	if op == event.OpDelete {
		e.Before = row
	} else {
		e.After = row
	}
	return e
}

func newSink(t testing.TB, mod func(*Config)) *Sink {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Brokers = strings.Split(svctest.Need(t, svctest.Kafka), ",")
	if mod != nil {
		mod(cfg)
	}
	s, err := New(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// consume reads n records from topic, from the start, with a deadline.
func consume(t *testing.T, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(svctest.Need(t, svctest.Kafka), ",")...),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// The records sent before the cut have no outcome until the brokers
	// are back (the idempotent producer does not give up on them): the
	// Write then ends with its context, as the engine's drain ends it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		f := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: got %d records, want %d", topic, len(out), n)
		}
		f.EachError(func(_ string, _ int32, err error) { t.Logf("fetch: %v", err) })
		out = append(out, f.Records()...)
	}
	return out
}

// murmur2 is Kafka's Utils.murmur2, written from the Java source as an
// independent check of the partitioner.
func murmur2(data []byte) int32 {
	const seed, m, r = uint32(0x9747b28c), uint32(0x5bd1e995), 24
	n := len(data)
	h := seed ^ uint32(n)
	for i := 0; i+4 <= n; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[n&^3:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

func TestSinkRecords(t *testing.T) {
	src := uniq(t)
	s := newSink(t, func(c *Config) { c.Partitions = 3 })
	sc := testSchema(src)
	events := []event.Event{
		ev(sc, event.OpCreate, 1, "a"),
		ev(sc, event.OpUpdate, 2, "b"),
		ev(sc, event.OpDelete, 1, "a"),
	}
	ctx := context.Background()
	if err := s.Write(ctx, events); err != nil {
		t.Fatal(err)
	}
	topic := src + ".public.items"

	// Durable when Write returns: the high watermark (records replicated to
	// every in-sync replica) already counts all four records.
	adm := kadm.NewClient(s.cl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	if total != 4 {
		t.Fatalf("end offsets sum to %d right after Write, want 4", total)
	}
	details, err := adm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(details[topic].Partitions); n != 3 {
		t.Errorf("auto-created topic has %d partitions, want 3", n)
	}

	recs := consume(t, topic, 4)
	byKey := map[string][]*kgo.Record{}
	for _, r := range recs {
		byKey[string(r.Key)] = append(byKey[string(r.Key)], r)
		want := (murmur2(r.Key) & 0x7fffffff) % 3
		if r.Partition != want {
			t.Errorf("key %s on partition %d, Kafka's partitioner says %d", r.Key, r.Partition, want)
		}
	}
	k1 := byKey[`{"id":1}`]
	k2 := byKey[`{"id":2}`]
	if len(k1) != 3 || len(k2) != 1 {
		t.Fatalf("records per key: id 1: %d, id 2: %d; want 3 and 1", len(k1), len(k2))
	}
	wantCreate := `{"before":null,"after":{"id":1,"name":"a"},"source":{"version":"2.7.3.Final","connector":"postgresql","name":"` + src + `","ts_ms":1700000000000,"snapshot":"false","db":"shop","sequence":"[null,\"23803721\"]","ts_us":1700000000000000,"ts_ns":1700000000000000000,"schema":"public","table":"items","txId":42,"lsn":23803721,"xmin":null},"transaction":null,"op":"c","ts_ms":1700000000500,"ts_us":1700000000500000,"ts_ns":1700000000500000000}`
	if string(k1[0].Value) != wantCreate {
		t.Errorf("create value\n got %s\nwant %s", k1[0].Value, wantCreate)
	}
	if !strings.Contains(string(k1[1].Value), `"before":{"id":1,"name":"a"},"after":null,`) || !strings.Contains(string(k1[1].Value), `"op":"d"`) {
		t.Errorf("delete value: %s", k1[1].Value)
	}
	if k1[2].Value != nil {
		t.Errorf("tombstone value %q, want null", k1[2].Value)
	}
	wantHeaders := []string{"sluice.stream=" + topic, "sluice.source=" + src, "sluice.op=d", "sluice.position=lsn 0/16B3749", "sluice.ts_ms=1700000000000"}
	for _, r := range []*kgo.Record{k1[1], k1[2]} {
		var got []string
		for _, h := range r.Headers {
			got = append(got, h.Key+"="+string(h.Value))
		}
		if strings.Join(got, "|") != strings.Join(wantHeaders, "|") {
			t.Errorf("headers %q, want %q", got, wantHeaders)
		}
	}
	if string(k2[0].Value[:40]) != `{"before":null,"after":{"id":2,"name":"b` {
		t.Errorf("update value: %s", k2[0].Value)
	}
}

func TestSinkTopicTemplateAndSchemaFormat(t *testing.T) {
	src := uniq(t)
	s := newSink(t, func(c *Config) {
		c.Topic = "cdc-${table}-" + src
		c.Format = "debezium+schema"
		c.TombstonesOnDelete = false
		c.Headers = false
		c.Compression = "zstd"
	})
	sc := testSchema(src)
	if err := s.Write(context.Background(), []event.Event{ev(sc, event.OpDelete, 7, "x")}); err != nil {
		t.Fatal(err)
	}
	recs := consume(t, "cdc-items-"+src, 1)
	wantKey := `{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false,"name":"` + src + `.public.items.Key"},"payload":{"id":7}}`
	if string(recs[0].Key) != wantKey {
		t.Errorf("key %s\nwant %s", recs[0].Key, wantKey)
	}
	if !strings.HasPrefix(string(recs[0].Value), `{"schema":{"type":"struct","fields":[{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}`) {
		t.Errorf("value %s", recs[0].Value)
	}
	if len(recs[0].Headers) != 0 {
		t.Errorf("headers %v, want none", recs[0].Headers)
	}
}

func TestSinkTooLargeIsARecordError(t *testing.T) {
	src := uniq(t)
	s := newSink(t, func(c *Config) { c.MaxMessageBytes = 4096; c.Partitions = 1 })
	sc := testSchema(src)
	events := []event.Event{
		ev(sc, event.OpCreate, 1, "small"),
		ev(sc, event.OpCreate, 2, strings.Repeat("x", 10000)),
		ev(sc, event.OpCreate, 3, "small too"),
	}
	err := s.Write(context.Background(), events)
	var re component.RecordErrors
	if !errors.As(err, &re) {
		t.Fatalf("Write: %v, want RecordErrors", err)
	}
	if len(re) != 1 || re[0].Index != 1 || !strings.Contains(re[0].Err.Error(), "MESSAGE_TOO_LARGE") {
		t.Fatalf("record errors %v, want event 1 MESSAGE_TOO_LARGE", re)
	}
	recs := consume(t, src+".public.items", 2)
	if string(recs[0].Key) != `{"id":1}` || string(recs[1].Key) != `{"id":3}` {
		t.Errorf("landed keys %s, %s; want ids 1 and 3 in order", recs[0].Key, recs[1].Key)
	}
	// The producer rejected the record before any batch: its neighbours
	// landed in order and are not written again.
	ends, err := kadm.NewClient(s.cl).ListEndOffsets(context.Background(), src+".public.items")
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	if total != 2 {
		t.Errorf("%d records landed, want 2", total)
	}
}

func TestSinkInvalidTopicIsARecordError(t *testing.T) {
	src := uniq(t)
	s := newSink(t, func(c *Config) { c.Topic = "${table}" })
	good := testSchema(src)
	good.Table = "ok_" + src
	bad := testSchema(src)
	bad.Table = "bad topic/" + src
	err := s.Write(context.Background(), []event.Event{ev(bad, event.OpCreate, 1, "a"), ev(good, event.OpCreate, 2, "b")})
	var re component.RecordErrors
	if !errors.As(err, &re) || len(re) != 1 || re[0].Index != 0 {
		t.Fatalf("Write: %v, want a record error for event 0", err)
	}
	if recs := consume(t, "ok_"+src, 1); string(recs[0].Key) != `{"id":2}` {
		t.Errorf("key %s", recs[0].Key)
	}
}

func TestConfigValidate(t *testing.T) {
	c := DefaultConfig()
	c.Compression = "brotli"
	c.Partitions = 0
	c.SASLMechanism = "GSSAPI"
	errs := c.Validate()
	var fields []string
	for _, e := range errs {
		fields = append(fields, e.(*component.FieldError).Field)
	}
	if got := strings.Join(fields, ","); got != "brokers,sasl_mechanism,partitions,compression" {
		t.Errorf("fields %s", got)
	}
}

// An update that changes the key is a delete of the old key, its tombstone,
// and a create of the new key, as Debezium writes it.
func TestSinkKeyChangeSplits(t *testing.T) {
	src := uniq(t)
	s := newSink(t, nil)
	sc := testSchema(src)
	e := ev(sc, event.OpUpdate, 5, "moved")
	e.Before = []event.Value{event.Int(1), event.String("moved")}
	if err := s.Write(context.Background(), []event.Event{e}); err != nil {
		t.Fatal(err)
	}
	recs := consume(t, src+".public.items", 3)
	type rec struct{ key, op, hdr string }
	var got []rec
	for _, r := range recs {
		op := "tombstone"
		if r.Value != nil {
			op = string(r.Value[strings.Index(string(r.Value), `"op":"`)+6])
		}
		h := r.Headers[len(r.Headers)-1]
		got = append(got, rec{string(r.Key), op, h.Key + "=" + string(h.Value)})
	}
	want := []rec{
		{`{"id":1}`, "d", `__debezium.newkey={"id":5}`},
		{`{"id":1}`, "tombstone", `__debezium.newkey={"id":5}`},
		{`{"id":5}`, "c", `__debezium.oldkey={"id":1}`},
	}
	if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("records %v\nwant %v", got, want)
	}
	if !strings.HasPrefix(string(recs[2].Value), `{"before":null,"after":{"id":5,"name":"moved"}`) {
		t.Errorf("create value %s", recs[2].Value)
	}
}

// With no broker reachable, Write fails within the delivery timeout with a
// plain error, which the engine retries; it is neither permanent nor a
// record error.
func TestSinkUnreachableIsTransient(t *testing.T) {
	svctest.Need(t, svctest.Kafka)
	for _, auto := range []bool{true, false} {
		cfg := DefaultConfig()
		cfg.Brokers = []string{"127.0.0.1:1"}
		cfg.DeliveryTimeout = time.Second
		cfg.AutoCreateTopics = auto
		s, err := New(*cfg)
		if err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		err = s.Write(context.Background(), []event.Event{ev(testSchema(uniq(t)), event.OpCreate, 1, "a")})
		var re component.RecordErrors
		if err == nil || component.IsPermanent(err) || errors.As(err, &re) {
			t.Errorf("auto_create %v: Write: %v, want a plain error", auto, err)
		}
		t.Logf("auto_create %v: %v after %v", auto, err, time.Since(began).Round(time.Millisecond))
		if d := time.Since(began); d > 15*time.Second {
			t.Errorf("auto_create %v: Write took %v", auto, d)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		s.Close(ctx)
		cancel()
	}
}

// pipelineEvents is a Write of n events over keys 0..keys-1, each event
// carrying its own index in name ("e<i>"), so that order can be read back.
func pipelineEvents(sc *event.Schema, n, keys int) []event.Event {
	evs := make([]event.Event, n)
	for i := range evs {
		evs[i] = ev(sc, event.OpUpdate, int64(i%keys), "e"+strconv.Itoa(i))
	}
	return evs
}

// eventIndex is the index a pipelineEvents record carries.
func eventIndex(t *testing.T, r *kgo.Record) int {
	t.Helper()
	_, rest, ok := strings.Cut(string(r.Value), `"name":"e`)
	if !ok {
		t.Fatalf("record %s/%d@%d has no event index: %s", r.Topic, r.Partition, r.Offset, r.Value)
	}
	n, err := strconv.Atoi(rest[:strings.IndexByte(rest, '"')])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// byPartition reads every record of topic (exactly total) and returns the
// event indexes per partition, in offset order.
func byPartition(t *testing.T, topic string, total int) map[int32][]int {
	t.Helper()
	out := map[int32][]int{}
	for _, r := range consume(t, topic, total) {
		out[r.Partition] = append(out[r.Partition], eventIndex(t, r))
	}
	return out
}

// expectedPartitions is where Kafka's partitioner puts each event of
// pipelineEvents, in Write order.
func expectedPartitions(evs []event.Event, partitions int32) map[int32][]int {
	out := map[int32][]int{}
	for i := range evs {
		key := `{"id":` + strconv.FormatInt(evs[i].After[0].AsInt(), 10) + `}`
		p := (murmur2([]byte(key)) & 0x7fffffff) % partitions
		out[p] = append(out[p], i)
	}
	return out
}

// A Write spanning many chunks, the records of each produced while the
// previous chunk's are in flight, lands whole and in order on every
// partition, and is durable (the high watermarks count every record) when
// Write returns.
func TestSinkPipelinedChunksKeepOrder(t *testing.T) {
	defer SetChunkEvents(7)()
	var chunks []int
	afterChunk = func(n int) { chunks = append(chunks, n) }
	defer func() { afterChunk = nil }()
	src := uniq(t)
	s := newSink(t, func(c *Config) { c.Partitions = 3 })
	sc := testSchema(src)
	topic := src + ".public.items"
	var want []map[int32][]int
	for w := range 3 { // the arena and records of one Write serve the next
		evs := pipelineEvents(sc, 250, 17)
		for i := range evs {
			evs[i].After[1] = event.String("e" + strconv.Itoa(w*1000+i))
		}
		chunks = chunks[:0]
		if err := s.Write(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
		if len(chunks) != 36 || chunks[0] != 7 || chunks[35] != 250 {
			t.Fatalf("write %d: records produced after each chunk %v, want 36 chunks of 7 events (the last of 5)", w, chunks)
		}
		ends, err := kadm.NewClient(s.cl).ListEndOffsets(context.Background(), topic)
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
		if total != int64(250*(w+1)) {
			t.Fatalf("write %d: end offsets sum to %d right after Write, want %d", w, total, 250*(w+1))
		}
		exp := expectedPartitions(evs, 3)
		for p, idx := range exp {
			for j := range idx {
				idx[j] += w * 1000
			}
			exp[p] = idx
		}
		want = append(want, exp)
	}
	got := byPartition(t, topic, 750)
	for p := int32(0); p < 3; p++ {
		var exp []int
		for _, w := range want {
			exp = append(exp, w[p]...)
		}
		if !slices.Equal(got[p], exp) {
			t.Errorf("partition %d holds events %v\nwant %v", p, got[p], exp)
		}
	}
}

// When the brokers go away after the first chunk of a Write was produced,
// the Write fails (a plain error, which the engine retries, so the events
// are not acknowledged), whatever happened to the chunks before; the
// retry after the brokers are back writes every event again, in order on
// every partition after what the failed attempt left.
func TestSinkFailedChunkFailsTheWrite(t *testing.T) {
	defer SetChunkEvents(5)()
	proxy := svctest.NewProxy(t, strings.Split(svctest.Need(t, svctest.Kafka), ",")[0])
	src := uniq(t)
	s := newSink(t, func(c *Config) {
		c.Partitions = 3
		c.DeliveryTimeout = 3 * time.Second
		c.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, proxy.Addr())
		}
	})
	sc := testSchema(src)
	topic := src + ".public.items"
	evs := pipelineEvents(sc, 60, 11)
	var chunks int
	afterChunk = func(int) {
		if chunks++; chunks == 1 {
			proxy.Cut()
		}
	}
	defer func() { afterChunk = nil }()
	// The records sent before the cut have no outcome until the brokers
	// are back (the idempotent producer does not give up on them): the
	// Write then ends with its context, as the engine's drain ends it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := s.Write(ctx, evs)
	cancel()
	var re component.RecordErrors
	if err == nil || component.IsPermanent(err) || errors.As(err, &re) {
		t.Fatalf("Write with the brokers cut off after its first chunk: %v, want a plain error", err)
	}
	t.Logf("failed Write: %v", err)
	if chunks != 12 {
		t.Errorf("%d chunks produced, want 12", chunks)
	}
	afterChunk = nil
	proxy.Restore()
	// The retry's values differ from the first attempt's (e<100+i>): a
	// record of the first attempt still in flight must land with its own
	// bytes, not with the retry's written over them.
	retry := pipelineEvents(sc, 60, 11)
	for i := range retry {
		retry[i].After[1] = event.String("e" + strconv.Itoa(100+i))
	}
	// Retried as the engine does: the client may need more than one
	// delivery_timeout to reconnect on a loaded machine.
	for deadline := time.Now().Add(time.Minute); ; {
		err := s.Write(context.Background(), retry)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the retry: %v", err)
		}
		t.Logf("retry: %v", err)
	}
	ends, err := kadm.NewClient(s.cl).ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	got := byPartition(t, topic, int(total))
	first := expectedPartitions(evs, 3)
	for p := int32(0); p < 3; p++ {
		g, w := got[p], first[p]
		again := make([]int, len(w))
		for i, x := range w {
			again[i] = 100 + x
		}
		if len(g) < len(w) || !slices.Equal(g[len(g)-len(w):], again) {
			t.Fatalf("partition %d holds events %v\nwant them to end with the retry's %v", p, g, again)
		}
		// Before the last retry's records: what the failed attempts left,
		// each in its order, each event at most once per attempt.
		var left1, leftRetries []int
		for _, x := range g[:len(g)-len(w)] {
			if x < 100 {
				left1 = append(left1, x)
			} else {
				leftRetries = append(leftRetries, x)
			}
		}
		if !isSubsequence(left1, w) {
			t.Errorf("partition %d: the failed attempt left %v, not in the order %v", p, left1, w)
		}
		for _, x := range leftRetries {
			if !slices.Contains(again, x) {
				t.Errorf("partition %d: a failed retry left event %d, which belongs to another partition", p, x)
			}
		}
	}
}

// isSubsequence reports whether a is b with some elements left out.
func isSubsequence(a, b []int) bool {
	j := 0
	for _, x := range a {
		for j < len(b) && b[j] != x {
			j++
		}
		if j == len(b) {
			return false
		}
		j++
	}
	return true
}

// A batch the broker rejects as too large fails every record of its
// partition still buffered or in flight (franz-go's finishBatch →
// failAllRecords), but records of later chunks of the same Write, produced
// after that answer, land first. The rejected records produced again one
// by one then land after them: here the topic accepts batches of at most
// 2048 bytes while the sink lets 1 MiB through, so [v1 of key 1, a 3000-byte
// record] is rejected as one batch, then [filler, v2 of key 1] of the next
// chunk lands. The partition must end on v2 of key 1 (at-least-once
// duplicates allowed), and only the 3000-byte record is a record error.
func TestSinkTooLargeBatchKeepsKeyOrder(t *testing.T) {
	defer SetChunkEvents(2)()
	src := uniq(t)
	topic := src + ".public.items"
	s, adm := smallTopicSink(t, topic)
	ctx := context.Background()
	// The answer to the first chunk's batch is in before the next chunk
	// is produced, as when a large Write's chunks pipeline.
	failedAt := flushAfterChunks(t, s, func(n int) bool { return n == 2 })
	sc := testSchema(src)
	events := []event.Event{
		ev(sc, event.OpCreate, 1, "v1"),
		ev(sc, event.OpCreate, 2, strings.Repeat("x", 3000)),
		ev(sc, event.OpCreate, 3, "filler"),
		ev(sc, event.OpUpdate, 1, "v2"),
	}
	err := s.Write(ctx, events)
	if f := failedAt(); !slices.Equal(f, []int{2}) {
		t.Fatalf("%v records of the first chunk failed, want 2 (v1 and the large one in one rejected batch)", f)
	}
	onlyEvent1TooLarge(t, err)
	got := partitionLog(t, adm, topic)
	var key1 []string
	for _, g := range got {
		if strings.HasPrefix(g, `{"id":1}=`) {
			key1 = append(key1, g)
		}
	}
	if len(key1) == 0 || key1[len(key1)-1] != `{"id":1}=v2` {
		t.Errorf("key 1 ends on %v, want v2 last; the partition holds %v", key1, got)
	}
	// Everything after the first rejected record is produced again, in
	// Write order: v1 alone, then filler and v2.
	want := []string{"warm=?", `{"id":3}=filler`, `{"id":1}=v2`, `{"id":1}=v1`, `{"id":3}=filler`, `{"id":1}=v2`}
	if !slices.Equal(got, want) {
		t.Errorf("the partition holds %v\nwant %v", got, want)
	}
}

// flushAfterChunks makes the sink, after each chunk of a Write whose
// record count so far when is true for, flush what it produced (so
// the broker's answers are in before the next chunk) and note how many of
// the Write's records have failed; failedAt returns those counts.
func flushAfterChunks(t *testing.T, s *Sink, when func(n int) bool) (failedAt func() []int) {
	var counts []int
	afterChunk = func(n int) {
		if !when(n) {
			return
		}
		if err := s.cl.Flush(context.Background()); err != nil {
			t.Error(err)
		}
		s.round.mu.Lock()
		counts = append(counts, len(s.round.failed))
		s.round.mu.Unlock()
	}
	t.Cleanup(func() { afterChunk = nil })
	return func() []int { return counts }
}

// onlyEvent1TooLarge fails t unless err is the record errors of event 1
// alone, rejected as too large.
func onlyEvent1TooLarge(t *testing.T, err error) {
	t.Helper()
	var re component.RecordErrors
	if !errors.As(err, &re) {
		t.Fatalf("Write: %v, want RecordErrors", err)
	}
	if len(re) != 1 || re[0].Index != 1 || !strings.Contains(re[0].Err.Error(), "TOO_LARGE") {
		t.Fatalf("record errors %v, want only event 1, too large", re)
	}
}

// smallTopicSink creates topic with one partition that takes batches of at
// most 2048 bytes, and a sink that lets batches of 1 MiB through. Its long
// linger makes a batch hold what a Flush finds buffered.
func smallTopicSink(t *testing.T, topic string) (*Sink, *kadm.Client) {
	t.Helper()
	s := newSink(t, func(c *Config) { c.Linger = time.Second })
	adm := kadm.NewClient(s.cl)
	maxBytes := "2048"
	resp, err := adm.CreateTopic(context.Background(), 1, -1, map[string]*string{"max.message.bytes": &maxBytes}, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	// A first record makes the producer load the topic's partitions: a
	// record produced while they are unknown waits, and a Flush then sends
	// each as it is partitioned, alone.
	// (Flush, not ProduceSync, which lingers for a topic it does not know.)
	var warmErr error
	s.cl.Produce(context.Background(), &kgo.Record{Topic: topic, Key: []byte("warm")}, func(_ *kgo.Record, err error) { warmErr = err })
	if err := s.cl.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if warmErr != nil {
		t.Fatal(warmErr)
	}
	return s, adm
}

// partitionLog reads every record of topic as key=name (the name column
// of the after image).
func partitionLog(t *testing.T, adm *kadm.Client, topic string) []string {
	t.Helper()
	ends, err := adm.ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	var got []string
	for _, r := range consume(t, topic, int(total)) {
		name := "?"
		if m := nameRe.FindSubmatch(r.Value); m != nil {
			name = string(m[1])
			if len(name) > 20 {
				name = name[:1] + "*" + strconv.Itoa(len(name))
			}
		}
		got = append(got, string(r.Key)+"="+name)
	}
	return got
}

// When the records produced again after a rejected one are batched
// together and that batch is too large in turn (they first landed in
// separate batches), each is produced alone in turn: a, b (700 bytes of
// name each) first land one by one, then [a, b, v2] is rejected as one
// batch, so a goes alone and [b, v2] follows.
func TestSinkTooLargeBatchAgainKeepsKeyOrder(t *testing.T) {
	defer SetChunkEvents(1)()
	src := uniq(t)
	topic := src + ".public.items"
	s, adm := smallTopicSink(t, topic)
	ctx := context.Background()
	// After the first chunk v1 and the large record still share the batch.
	failedAt := flushAfterChunks(t, s, func(n int) bool { return n != 1 })
	sc := testSchema(src)
	a, b := strings.Repeat("a", 700), strings.Repeat("b", 700)
	events := []event.Event{
		ev(sc, event.OpCreate, 1, "v1"),
		ev(sc, event.OpCreate, 2, strings.Repeat("x", 3000)),
		ev(sc, event.OpCreate, 3, a),
		ev(sc, event.OpCreate, 4, b),
		ev(sc, event.OpUpdate, 1, "v2"),
	}
	err := s.Write(ctx, events)
	if f := failedAt(); !slices.Equal(f, []int{2, 2, 2, 2}) {
		t.Fatalf("failed records after each flush %v, want [2 2 2 2] (v1 and the large one rejected as one batch, the rest landing)", f)
	}
	onlyEvent1TooLarge(t, err)
	got := partitionLog(t, adm, topic)
	want := []string{"warm=?", `{"id":3}=a*700`, `{"id":4}=b*700`, `{"id":1}=v2`, `{"id":1}=v1`,
		`{"id":3}=a*700`, `{"id":4}=b*700`, `{"id":1}=v2`}
	if !slices.Equal(got, want) {
		t.Errorf("the partition holds %v\nwant %v", got, want)
	}
}

var nameRe = regexp.MustCompile(`"after":\{"id":\d+,"name":"([^"]*)"`)
