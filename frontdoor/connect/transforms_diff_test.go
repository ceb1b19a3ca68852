package connect

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
	"github.com/sluice-dev/sluice/internal/svctest"
	"github.com/sluice-dev/sluice/registry"
)

// The records of the transforms differential test: two tables of a
// Debezium PostgreSQL connector named shop, a snapshot row, an insert, an
// update, a delete (then its tombstone, as Debezium writes one).
var (
	diffCustomers = &event.Schema{Stream: "shop.public.customers", Source: "shop", Connector: "postgresql", Database: "shop", Namespace: "public", Table: "customers", Version: 1,
		Columns: []event.Column{
			{Name: "id", Type: event.TypeInt32, TypeName: "int4", TypeOID: 23, Key: true},
			{Name: "name", Type: event.TypeString, TypeName: "text", TypeOID: 25, Optional: true},
			{Name: "price", Type: event.TypeDecimal, TypeName: "numeric", TypeOID: 1700, Optional: true, Precision: 10, Scale: 2},
		}, KeyIdx: []int{0}}
	diffAudit = &event.Schema{Stream: "shop.public.audit_log", Source: "shop", Connector: "postgresql", Database: "shop", Namespace: "public", Table: "audit_log", Version: 1,
		Columns: []event.Column{
			{Name: "id", Type: event.TypeInt64, TypeName: "int8", TypeOID: 20, Key: true},
			{Name: "msg", Type: event.TypeString, TypeName: "text", TypeOID: 25, Optional: true},
		}, KeyIdx: []int{0}}
)

func diffEvents() []event.Event {
	src := func(lsn uint64, tx int64) event.Source {
		return event.Source{TsUs: 1_700_000_000_123_456, TxID: tx, HasTxID: true, LSN: lsn, HasLSN: true, CommitLSN: lsn, LastCommitLSN: lsn - 8}
	}
	c := func(id int64, name, price string) []event.Value {
		return []event.Value{event.Int(id), event.String(name), event.Decimal(price)}
	}
	return []event.Event{
		{Schema: diffCustomers, Op: event.OpRead, After: c(1, "ann", "10.50"), Source: event.Source{TsUs: 1_700_000_000_000_000, Snapshot: event.SnapshotLast}, TsMs: 1_700_000_001_000},
		{Schema: diffCustomers, Op: event.OpCreate, After: c(2, "bob", "3.00"), Source: src(1000, 700), TsMs: 1_700_000_002_000},
		{Schema: diffAudit, Op: event.OpCreate, After: []event.Value{event.Int(9), event.String("bob joined")}, Source: src(1016, 700), TsMs: 1_700_000_002_000},
		{Schema: diffCustomers, Op: event.OpUpdate, Before: c(2, "bob", "3.00"), After: c(2, "bobby", "4.25"), Source: src(2000, 701), TsMs: 1_700_000_003_000},
		{Schema: diffCustomers, Op: event.OpDelete, Before: c(2, "bobby", "4.25"), Source: src(3000, 702), TsMs: 1_700_000_004_000},
		{Schema: diffAudit, Op: event.OpDelete, Before: []event.Value{event.Int(9), event.Value{}}, Source: src(3016, 702), TsMs: 1_700_000_004_000},
	}
}

// TestTransformsDifferential runs the same transform chains through Kafka
// Connect's and Debezium's own classes (scripts/transforms/Transforms.java
// on Debezium 2.7.3's classpath, scripts/debezium.sh) and through sluice's
// translation of the connector configuration (the processors it makes),
// on the same records, and compares what comes out, record for record:
// topic, key and value as JsonConverter writes them without schemas. A
// delete that passes on is a tombstone (null value) in Connect; sluice's
// topic writer adds the tombstone after the delete, so a run of identical
// tombstones counts once on both sides (two tombstones of one key delete
// it as one does).
func TestTransformsDifferential(t *testing.T) {
	dir := svctest.Need(t, svctest.Debezium)
	classes := t.TempDir()
	src, _ := filepath.Abs("../../scripts/transforms/Transforms.java")
	if out, err := exec.Command("javac", "-cp", filepath.Join(dir, "lib", "*"), "-d", classes, src).CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	input := filepath.Join(t.TempDir(), "records.jsonl")
	writeDiffRecords(t, input)

	for _, tc := range []struct{ name, transforms string }{
		{"unwrap defaults", `"transforms":"u","transforms.u.type":"io.debezium.transforms.ExtractNewRecordState"`},
		{"unwrap legacy rewrite, tombstones kept, add.fields", `"transforms":"u","transforms.u.type":"io.debezium.transforms.ExtractNewRecordState",
			"transforms.u.delete.handling.mode":"rewrite","transforms.u.drop.tombstones":"false","transforms.u.add.fields":"op,table,source.ts_ms,lsn,txId,ts_ms,db:database,snapshot,schema"`},
		{"unwrap legacy drop, tombstones kept", `"transforms":"u","transforms.u.type":"io.debezium.transforms.ExtractNewRecordState","transforms.u.drop.tombstones":"false"`},
		{"unwrap legacy none", `"transforms":"u","transforms.u.type":"io.debezium.transforms.ExtractNewRecordState","transforms.u.delete.handling.mode":"none"`},
		{"unwrap legacy none, tombstones kept", `"transforms":"u","transforms.u.type":"io.debezium.transforms.ExtractNewRecordState","transforms.u.delete.handling.mode":"none","transforms.u.drop.tombstones":"false"`},
		{"unwrap tombstone", `"transforms":"u","transforms.u.type":"io.debezium.transforms.ExtractNewRecordState","transforms.u.delete.tombstone.handling.mode":"tombstone"`},
		{"unwrap rewrite, prefix", `"transforms":"u","transforms.u.type":"io.debezium.transforms.ExtractNewRecordState","transforms.u.delete.tombstone.handling.mode":"rewrite","transforms.u.add.fields":"op,source.ts_ms:commit_ms","transforms.u.add.fields.prefix":"meta_"`},
		{"unwrap rewrite-with-tombstone", `"transforms":"u","transforms.u.type":"io.debezium.transforms.ExtractNewRecordState","transforms.u.delete.tombstone.handling.mode":"rewrite-with-tombstone"`},
		{"unwrap drop", `"transforms":"u","transforms.u.type":"io.debezium.transforms.ExtractNewRecordState","transforms.u.delete.tombstone.handling.mode":"drop"`},
		{"chain", `"transforms":"unwrap,skipAudit,route,fields,stamp",
			"transforms.unwrap.type":"io.debezium.transforms.ExtractNewRecordState","transforms.unwrap.delete.tombstone.handling.mode":"rewrite","transforms.unwrap.add.fields":"op",
			"transforms.skipAudit.type":"org.apache.kafka.connect.transforms.Filter","transforms.skipAudit.predicate":"isAudit",
			"transforms.route.type":"org.apache.kafka.connect.transforms.RegexRouter","transforms.route.regex":"([^.]+)\\.([^.]+)\\.([^.]+)","transforms.route.replacement":"$3",
			"transforms.fields.type":"org.apache.kafka.connect.transforms.ReplaceField$Value","transforms.fields.exclude":"price","transforms.fields.renames":"name:full_name",
			"transforms.stamp.type":"org.apache.kafka.connect.transforms.InsertField$Value","transforms.stamp.static.field":"origin","transforms.stamp.static.value":"pg","transforms.stamp.topic.field":"topic",
			"predicates":"isAudit","predicates.isAudit.type":"org.apache.kafka.connect.transforms.predicates.TopicNameMatches","predicates.isAudit.pattern":".*audit.*"`},
		{"filter negated", `"transforms":"onlyAudit","transforms.onlyAudit.type":"org.apache.kafka.connect.transforms.Filter","transforms.onlyAudit.predicate":"isAudit","transforms.onlyAudit.negate":"true",
			"predicates":"isAudit","predicates.isAudit.type":"org.apache.kafka.connect.transforms.predicates.TopicNameMatches","predicates.isAudit.pattern":"shop\\.public\\.audit_log"`},
		{"replace field legacy whitelist", `"transforms":"u,keep","transforms.u.type":"io.debezium.transforms.ExtractNewRecordState",
			"transforms.keep.type":"org.apache.kafka.connect.transforms.ReplaceField$Value","transforms.keep.whitelist":"id,name,msg"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `{"connector.class":"io.debezium.connector.postgresql.PostgresConnector","database.hostname":"h","database.user":"u","database.dbname":"shop","topic.prefix":"shop",` + tc.transforms + `}`
			cfg, err := ParseConfig(json.RawMessage(body))
			if err != nil {
				t.Fatal(err)
			}
			props := filepath.Join(t.TempDir(), "chain.properties")
			var lines []string
			for k, v := range cfg {
				if strings.HasPrefix(k, "transforms") || strings.HasPrefix(k, "predicates") {
					lines = append(lines, k+"="+strings.ReplaceAll(v, `\`, `\\`))
				}
			}
			sort.Strings(lines)
			if err := os.WriteFile(props, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("java", "-cp", filepath.Join(dir, "lib", "*")+string(os.PathListSeparator)+classes, "Transforms", props, input)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("java: %v\n%s", err, stderr.String())
			}
			want := collapse(strings.Split(strings.TrimSuffix(string(out), "\n"), "\n"))
			got := collapse(sluiceTransforms(t, cfg))
			t.Logf("Kafka Connect and sluice:\n%s", strings.Join(want, "\n"))
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("sluice:\n%s\nKafka Connect:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

// writeDiffRecords writes the events as Debezium's records (JsonConverter
// with schemas), a tombstone after each delete.
func writeDiffRecords(t *testing.T, path string) {
	t.Helper()
	enc, err := format.New(format.Options{Format: format.DebeziumSchema})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range diffEvents() {
		v, ok, err := enc.AppendValue(nil, &e)
		if err != nil || !ok {
			t.Fatalf("encode %s: %v %v", e.String(), ok, err)
		}
		k := enc.AppendKey(nil, &e)
		b.WriteString(`{"topic":"` + e.Schema.Stream + `","key":` + string(k) + `,"value":` + string(v) + "}\n")
		if e.Op == event.OpDelete {
			b.WriteString(`{"topic":"` + e.Schema.Stream + `","key":` + string(k) + `,"value":null}` + "\n")
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// sluiceTransforms translates cfg and runs the events through the
// processors of its plan, in chain order, rendering each output event as
// Connect's record: topic, key and row (a delete is a null value).
func sluiceTransforms(t *testing.T, cfg Config) []string {
	t.Helper()
	plan, err := Translate("diff", cfg, Env{Topics: testTopics})
	if err != nil {
		t.Fatal(err)
	}
	g, err := config.LoadValue("connector diff", plan.Doc("diff", t.TempDir()), registry.Default())
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.Default()
	var chain []component.Processor
	for next := plan.Sinks[writerNode]["inputs"].([]string)[0]; ; {
		n := g.Node(next)
		if n == nil || n.Kind != g.Processors[0].Kind {
			break
		}
		p, err := reg.Processors[n.Type].New(n.Config, component.Env{Name: n.Name, Logger: slog.Default()})
		if err != nil {
			t.Fatal(err)
		}
		chain = append([]component.Processor{p}, chain...)
		next = n.Inputs[0]
	}
	events := diffEvents()
	for _, p := range chain {
		out, err := p.Process(context.Background(), events, nil)
		if err != nil {
			t.Fatalf("process: %v", err)
		}
		events = out
	}
	// Unwrapped events are rows (a delete a tombstone); others stay
	// Debezium's envelope, the topic writer adding a tombstone after a
	// delete.
	opts := format.Options{Format: format.Debezium}
	if plan.Unwrapped {
		opts = format.Options{Format: format.Row, Unwrap: format.UnwrapOptions{DeleteHandling: format.DeleteTombstone}}
	}
	enc, err := format.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i := range events {
		e := &events[i]
		v, ok, err := enc.AppendValue(nil, e)
		if err != nil || !ok {
			t.Fatalf("encode %s: %v %v", e.String(), ok, err)
		}
		k := e.Schema.Stream + " " + string(enc.AppendKey(nil, e))
		lines = append(lines, k+" "+string(v))
		if !plan.Unwrapped && e.Op == event.OpDelete {
			lines = append(lines, k+" null")
		}
	}
	return lines
}

// collapse drops a tombstone that repeats the line before it.
func collapse(lines []string) []string {
	var out []string
	for _, l := range lines {
		if len(out) > 0 && strings.HasSuffix(l, " null") && out[len(out)-1] == l {
			continue
		}
		out = append(out, l)
	}
	return out
}
