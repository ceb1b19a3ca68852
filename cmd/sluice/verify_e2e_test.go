package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/internal/pgtest"
	"github.com/sluice-dev/sluice/internal/svctest"
	"github.com/sluice-dev/sluice/source/postgres"
	"github.com/sluice-dev/sluice/verify"
)

// verifyJSON is the part of `sluice verify --json` the tests check.
type verifyJSON struct {
	Tables []struct {
		Table       string   `json:"table"`
		Rows        int64    `json:"rows"`
		Missing     int      `json:"missing"`
		Extra       int      `json:"extra"`
		Different   int      `json:"different"`
		MissingKeys []string `json:"missing_keys"`
		ExtraKeys   []string `json:"extra_keys"`
		Differences []struct {
			Key     string `json:"key"`
			Columns []struct {
				Column string          `json:"column"`
				Source json.RawMessage `json:"source"`
				Sink   json.RawMessage `json:"sink"`
			} `json:"columns"`
		} `json:"differences"`
		Notes  []string `json:"notes"`
		Repair *struct {
			Signals []string `json:"signals"`
			Keys    int      `json:"keys"`
			Remove  []string `json:"remove"`
		} `json:"repair"`
	} `json:"tables"`
}

// verifyFixture is a pipeline from a PostgreSQL table into a PostgreSQL
// table, an OpenSearch index and a file, run until it has caught up.
type verifyFixture struct {
	t        *testing.T
	dir      string
	pipeline string
	env      []string
	src      *pgx.Conn          // PostgreSQL source (nil for MariaDB)
	srcExec  func(qs ...string) // runs statements on the source
	table    string             // the source table: public.item or <db>.item
	sink     *pgx.Conn
	search   *searchIndex // OpenSearch
	es       *searchIndex // Elasticsearch 8
	file     string
}

const verifyRows = 40

func newVerifyFixture(t *testing.T) *verifyFixture {
	osURL := svctest.Need(t, svctest.OpenSearch)
	esURL := svctest.Need(t, svctest.Elasticsearch)
	srcDSN := pgtest.NewDatabase(t)
	sinkDSN := pgtest.NewDatabase(t)
	f := &verifyFixture{t: t, dir: t.TempDir(), src: pgtest.Connect(t, srcDSN), sink: pgtest.Connect(t, sinkDSN), table: "public.item"}
	f.srcExec = func(qs ...string) { f.exec(f.src, qs...) }
	f.search = newSearchIndex(t, osURL, "sluice-verify")
	f.es = newSearchIndex(t, esURL, "sluice-verify")
	f.file = filepath.Join(f.dir, "out.jsonl")
	f.exec(f.src, `CREATE TABLE item (id int PRIMARY KEY, name text, note text, amount numeric(12,3), at timestamptz, score float8)`,
		`CREATE TABLE marker (id int PRIMARY KEY)`,
		`CREATE TABLE word (w text COLLATE "C" PRIMARY KEY, n int)`,
		`INSERT INTO word VALUES ('a', 1), ('B', 2), ('c', 3), ('D', 4), ('e', 5), ('F', 6), ('g', 7), ('H', 8), ('_x', 9), ('Ä', 10)`,
		fmt.Sprintf(`INSERT INTO item SELECT g, 'name ' || g || ' é✓', 'n' || g, g * 1.5, timestamptz '2024-01-01 10:00:00.123456+00' + g * interval '1 hour', g / 3.0
			FROM generate_series(1, %d) g`, verifyRows))
	// The sink's word table orders its key otherwise (ICU: a B c D, where
	// the source's "C" has B D a c): key ranges would not line up.
	f.exec(f.sink, `CREATE TABLE word (w text COLLATE "en-x-icu" PRIMARY KEY, n int)`)
	f.pipeline = writePipeline(t, f.dir, fmt.Sprintf(`state_dir: %[1]s/state
sources:
  pg:
    type: postgres
    dsn: ${SOURCE_DSN}
    tables: [public.item, public.word, public.marker]
    slot: %[2]s
    snapshot_chunk_rows: 10
sinks:
  table:
    type: postgres
    dsn: ${TARGET_DSN}
    inputs: [pg]
    auto_create: true
  search:
    type: opensearch
    hosts: ["${OS_URL}"]
    index: %[3]s-${table}
    inputs: [pg]
  es:
    type: elasticsearch
    hosts: ["${ES_URL}"]
    index: %[5]s-${table}
    inputs: [pg]
  file:
    type: file
    path: %[4]s
    inputs: [pg]
  rowfile:
    type: file
    path: %[1]s/rows.jsonl
    inputs: [pg]
    format: row
`, f.dir, uniqueSlot(), f.search.name, f.file, f.es.name))
	f.env = []string{"SOURCE_DSN=" + srcDSN, "TARGET_DSN=" + sinkDSN, "OS_URL=" + osURL, "ES_URL=" + esURL}
	return f
}

func (f *verifyFixture) exec(db *pgx.Conn, qs ...string) {
	f.t.Helper()
	for _, q := range qs {
		if _, err := db.Exec(context.Background(), q); err != nil {
			f.t.Fatalf("%s: %v", q, err)
		}
	}
}

// caughtUp reports whether marker row id is in every sink.
func (f *verifyFixture) caughtUp(id int) bool {
	var n int
	if err := f.sink.QueryRow(context.Background(), `SELECT count(*) FROM marker WHERE id = $1`, id).Scan(&n); err != nil || n == 0 {
		return false
	}
	for _, x := range []*searchIndex{f.search, f.es} {
		if x != nil && !x.exists(x.name+"-marker", fmt.Sprint(id)) {
			return false
		}
	}
	b, _ := os.ReadFile(f.file)
	return bytes.Contains(b, []byte(fmt.Sprintf(`"after":{"id":%d},"source":`, id)))
}

// run runs the pipeline until marker row id is in every sink.
func (f *verifyFixture) run(id int, changes ...string) {
	f.t.Helper()
	cmd := startSluice(f.t, f.dir, f.pipeline, f.env...)
	f.srcExec(changes...)
	f.srcExec(fmt.Sprintf(`INSERT INTO marker VALUES (%d)`, id))
	stopWhen(f.t, cmd, f.dir, time.Minute, fmt.Sprintf("marker %d in every sink", id), func() bool { return f.caughtUp(id) })
}

// verify runs sluice verify and decodes its JSON report.
func (f *verifyFixture) verify(want int, args ...string) (verifyJSON, string) {
	f.t.Helper()
	cmd := append([]string{"verify", "--json", "--chunk-rows", "7", "--tables", f.table}, args...)
	cmd = append(cmd, f.pipeline)
	stdout, stderr, code := runCmdEnv(f.t, f.dir, f.env, cmd...)
	if code != want {
		f.t.Fatalf("sluice %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(cmd, " "), code, want, stdout, stderr)
	}
	var out verifyJSON
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		f.t.Fatalf("sluice verify --json: %v\n%s", err, stdout)
	}
	return out, stdout
}

// runCmdEnv is runCmd with env added to the environment.
func runCmdEnv(t *testing.T, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v) // restored at the test's end
	}
	return runCmd(t, dir, args...)
}

// The differences every test plants in its sink, after the live changes
// (key 2 renamed, key 4 deleted) have streamed through:
//
//	3     missing (removed from the sink)
//	1000  extra (added to the sink)
//	10    deleted in the source while sluice was stopped: still in the sink
//	5     name different
//	6     note NULL in the sink
//	7     amount 10.500 → 10.501 (numeric)
//	8     at one microsecond later (timestamp)
//	9     name in decomposed Unicode (e + U+0301 for é)
var (
	wantMissing = []string{"3"}
	wantExtra   = []string{"10", "1000"}
	wantDiff    = map[string]string{
		"5": "name", "6": "note", "7": "amount", "8": "at", "9": "name",
	}
)

// plantSQL plants the differences in the PostgreSQL table sink.
var plantSQL = []string{`DELETE FROM item WHERE id = 3`,
	`INSERT INTO item (id, name) VALUES (1000, 'stray')`,
	`UPDATE item SET name = 'other' WHERE id = 5`,
	`UPDATE item SET note = NULL WHERE id = 6`,
	`UPDATE item SET amount = 10.501 WHERE id = 7`,
	`UPDATE item SET at = at + interval '1 microsecond' WHERE id = 8`,
	`UPDATE item SET name = 'name 9 e` + "\u0301" + `✓' WHERE id = 9`}

func checkPlanted(t *testing.T, sink, table string, out verifyJSON) {
	t.Helper()
	if len(out.Tables) != 1 {
		t.Fatalf("%s: %d tables in the report, want 1", sink, len(out.Tables))
	}
	tr := out.Tables[0]
	if tr.Table != table || tr.Rows != verifyRows-2 {
		t.Errorf("%s: table %s, %d rows; want %s, %d rows", sink, tr.Table, tr.Rows, table, verifyRows-2)
	}
	if tr.Missing != 1 || !reflect.DeepEqual(tr.MissingKeys, wantMissing) {
		t.Errorf("%s: missing %d %v, want %v", sink, tr.Missing, tr.MissingKeys, wantMissing)
	}
	extra := append([]string(nil), tr.ExtraKeys...)
	if tr.Extra != 2 || !reflect.DeepEqual(sortedCopy(extra), wantExtra) {
		t.Errorf("%s: extra %d %v, want %v", sink, tr.Extra, tr.ExtraKeys, wantExtra)
	}
	got := map[string]string{}
	for _, d := range tr.Differences {
		var cols []string
		for _, c := range d.Columns {
			cols = append(cols, c.Column)
		}
		got[d.Key] = strings.Join(cols, ",")
	}
	if tr.Different != len(wantDiff) || !reflect.DeepEqual(got, wantDiff) {
		t.Errorf("%s: different %d %v, want %v", sink, tr.Different, got, wantDiff)
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestVerify runs a pipeline into a PostgreSQL table, an OpenSearch index
// and a file, verifies each clean (exit 0), plants every kind of
// difference in each sink, and expects verify to find exactly those keys
// (exit 1), with the columns that differ.
func TestVerify(t *testing.T) {
	f := newVerifyFixture(t)
	f.run(1, `UPDATE item SET name = 'renamed' WHERE id = 2`, `DELETE FROM item WHERE id = 4`)

	for _, sink := range []string{"table", "search", "es", "file"} {
		out, raw := f.verify(exitOK, "--sink", sink)
		if tr := out.Tables[0]; tr.Rows != verifyRows-1 || tr.Missing+tr.Extra+tr.Different != 0 {
			t.Errorf("%s: a clean sink does not verify clean:\n%s", sink, raw)
		}
	}

	// A row-format file with several tables' rows cannot be verified.
	stdout, stderr, code := runCmdEnv(t, f.dir, f.env, "verify", "--sink", "rowfile", "--tables", "public.item", f.pipeline)
	if want := "sluice verify: table public.item: sink rowfile writes the rows of several tables in format row, and its lines do not say their table: verify cannot tell them apart (format debezium, or a sink per table, can be verified)\n"; code != exitUsage || stderr != want {
		t.Errorf("rowfile: exit %d, stderr %q; want 2, %q", code, stderr, want)
	}

	// A key the two servers order differently is read by key, and verifies
	// clean.
	stdout, stderr, code = runCmdEnv(t, f.dir, f.env, "verify", "--json", "--sink", "table", "--tables", "public.word", "--chunk-rows", "3", f.pipeline)
	if code != exitOK || !strings.Contains(stdout, `"the key orders differ (source text COLLATE C, sink text COLLATE en-x-icu): the sink is read by key, not by key range"`) {
		t.Errorf("word: exit %d\n%s\n%s", code, stdout, stderr)
	}

	// The source loses key 10 while sluice is stopped: every sink keeps it.
	f.exec(f.src, `DELETE FROM item WHERE id = 10`)
	// The PostgreSQL table.
	f.exec(f.sink, plantSQL...)
	// The indexes.
	f.plantSearch(f.search)
	f.plantSearch(f.es)
	// The file: lines appended as the sink would write them.
	f.plantFile()

	for _, sink := range []string{"table", "search", "es", "file"} {
		out, _ := f.verify(exitFailed, "--sink", sink)
		checkPlanted(t, sink, f.table, out)
	}

	// The text report names the keys and both values.
	stdout, _, code = runCmdEnv(t, f.dir, f.env, "verify", "--sink", "table", "--tables", "public.item", f.pipeline)
	if code != exitFailed {
		t.Fatalf("text report: exit %d", code)
	}
	for _, want := range []string{
		"public.item → public.item: DIFFERENT: 38 rows, 1 missing, 2 extra, 5 different",
		"  missing in the sink (id): 3\n",
		"  extra in the sink (id): 10, 1000\n",
		"    7: amount source 10.5 sink 10.501;\n",
		"    6: note source \"n6\" sink null;\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("text report lacks %q:\n%s", want, stdout)
		}
	}
}

// plantSearch changes x's item index as the planted differences say.
func (f *verifyFixture) plantSearch(x *searchIndex) {
	f.t.Helper()
	index := x.name + "-item"
	doc := func(id string) map[string]any {
		st, b := x.do("GET", "/"+index+"/_doc/"+id)
		if st != 200 {
			f.t.Fatalf("document %s: HTTP %d %s", id, st, b)
		}
		var d struct {
			Source map[string]any `json:"_source"`
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&d); err != nil {
			f.t.Fatal(err)
		}
		return d.Source
	}
	put := func(id string, src map[string]any) {
		b, _ := json.Marshal(src)
		req, _ := http.NewRequest("PUT", x.base+"/"+index+"/_doc/"+id, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			f.t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			f.t.Fatalf("PUT document %s: HTTP %d", id, resp.StatusCode)
		}
	}
	if st, b := x.do("DELETE", "/"+index+"/_doc/3"); st != 200 {
		f.t.Fatalf("delete document 3: HTTP %d %s", st, b)
	}
	put("1000", map[string]any{"id": 1000, "name": "stray"})
	d := doc("5")
	d["name"] = "other"
	put("5", d)
	d = doc("6")
	d["note"] = nil
	put("6", d)
	d = doc("7")
	d["amount"] = json.Number("10.501")
	put("7", d)
	d = doc("8")
	d["at"] = "2024-01-01T18:00:00.123457Z"
	put("8", d)
	d = doc("9")
	d["name"] = "name 9 e\u0301✓"
	put("9", d)
}

// plantFile appends Debezium lines to the file sink's output.
func (f *verifyFixture) plantFile() {
	f.t.Helper()
	data, err := os.ReadFile(f.file)
	if err != nil {
		f.t.Fatal(err)
	}
	last := map[string]map[string]any{}
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var e map[string]any
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&e); err != nil {
			f.t.Fatal(err)
		}
		if src := e["source"].(map[string]any); src["table"] != "item" || e["after"] == nil {
			continue
		}
		last[fmt.Sprint(e["after"].(map[string]any)["id"])] = e
	}
	var out bytes.Buffer
	emit := func(e map[string]any) {
		b, _ := json.Marshal(e)
		out.Write(b)
		out.WriteByte('\n')
	}
	change := func(id, col string, v any) {
		e := last[id]
		after := map[string]any{}
		for k, x := range e["after"].(map[string]any) {
			after[k] = x
		}
		after[col] = v
		e2 := map[string]any{"before": nil, "after": after, "source": e["source"], "op": "u", "ts_ms": e["ts_ms"]}
		emit(e2)
	}
	del := last["3"]
	emit(map[string]any{"before": del["after"], "after": nil, "source": del["source"], "op": "d", "ts_ms": del["ts_ms"]})
	stray := map[string]any{}
	for k, x := range last["1"] {
		stray[k] = x
	}
	stray["after"] = map[string]any{"id": 1000, "name": "stray", "note": nil, "amount": nil, "at": nil, "score": nil}
	stray["op"] = "c"
	emit(stray)
	change("5", "name", "other")
	change("6", "note", nil)
	change("7", "amount", "KQU=") // 10.501: Debezium's precise decimal, the unscaled 10501 in big-endian bytes
	switch at := last["8"]["after"].(map[string]any)["at"].(type) {
	case json.Number: // microseconds
		n, _ := at.Int64()
		change("8", "at", n+1)
	case string: // ISO 8601
		change("8", "at", strings.Replace(at, ".123456Z", ".123457Z", 1))
	default:
		f.t.Fatalf("key 8: at is %T", at)
	}
	change("9", "name", "name 9 e\u0301✓")
	fh, err := os.OpenFile(f.file, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	defer fh.Close()
	if _, err := fh.Write(out.Bytes()); err != nil {
		f.t.Fatal(err)
	}
}

// TestVerifyRepair plants the differences in the PostgreSQL table sink and
// runs verify --repair: it inserts exactly one execute-snapshot signal for
// the missing and different keys into the signal table, and says how to
// remove the extra ones. When the source handles signals, a run of the
// pipeline then snapshots those keys again and the sink verifies clean but
// for the extra keys.
func TestVerifyRepair(t *testing.T) {
	f := newVerifyFixture(t)
	f.exec(f.src, `CREATE TABLE dbz_signal (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))`)
	// A source that reads signals gets the table from its first run on:
	// pgoutput publishes a signal row only if the table was in the
	// publication when the row was inserted.
	key, signals := verify.SignalKey(postgres.DefaultConfig())
	if signals {
		f.pipeline = writePipeline(t, f.dir, strings.Replace(mustRead(t, f.pipeline), "    snapshot_chunk_rows: 10\n",
			"    snapshot_chunk_rows: 10\n    "+key+": public.dbz_signal\n", 1))
	}
	f.run(1, `UPDATE item SET name = 'renamed' WHERE id = 2`, `DELETE FROM item WHERE id = 4`)
	f.exec(f.src, `DELETE FROM item WHERE id = 10`)
	f.exec(f.sink, plantSQL...)

	out, _ := f.verify(exitFailed, "--sink", "table", "--repair", "--signal-table", "public.dbz_signal")
	checkPlanted(t, "table", f.table, out)
	rep := out.Tables[0].Repair
	if rep == nil {
		t.Fatal("no repair in the report")
	}
	wantRemove := []string{`2 extra rows cannot be removed by a snapshot (their keys are not in the source); remove them with: DELETE FROM "public"."item" WHERE ("id" = '10') OR ("id" = '1000');`}
	if rep.Keys != 6 || len(rep.Signals) != 1 || !reflect.DeepEqual(rep.Remove, wantRemove) {
		t.Errorf("repair: %d keys, signals %v, remove %q; want 6 keys, one signal, remove %q", rep.Keys, rep.Signals, rep.Remove, wantRemove)
	}
	rows := pgRows(t, f.src, `SELECT id || ' ' || type || ' ' || data FROM dbz_signal`)
	want := rep.Signals[0] + ` execute-snapshot {"data-collections":["public.item"],"type":"incremental",` +
		`"additional-conditions":[{"data-collection":"public.item","filter":"\"id\" IN ('3', '5', '6', '7', '8', '9')"}]}`
	if len(rows) != 1 || rows[0] != want {
		t.Fatalf("signal table:\n got  %q\n want %q", rows, want)
	}
	if !strings.HasPrefix(rep.Signals[0], "sluice-verify-") || len(rep.Signals[0]) > 42 {
		t.Errorf("signal id %q: want sluice-verify-… of at most 42 characters (Debezium's id column)", rep.Signals[0])
	}

	// The end-to-end repair: the source reads the signal table
	// (incremental snapshots).
	if !signals {
		t.Fatal("verify.SignalKey finds no signal table key in the postgres source's config")
	}
	cmd := startSluice(t, f.dir, f.pipeline, f.env...)
	// Repaired: verify itself finds no missing or different key.
	var last string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the last verify:\n%s", last)
		}
	})
	repaired := func() bool {
		stdout, _, code := runCmdEnv(t, f.dir, f.env, "verify", "--json", "--sink", "table", "--tables", f.table, f.pipeline)
		last = stdout
		var out verifyJSON
		if code != exitFailed || json.Unmarshal([]byte(stdout), &out) != nil || len(out.Tables) != 1 {
			return false
		}
		tr := out.Tables[0]
		// Key 10, deleted in the source while sluice was stopped, is
		// deleted by the stream once it runs again: 1000 is left.
		return tr.Missing == 0 && tr.Different == 0 && reflect.DeepEqual(tr.ExtraKeys, []string{"1000"})
	}
	stopWhen(t, cmd, f.dir, time.Minute, "the re-snapshot of the differing keys (verify clean but for the extra key 1000)", repaired)
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestVerifyUsage: what verify cannot do is exit 2 with a message that
// says why and what to do, before connecting anywhere.
func TestVerifyUsage(t *testing.T) {
	dir := t.TempDir()
	pg := "sources:\n  pg: {type: postgres, dsn: 'postgres://u@127.0.0.1:1/db', tables: [public.t]}\n"
	for _, tc := range []struct {
		name, pipeline string
		args           []string
		want           string
	}{
		{"generator source", "sources:\n  gen: {type: generator, tables: [product]}\nsinks:\n  out: {type: file, path: " + dir + "/o.jsonl, inputs: [gen]}\n", nil,
			"sluice verify: source gen is of type generator: verify reads postgres and mysql sources (mongodb and others are not supported yet)\n"},
		{"no readable sink", pg + "sinks:\n  out: {type: stdout, inputs: [pg]}\n", nil,
			"sluice verify: no sink of the pipeline is one verify reads (postgres, opensearch, elasticsearch, file, lines)\n"},
		{"unknown sink", pg + "sinks:\n  out: {type: file, path: " + dir + "/o.jsonl, inputs: [pg]}\n", []string{"--sink", "nope"},
			"sluice verify: --sink nope: the pipeline has no such sink (sinks: out)\n"},
		{"several sinks", pg + "sinks:\n  a: {type: file, path: " + dir + "/a.jsonl, inputs: [pg]}\n  b: {type: file, path: " + dir + "/b.jsonl, inputs: [pg]}\n", nil,
			"sluice verify: the pipeline has several sinks (a, b): choose one with --sink NAME\n"},
		{"processor between", pg + "processors:\n  f: {type: filter, inputs: [pg], condition: 'true'}\nsinks:\n  out: {type: file, path: " + dir + "/o.jsonl, inputs: [f]}\n", nil,
			"sluice verify: sink out takes its input from processor f: verify compares a sink with the source rows it receives unchanged\n"},
		{"repair without signals", pg + "sinks:\n  out: {type: file, path: " + dir + "/o.jsonl, inputs: [pg]}\n", []string{"--repair"},
			"sluice verify: --repair: source pg (type postgres) reads no signal table, so nothing would run the snapshot; --signal-table schema.table inserts the signals anyway\n"},
		{"bad signal table", pg + "sinks:\n  out: {type: file, path: " + dir + "/o.jsonl, inputs: [pg]}\n", []string{"--repair", "--signal-table", "sig"},
			"sluice verify: --repair: signal table \"sig\" is not schema.table\n"},
		{"bad chunk", pg + "sinks:\n  out: {type: file, path: " + dir + "/o.jsonl, inputs: [pg]}\n", []string{"--chunk-rows", "0"},
			"sluice verify: --chunk-rows and --sample must be positive, --rate not negative\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.want
			if key, ok := verify.SignalKey(postgres.DefaultConfig()); ok && tc.name == "repair without signals" {
				// A source that reads signals, with none configured.
				want = "sluice verify: --repair: source pg names no signal table: set its " + key +
					" (schema.table of a table with columns id, type, data, as Debezium's signal.data.collection), or pass --signal-table\n"
			}
			p := writePipeline(t, t.TempDir(), tc.pipeline)
			var stdout, stderr bytes.Buffer
			code := run(append(append([]string{"verify"}, tc.args...), p), &stdout, &stderr)
			if code != exitUsage || stderr.String() != want || stdout.Len() != 0 {
				t.Errorf("exit %d, stdout %q, stderr\n %q\nwant exit 2, stderr\n %q", code, stdout.String(), stderr.String(), want)
			}
		})
	}
}

// TestVerifyMySQL is TestVerify's plan with a MariaDB source, into a
// PostgreSQL table (auto_create from MariaDB's types) and a file: both
// verify clean, then exactly the planted differences; --repair's signal
// row is in MariaDB's dialect.
func TestVerifyMySQL(t *testing.T) {
	mc := mariaDBDatabase(t, "verify_")
	srcDSN := mc.FormatDSN()
	db, err := sql.Open("mysql", srcDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sinkDSN := pgtest.NewDatabase(t)
	f := &verifyFixture{t: t, dir: t.TempDir(), sink: pgtest.Connect(t, sinkDSN), table: mc.DBName + ".item"}
	f.srcExec = func(qs ...string) {
		t.Helper()
		for _, q := range qs {
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	f.file = filepath.Join(f.dir, "out.jsonl")
	f.srcExec(`CREATE TABLE item (id INT PRIMARY KEY, name VARCHAR(100), note VARCHAR(100), amount DECIMAL(12,3), at DATETIME(6), score DOUBLE)`,
		`CREATE TABLE marker (id INT PRIMARY KEY)`,
		`CREATE TABLE dbz_signal (id VARCHAR(42) PRIMARY KEY, type VARCHAR(32) NOT NULL, data VARCHAR(2048))`,
		fmt.Sprintf(`INSERT INTO item SELECT seq, CONCAT('name ', seq, ' é✓'), CONCAT('n', seq), seq * 1.5,
			TIMESTAMP'2024-01-01 10:00:00.123456' + INTERVAL seq HOUR, seq / 3 FROM seq_1_to_%d`, verifyRows))
	f.pipeline = writePipeline(t, f.dir, fmt.Sprintf(`state_dir: %[1]s/state
sources:
  my:
    type: mysql
    dsn: ${SOURCE_DSN}
    tables: [%[2]s.item, %[2]s.marker]
    heartbeat_interval: 1s
sinks:
  table:
    type: postgres
    dsn: ${TARGET_DSN}
    inputs: [my]
    auto_create: true
  file:
    type: file
    path: %[3]s
    inputs: [my]
  rows:
    type: lines
    path: %[1]s/rows.jsonl
    inputs: [my.%[2]s.item]
    format: row
    unwrap: {delete_handling: rewrite}
`, f.dir, mc.DBName, f.file))
	f.env = []string{"SOURCE_DSN=" + srcDSN, "TARGET_DSN=" + sinkDSN}
	f.run(1, `UPDATE item SET name = 'renamed' WHERE id = 2`, `DELETE FROM item WHERE id = 4`)
	for _, sink := range []string{"table", "file", "rows"} {
		out, raw := f.verify(exitOK, "--sink", sink)
		if tr := out.Tables[0]; tr.Rows != verifyRows-1 || tr.Missing+tr.Extra+tr.Different != 0 {
			t.Errorf("%s: a clean sink does not verify clean:\n%s", sink, raw)
		}
	}
	f.srcExec(`DELETE FROM item WHERE id = 10`)
	// The lines sink (format row, deletes rewritten with __deleted) keeps
	// the row the source lost while sluice was stopped.
	if out, raw := f.verify(exitFailed, "--sink", "rows"); out.Tables[0].Extra != 1 || !reflect.DeepEqual(out.Tables[0].ExtraKeys, []string{"10"}) ||
		out.Tables[0].Missing+out.Tables[0].Different != 0 {
		t.Errorf("rows: want exactly the extra key 10:\n%s", raw)
	}
	f.exec(f.sink, plantSQL...)
	f.plantFile()
	for _, sink := range []string{"table", "file"} {
		out, _ := f.verify(exitFailed, "--sink", sink)
		checkPlanted(t, sink, f.table, out)
	}
	out, _ := f.verify(exitFailed, "--sink", "table", "--repair", "--signal-table", mc.DBName+".dbz_signal")
	rep := out.Tables[0].Repair
	if rep == nil || len(rep.Signals) != 1 {
		t.Fatalf("repair: %+v", rep)
	}
	var id, typ, data string
	if err := db.QueryRow(`SELECT id, type, data FROM dbz_signal`).Scan(&id, &typ, &data); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`{"data-collections":["%[1]s.item"],"type":"incremental",`+
		`"additional-conditions":[{"data-collection":"%[1]s.item","filter":"`+"`id`"+` IN (3, 5, 6, 7, 8, 9)"}]}`, mc.DBName)
	if id != rep.Signals[0] || typ != "execute-snapshot" || data != want {
		t.Errorf("signal row:\n got  %s %s %s\n want %s execute-snapshot %s", id, typ, data, rep.Signals[0], want)
	}
}

// TestVerifyNoSecrets: a server verify cannot reach is exit 2 with a
// message that names the component, never its password.
func TestVerifyNoSecrets(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ name, pipeline, want string }{
		{"postgres source", "sources:\n  pg: {type: postgres, dsn: 'postgres://u:s3cret@127.0.0.1:1/db', tables: [public.t]}\nsinks:\n  out: {type: file, path: " + dir + "/o.jsonl, inputs: [pg]}\n",
			"sluice verify: source pg: connect: "},
		{"mysql source", "sources:\n  my: {type: mysql, dsn: 'u:s3cret@tcp(127.0.0.1:1)/db', tables: [db.t]}\nsinks:\n  out: {type: file, path: " + dir + "/o.jsonl, inputs: [my]}\n",
			"sluice verify: source my: connect: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writePipeline(t, t.TempDir(), tc.pipeline)
			var stdout, stderr bytes.Buffer
			code := run([]string{"verify", p}, &stdout, &stderr)
			if code != exitUsage || !strings.HasPrefix(stderr.String(), tc.want) || strings.Contains(stderr.String(), "s3cret") {
				t.Errorf("exit %d, stderr %q; want 2, %q…, no password", code, stderr.String(), tc.want)
			}
		})
	}
}
