package mongodb

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// recorder is an Emitter that keeps every batch.
type recorder struct {
	mu      sync.Mutex
	batches []recordedBatch
}

type recordedBatch struct {
	events []event.Event
	cp     []byte
}

func (r *recorder) Emit(_ context.Context, evs []event.Event, cp []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, recordedBatch{events: evs, cp: cp})
	return nil
}

func (r *recorder) events() []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []event.Event
	for _, b := range r.batches {
		out = append(out, b.events...)
	}
	return out
}

func (r *recorder) lastCheckpoint() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.batches) - 1; i >= 0; i-- {
		if r.batches[i].cp != nil {
			return r.batches[i].cp
		}
	}
	return nil
}

// streamScenario is one golden test: recorded change events fed through a
// recorded stream into Run.
type streamScenario struct {
	name       string
	files      []string
	cfg        func(*Config)
	checkpoint string // resume from this checkpoint ("" = first run)
	lost       bool   // unknown resume tokens fail with history_lost.json
	docs       map[int32]string
	failAt     int // the stream fails once before this event (a lost connection)
}

func demoConfig() *Config {
	cfg := DefaultConfig()
	cfg.URI = "mongodb://127.0.0.1:27017/"
	cfg.Collections = []Collection{{Name: "demo.demo_collection", Stream: true}}
	return cfg
}

func shopConfig(c *Config) {
	c.Collections = []Collection{{Name: "shop.orders", Stream: true}, {Name: "shop.inventory", Stream: true}}
	c.BatchSize = 2
}

const lostCheckpoint = `{"v":1,"phase":"stream","token":{"_data":"82650000000000000A2B0229296E04"},"ct":7301444403200000001}`

var scenarios = []streamScenario{
	{name: "insert", files: []string{"insert.json"}},
	{name: "update_lookup", files: []string{"update_lookup.json"}},
	{name: "when_available", files: []string{"update_lookup.json"}, cfg: func(c *Config) { c.FullDocument = WhenAvailable },
		docs: map[int32]string{2: `{"_id":{"$numberInt":"2"},"sku":"B-2","qty":{"$numberInt":"0"}}`}},
	{name: "replace", files: []string{"insert.json", "replace.json"}},
	{name: "delete", files: []string{"delete.json"}},
	{name: "preimages", files: []string{"preimages.json"}, cfg: func(c *Config) { c.FullDocumentBeforeChange = WhenAvailable }},
	{name: "transaction", files: []string{"transaction.json"}, cfg: shopConfig},
	{name: "transaction_resume", files: []string{"transaction.json"}, cfg: shopConfig,
		checkpoint: `{"v":1,"phase":"stream","token":{"_data":"826553F600000000052B022C0100296E5A1004F1B2C3D4E5F6478899AABBCCDDEEFF0046645F69640064655600000000000000000000010104"},"ct":` +
			strconv.FormatUint(1700001280<<32|5, 10) + `,"ord":1}`},
	{name: "reconnect", files: []string{"transaction.json"}, cfg: shopConfig, failAt: 1},
	{name: "all_types", files: []string{"all_types.json"}},
	{name: "drop", files: []string{"drop.json"}},
	{name: "invalidate", files: []string{"invalidate.json"}},
	{name: "history_lost_fail", files: []string{"insert.json"}, checkpoint: lostCheckpoint, lost: true},
	{name: "history_lost_reexport", files: []string{"insert.json"}, checkpoint: lostCheckpoint, lost: true,
		cfg: func(c *Config) { c.OnHistoryLost = LostReexport }},
	{name: "glob", files: []string{"insert.json", "transaction.json"}, cfg: func(c *Config) {
		c.Collections = []Collection{{Name: "shop.ord*", Stream: true}}
	}},
}

// TestChangeStreamGolden feeds recorded change events through the stream
// loop and compares the emitted batches with
// testdata/changestream/<scenario>.golden (-update rewrites them).
func TestChangeStreamGolden(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			got := runScenario(t, sc)
			path := filepath.Join("testdata", "changestream", sc.name+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s:\n%s", path, got)
			}
		})
	}
}

func runScenario(t *testing.T, sc streamScenario) string {
	t.Helper()
	cfg := demoConfig()
	if sc.cfg != nil {
		sc.cfg(cfg)
	}
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	}))
	src, err := New(cfg, component.Env{Name: "mongo", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorded(t, sc.files...)
	if sc.lost {
		rec.lost = loadServerError(t, "history_lost.json")
	}
	rec.failAt = sc.failAt
	for id, doc := range sc.docs {
		var raw bson.Raw
		if err := bson.UnmarshalExtJSON([]byte(doc), true, &raw); err != nil {
			t.Fatal(err)
		}
		v := bson.RawValue{Type: bson.TypeInt32, Value: bsonInt32(id)}
		rec.docs[fmt.Sprintf("%d:%x", byte(v.Type), v.Value)] = raw
	}
	src.dial = func(context.Context) (server, *mongo.Client, error) { return rec, nil, nil }
	out := &recorder{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	var cp []byte
	if sc.checkpoint != "" {
		cp = []byte(sc.checkpoint)
	}
	go func() { done <- src.Run(ctx, cp, out) }()
	var runErr error
	select {
	case <-rec.drained:
		cancel()
		runErr = <-done
	case runErr = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run neither drained the recorded stream nor returned")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "== watch\n%s\n", strings.Join(rec.watches, "\n"))
	logMu.Lock()
	fmt.Fprintf(&b, "== log\n%s", logs.String())
	logMu.Unlock()
	b.WriteString("== emitted\n")
	dumpBatches(&b, out.batches)
	fmt.Fprintf(&b, "== result\nRun: %v\nskipped updates: %d\n", runErr, src.skippedUpdates.Load())
	return b.String()
}

func bsonInt32(i int32) []byte {
	return []byte{byte(i), byte(i >> 8), byte(i >> 16), byte(i >> 24)}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// dumpBatches writes batches as stable text: each batch's checkpoint, each
// event's op, stream, schema version, Source fields, Position and images,
// and each schema's columns when it first appears. Processing times
// (Event.TsMs, and Source.TsMs of export rows) are left out.
func dumpBatches(b *strings.Builder, batches []recordedBatch) {
	seen := map[*event.Schema]bool{}
	for i, bt := range batches {
		fmt.Fprintf(b, "batch %d: %d events, checkpoint %s\n", i+1, len(bt.events), bt.cp)
		for j := range bt.events {
			e := &bt.events[j]
			if !seen[e.Schema] {
				seen[e.Schema] = true
				fmt.Fprintf(b, "  schema %s v%d (connector %s, database %s, namespace %q, table %s, key %v):\n", e.Schema.Stream, e.Schema.Version,
					e.Schema.Connector, e.Schema.Database, e.Schema.Namespace, e.Schema.Table, e.Schema.KeyIdx)
				for _, c := range e.Schema.Columns {
					fmt.Fprintf(b, "    %s %s/%s", c.Name, c.Type, c.TypeName)
					if c.Key {
						b.WriteString(" key")
					}
					if c.Optional {
						b.WriteString(" optional")
					}
					if c.Precision != 0 || c.Scale != 0 {
						fmt.Fprintf(b, " precision %d scale %d", c.Precision, c.Scale)
					}
					b.WriteByte('\n')
				}
			}
			s := &e.Source
			fmt.Fprintf(b, "  %s %s v%d position %q\n", e.Op, e.Schema.Stream, e.Schema.Version, e.Position)
			if s.Snapshot != event.SnapshotFalse {
				fmt.Fprintf(b, "    source: snapshot=%s lsn=%d has_lsn=%v row=%d\n", s.Snapshot, s.LSN, s.HasLSN, s.Row)
			} else {
				tx := "-"
				if s.HasTxID {
					tx = strconv.FormatInt(s.TxID, 10)
				}
				fmt.Fprintf(b, "    source: ts_ms=%d lsn=%d (%d:%d) commit_lsn=%d has_lsn=%v row=%d txid=%s snapshot=%s\n",
					s.TsMs(), s.LSN, s.LSN>>32, uint32(s.LSN), s.CommitLSN, s.HasLSN, s.Row, tx, s.Snapshot)
				seq := e.Seq()
				v, ok := e.Version()
				fmt.Fprintf(b, "    seq=(%d,%d) version=%d/%v\n", seq.Hi, seq.Lo, v, ok)
			}
			dumpImage(b, "before", e.Schema, e.Before)
			dumpImage(b, "after", e.Schema, e.After)
		}
	}
}

func dumpImage(b *strings.Builder, name string, sch *event.Schema, img []event.Value) {
	if img == nil {
		fmt.Fprintf(b, "    %s: nil\n", name)
		return
	}
	fmt.Fprintf(b, "    %s:\n", name)
	for i, v := range img {
		fmt.Fprintf(b, "      %s = %s\n", sch.Columns[i].Name, valueText(v))
	}
}

func valueText(v event.Value) string {
	switch v.Kind {
	case event.KindNull:
		return "null"
	case event.KindBool:
		return "bool " + strconv.FormatBool(v.AsBool())
	case event.KindInt:
		return "int " + strconv.FormatInt(v.AsInt(), 10)
	case event.KindFloat:
		return "float " + strconv.FormatFloat(v.AsFloat(), 'g', -1, 64)
	case event.KindDecimal:
		return "decimal " + strconv.Quote(v.Str)
	case event.KindString:
		return "string " + strconv.Quote(v.Str)
	case event.KindBytes:
		return fmt.Sprintf("bytes %x", v.Str)
	}
	return fmt.Sprintf("kind %d %q", v.Kind, v.Text())
}
