package kafka_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/sourcetest"
	"github.com/sluice-dev/sluice/internal/svctest"
	kafkasink "github.com/sluice-dev/sluice/sink/kafka"
	"github.com/sluice-dev/sluice/source/kafka"
)

// TestConformance runs the source conformance suite (internal/sourcetest)
// against the Kafka source. Each table is a topic of one partition that
// the test fills with Debezium envelopes (with the schema part, as
// PostgreSQL's connector writes them, full before images) through sluice's
// Kafka sink, every change of a transaction with its commit LSN in the
// sluice.commit_lsn header. The source reads the whole topic: the rows
// that existed when it first started (the suite inserts them) arrive as
// creates, as from a source without a snapshot; then every change, in
// order, with its Seq (one topic of one partition) and Version.
func TestConformance(t *testing.T) {
	brokers := strings.Split(svctest.Need(t, svctest.Kafka), ",")
	sourcetest.Run(t, sourcetest.Harness{
		Caps: sourcetest.Caps{Stream: true, Updates: true, Deletes: true, Ops: true, CommitOrder: true,
			BeforeImages: true, Seq: true},
		Setup:      func(t *testing.T) sourcetest.Target { return newConfTarget(t, brokers) },
		Checkpoint: confMark,
		Types:      confTypes,
	})
}

// confTarget is a set of topics of its own, "<prefix>.<table>".
type confTarget struct {
	brokers []string
	prefix  string
	sink    *kafkasink.Sink

	mu     sync.Mutex
	lsn    uint64
	rows   map[string]map[int64]string // table → id → v, for before images; fill rows hold fillMark+pad
	schema map[string]*event.Schema
}

func newConfTarget(t *testing.T, brokers []string) *confTarget {
	var b [4]byte
	_, _ = rand.Read(b[:])
	c := &confTarget{brokers: brokers, prefix: "sourcetest-" + hex.EncodeToString(b[:]), lsn: 1 << 24,
		rows: map[string]map[int64]string{}, schema: map[string]*event.Schema{}}
	cfg := kafkasink.DefaultConfig()
	cfg.Brokers = brokers
	cfg.Topic = c.prefix + ".${table}"
	cfg.Format = "debezium+schema"
	cfg.Partitions = 1
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatalf("sink config: %v", errs)
	}
	s, err := kafkasink.New(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	c.sink = s
	return c
}

func (c *confTarget) Addr() string { return c.brokers[0] }

// Secrets: the test broker takes no password (SASL), so none is set.
func (c *confTarget) Secrets() []string { return nil }

func (c *confTarget) topic(table string) string { return c.prefix + "." + table }

func tableSchema(table string, cols ...event.Column) *event.Schema {
	return &event.Schema{
		Stream: "src.public." + table, Source: "src", Connector: "postgresql", Database: "db",
		Namespace: "public", Table: table, Version: 1,
		Columns: append([]event.Column{{Name: "id", Type: event.TypeInt64, TypeName: "int8", Key: true}}, cols...),
		KeyIdx:  []int{0},
	}
}

func (c *confTarget) CreateTable(t *testing.T, table string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.schema[table] = tableSchema(table, event.Column{Name: "v", Type: event.TypeString, TypeName: "text", Optional: true})
	c.rows[table] = map[int64]string{}
}

// write produces evs, one transaction: every change its own LSN, all the
// transaction's commit LSN. It is called with c.mu held.
func (c *confTarget) write(t *testing.T, evs []event.Event) {
	t.Helper()
	commit := c.lsn + uint64(len(evs))*8 + 8
	now := time.Now().UnixMilli()
	for i := range evs {
		c.lsn += 8
		evs[i].Source = event.Source{TsUs: now * 1000, LSN: c.lsn, CommitLSN: commit, HasLSN: true, TxID: int64(commit), HasTxID: true,
			LastCommitLSN: c.lsn - 8}
		evs[i].TsMs = now + 1
	}
	c.lsn = commit
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.sink.Write(ctx, evs); err != nil {
		t.Fatalf("produce %d events: %v", len(evs), err)
	}
}

// fillMark marks a row written by Fill in rows: its v is FillValue.
const fillMark = "\x00fill:"

// value is row id's v as rows records it.
func value(id int64, v string) string {
	if pad, ok := strings.CutPrefix(v, fillMark); ok {
		n, _ := strconv.Atoi(pad)
		return sourcetest.FillValue(id, n)
	}
	return v
}

func (c *confTarget) Apply(t *testing.T, table string, changes []sourcetest.Change) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	sch, rows := c.schema[table], c.rows[table]
	evs := make([]event.Event, 0, len(changes))
	for _, ch := range changes {
		e := event.Event{Op: ch.Op, Schema: sch}
		prev, ok := rows[ch.ID]
		switch ch.Op {
		case event.OpCreate:
			if ok {
				t.Fatalf("%s: row exists", ch)
			}
			e.After = []event.Value{event.Int(ch.ID), event.String(ch.V)}
			rows[ch.ID] = ch.V
		case event.OpUpdate:
			if !ok {
				t.Fatalf("%s: no such row", ch)
			}
			e.Before = []event.Value{event.Int(ch.ID), event.String(value(ch.ID, prev))}
			e.After = []event.Value{event.Int(ch.ID), event.String(ch.V)}
			rows[ch.ID] = ch.V
		case event.OpDelete:
			if !ok {
				t.Fatalf("%s: no such row", ch)
			}
			e.Before = []event.Value{event.Int(ch.ID), event.String(value(ch.ID, prev))}
			delete(rows, ch.ID)
		}
		evs = append(evs, e)
	}
	c.write(t, evs)
}

// Fill produces the rows in one transaction, in Writes of 1024 events so
// that the test's own memory stays small (the back-pressure subtest
// measures the heap).
func (c *confTarget) Fill(t *testing.T, table string, first, last int64, pad int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sch, rows := c.schema[table], c.rows[table]
	commit := c.lsn + uint64(last-first+2)*8
	now := time.Now().UnixMilli()
	for lo := first; lo <= last; lo += 1024 {
		hi := min(lo+1023, last)
		evs := make([]event.Event, 0, hi-lo+1)
		for id := lo; id <= hi; id++ {
			v := sourcetest.FillValue(id, pad)
			c.lsn += 8
			evs = append(evs, event.Event{Op: event.OpCreate, Schema: sch, TsMs: now + 1,
				After:  []event.Value{event.Int(id), event.String(v)},
				Source: event.Source{TsUs: now * 1000, LSN: c.lsn, CommitLSN: commit, HasLSN: true, TxID: int64(commit), HasTxID: true}})
			rows[id] = fillMark + strconv.Itoa(pad) // not the value: the heap is measured
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		err := c.sink.Write(ctx, evs)
		cancel()
		if err != nil {
			t.Fatalf("produce rows %d..%d: %v", lo, hi, err)
		}
	}
	c.lsn = commit
}

// The type matrix: each column's type as PostgreSQL's connector writes it
// in the Connect schema, and a value that comes back exactly (the package
// doc lists what the envelope normalises). Type names do not survive the
// envelope.
var confTypes = []sourcetest.TypeCase{
	{Column: "b", Type: event.TypeBool, Want: event.Bool(true)},
	{Column: "i2", Type: event.TypeInt16, Want: event.Int(-32768)},
	{Column: "i4", Type: event.TypeInt32, Want: event.Int(2147483647)},
	{Column: "i8", Type: event.TypeInt64, Want: event.Int(-9223372036854775808)},
	{Column: "f4", Type: event.TypeFloat32, Want: event.Float(float64(float32(3.14)))},
	{Column: "f8", Type: event.TypeFloat64, Want: event.Float(0.1)},
	{Column: "num", Type: event.TypeDecimal, Want: event.Decimal("12345678.90")},
	{Column: "txt", Type: event.TypeString, Want: event.String("héllo, 🌍 \"world\"\n")},
	{Column: "bin", Type: event.TypeBytes, Want: event.Bytes([]byte{0xde, 0xad, 0xbe, 0xef})},
	{Column: "uid", Type: event.TypeUUID, Want: event.String("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")},
	{Column: "doc", Type: event.TypeJSON, Want: event.String(`{"a": [1, 2], "b": "x"}`)},
	{Column: "day", Type: event.TypeDate, Want: event.Int(19723)},
	{Column: "tm", Type: event.TypeTime, Want: event.Int(45296789123)},
	{Column: "ts", Type: event.TypeTimestamp, Want: event.Int(1704067200123456)},
	{Column: "tstz", Type: event.TypeTimestampTZ, Want: event.Int(1704067200123456)},
	{Column: "mood", Type: event.TypeEnum, Want: event.String("happy")},
	{Column: "ints", Type: event.TypeArray, Want: event.Array([]event.Value{event.Int(1), event.Int(2), event.Int(3)})},
	{Column: "tags", Type: event.TypeArray, Want: event.Array([]event.Value{event.String("red"), event.String("green")})},
}

// confColumns are the matrix's columns as the test's schema declares them.
func confColumns() []event.Column {
	cols := make([]event.Column, 0, len(confTypes))
	for _, tc := range confTypes {
		col := event.Column{Name: tc.Column, Type: tc.Type, Optional: true}
		switch tc.Column {
		case "num":
			col.Precision, col.Scale = 10, 2
		case "mood":
			col.EnumValues = []string{"sad", "ok", "happy"}
		case "ints":
			col.Elem = &event.Column{Type: event.TypeInt32}
		case "tags":
			col.Elem = &event.Column{Type: event.TypeString}
		}
		cols = append(cols, col)
	}
	return cols
}

func (c *confTarget) CreateTypes(t *testing.T, table string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.schema[table] = tableSchema(table, confColumns()...)
	c.rows[table] = map[int64]string{}
}

func (c *confTarget) InsertTypes(t *testing.T, table string, id int64, null bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sch := c.schema[table]
	img := make([]event.Value, len(sch.Columns))
	img[0] = event.Int(id)
	for i, tc := range confTypes {
		if !null {
			img[i+1] = tc.Want
		}
	}
	c.write(t, []event.Event{{Op: event.OpCreate, Schema: sch, After: img}})
}

func (c *confTarget) Source(t *testing.T, p sourcetest.Params) component.Source {
	cfg := kafka.DefaultConfig()
	cfg.Brokers = c.brokers
	cfg.Topics = []string{c.topic(p.Table)}
	cfg.GroupID = c.prefix + "." + p.Table
	cfg.BatchSize = p.BatchSize
	if p.Via != "" {
		// The broker advertises its own address: every connection goes
		// through the proxy.
		cfg.Dial = func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, p.Via)
		}
	}
	src, err := kafka.Factory.New(cfg, component.Env{Name: p.Name, Pipeline: "conformance", Logger: p.Logger})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// confMark reads a checkpoint as the next offset of the topic's one
// partition.
func confMark(b []byte) ([]int64, error) {
	var cp map[string]map[string]int64
	if err := json.Unmarshal(b, &cp); err != nil {
		return nil, err
	}
	if len(cp) > 1 {
		return nil, fmt.Errorf("checkpoint of %d topics, want 1", len(cp))
	}
	for _, ps := range cp {
		if len(ps) != 1 || ps["0"] == 0 && len(ps) == 0 {
			return nil, fmt.Errorf("checkpoint of partitions %v, want partition 0", ps)
		}
		return []int64{ps["0"]}, nil
	}
	return []int64{0}, nil
}
