package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/pgtest"
)

// rowLine is one line of a row-format file, its keys in order.
type rowLine struct {
	keys   []string
	values map[string]any
}

func readRows(t *testing.T, path string) []rowLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []rowLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		var r rowLine
		if err := dec.Decode(&r.values); err != nil {
			t.Fatalf("%s: %v", sc.Text(), err)
		}
		// Key order, from a token walk of the top-level object.
		dec = json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.Token() // {
		for dec.More() {
			k, _ := dec.Token()
			r.keys = append(r.keys, k.(string))
			var skip json.RawMessage
			dec.Decode(&skip)
		}
		out = append(out, r)
	}
	return out
}

func float(t *testing.T, v any) float64 {
	t.Helper()
	f, err := v.(json.Number).Float64()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// The three processors in a chain through the binary: a filter, a map and
// a route, fed by the generator's product inserts, updates and deletes.
// The expected output is derived from the source's own rows, written by a
// second sink in the same run.
func TestProcessorsChain(t *testing.T) {
	dir := t.TempDir()
	p := writePipeline(t, dir, fmt.Sprintf(`state_dir: %[1]s/state
sources:
  gen:
    type: generator
    tables: [product, users]
    count: 600
    rate: 0
    seed: 11
    operations: {insert: 6, update: 3, delete: 1}
processors:
  cheap:
    type: filter
    inputs: [gen.public.product]
    condition: price < 500 && quantity > 10
  shape:
    type: map
    inputs: [cheap]
    set: {value: "price * quantity", name: "upper(name)"}
    rename: {internalId: internal_id}
    drop: [description]
  topics:
    type: route
    inputs: [shape]
    regex: '([^.]+)\.([^.]+)\.([^.]+)'
    replacement: '$3'
sinks:
  raw:
    type: file
    inputs: [gen.public.product]
    path: %[1]s/raw.jsonl
    format: row
    unwrap: {delete_handling: rewrite, add_fields: [op]}
  out:
    type: file
    inputs: [product]
    path: %[1]s/out.jsonl
    format: row
    unwrap: {delete_handling: rewrite, add_fields: [op, table]}
`, dir))
	out, err := exec.Command(bin, "run", "--progress", "never", p).CombinedOutput()
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	raw, got := readRows(t, filepath.Join(dir, "raw.jsonl")), readRows(t, filepath.Join(dir, "out.jsonl"))
	var want []rowLine
	ops := map[string]int{}
	for _, r := range raw {
		v := r.values
		op := v["__op"].(string)
		ops[op]++
		if op != "d" && !(float(t, v["price"]) < 500 && float(t, v["quantity"]) > 10) {
			continue // filtered out; deletes pass (on_delete: keep)
		}
		w := rowLine{
			keys: []string{"id", "name", "price", "color", "category", "quantity", "internal_id", "value", "__deleted", "__op", "__table"},
			values: map[string]any{
				"id": v["id"], "name": strings.ToUpper(v["name"].(string)), "price": v["price"], "color": v["color"],
				"category": v["category"], "quantity": v["quantity"], "internal_id": v["internalId"],
				"value": float(t, v["price"]) * float(t, v["quantity"]), "__op": op, "__table": "product", "__deleted": v["__deleted"],
			},
		}
		want = append(want, w)
	}
	if ops["c"] == 0 || ops["u"] == 0 || ops["d"] == 0 || len(want) == 0 || len(want) == len(raw) {
		t.Fatalf("the run does not exercise the chain: ops %v, %d of %d rows kept", ops, len(want), len(raw))
	}
	if len(got) != len(want) {
		t.Fatalf("out has %d rows; want %d (of %d raw)", len(got), len(want), len(raw))
	}
	for i := range want {
		g, w := got[i], want[i]
		if strings.Join(g.keys, ",") != strings.Join(w.keys, ",") {
			t.Fatalf("row %d keys %v; want %v", i, g.keys, w.keys)
		}
		for k, wv := range w.values {
			gv := g.values[k]
			if f, ok := wv.(float64); ok {
				if float(t, gv) != f {
					t.Errorf("row %d %s = %v; want %v", i, k, gv, f)
				}
				continue
			}
			if fmt.Sprint(gv) != fmt.Sprint(wv) {
				t.Errorf("row %d %s = %v; want %v", i, k, gv, wv)
			}
		}
	}
}

// An expression error on one event is a record error: with a dead letter
// on the processor the event goes there and the others flow on; without
// one, the pipeline stops with the event and the error named.
func TestProcessorRecordErrors(t *testing.T) {
	body := func(dir, deadLetter string) string {
		return fmt.Sprintf(`state_dir: %[1]s/state
sources:
  gen:
    type: generator
    tables: [product]
    count: 60
    rate: 0
    seed: 7
processors:
  long:
    type: filter
    inputs: [gen]
    condition: len(description) > 20
%[2]s
sinks:
  raw:
    type: file
    inputs: [gen]
    path: %[1]s/raw.jsonl
    format: row
  out:
    type: file
    inputs: [long]
    path: %[1]s/out.jsonl
    format: row
`, dir, deadLetter)
	}
	const wantErr = `condition "len(description) > 20": invalid argument for len (type <nil>) at column 1 (hint: column description is NULL in this event; guard it (description != nil && ...) or give a default (description ?? ''))`

	dir := t.TempDir()
	p := writePipeline(t, dir, body(dir, fmt.Sprintf("    dead_letter: {type: file, path: %s/dl.jsonl}", dir)))
	if out, err := exec.Command(bin, "run", "--progress", "never", p).CombinedOutput(); err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	var nulls, long []string
	for _, r := range readRows(t, filepath.Join(dir, "raw.jsonl")) {
		id := fmt.Sprint(r.values["id"])
		switch d := r.values["description"]; {
		case d == nil:
			nulls = append(nulls, id)
		case len(d.(string)) > 20:
			long = append(long, id)
		}
	}
	var kept []string
	for _, r := range readRows(t, filepath.Join(dir, "out.jsonl")) {
		kept = append(kept, fmt.Sprint(r.values["id"]))
	}
	var dead []string
	for _, r := range readRows(t, filepath.Join(dir, "dl.jsonl")) {
		after := r.values["after"].(map[string]any)
		if after["error"] != wantErr || after["stream"] != "gen.public.product" || after["sink"] != "long" {
			t.Errorf("dead letter %v", after)
		}
		var key struct{ ID json.Number }
		if err := json.Unmarshal([]byte(after["key"].(string)), &key); err != nil {
			t.Fatal(err)
		}
		dead = append(dead, key.ID.String())
	}
	if len(nulls) == 0 || len(long) == 0 {
		t.Fatalf("the run does not exercise both paths: %d NULL, %d long", len(nulls), len(long))
	}
	if strings.Join(kept, ",") != strings.Join(long, ",") || strings.Join(dead, ",") != strings.Join(nulls, ",") {
		t.Errorf("kept %v, dead %v; want kept %v, dead %v", kept, dead, long, nulls)
	}

	// Without a dead letter the first NULL stops the pipeline.
	dir = t.TempDir()
	p = writePipeline(t, dir, body(dir, ""))
	cmd := exec.Command(bin, "run", "--progress", "never", p)
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("exit code %d; want 1\n%s", code, out)
	}
	want := fmt.Sprintf(`processor long rejected c gen.public.product at gen %[1]s (key %[1]s): %[2]s; `, nulls[0], wantErr)
	text := strings.ReplaceAll(string(out), `\"`, `"`)
	if !strings.Contains(text, want) || !strings.Contains(text, " event(s) rejected in this batch; stopping with the checkpoint before it") {
		t.Errorf("output:\n%s\nwant it to contain:\n%s", out, want)
	}
}

// sluice validate reports every expression, regex and option problem of
// the processors at once, with the line of the key.
func TestProcessorsValidate(t *testing.T) {
	dir := t.TempDir()
	p := writePipeline(t, dir, `sources:
  gen: {type: generator, tables: [product]}
processors:
  f:
    type: filter
    inputs: [gen]
    condition: "price >"
  g:
    type: filter
    inputs: [f]
    condition: meta.ops == 'c'
    on_delete: skip
  m:
    type: map
    inputs: [g]
    set:
      total: "price * quantity"
      bad: "uper(name)"
    rename: {a: b}
    drop: [a]
  r:
    type: route
    inputs: [m]
    regex: '(a)(?=b)'
    replacement: '$1'
  r2:
    type: route
    inputs: [r]
    regex: '(a)(b)'
    replacement: '$3'
sinks:
  out: {type: stdout, inputs: [r2]}
`)
	cmd := exec.Command(bin, "validate", p)
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 2 {
		t.Fatalf("exit code %d; want 2\n%s", code, out)
	}
	want := strings.ReplaceAll(`@FILE@:7: processors.f.condition: "price >": unexpected token EOF at column 7 (hint: expressions use expr-lang syntax (https://expr-lang.org/docs/language-definition), e.g. amount > 100 && status != 'cancelled')
@FILE@:11: processors.g.condition: "meta.ops == 'c'": meta has no field "ops" at column 6 (hint: did you mean meta.op?)
@FILE@:12: processors.g.on_delete: "skip" is not a mode (hint: keep (the default), evaluate or drop)
@FILE@:18: processors.m.set.bad: "uper(name)": unknown function uper() at column 1 (hint: did you mean upper()?)
@FILE@:20: processors.m.drop: names a, which rename turns into b (hint: drop b, or remove the rename)
@FILE@:24: processors.r.regex: invalid or unsupported Perl syntax: `+"`(?=`"+` (hint: RE2 syntax (Go's regexp): as Java's, without lookahead, lookbehind or backreferences)
@FILE@:30: processors.r2.replacement: "$3" refers to group 3, but regex has 2 (hint: Java's replacement syntax: $1, ${name}, \$ for a literal $)
`, "@FILE@", p)
	if string(out) != want {
		t.Errorf("output:\n%s\nwant:\n%s", out, want)
	}
}

// Typed values through PostgreSQL: exact decimals (numeric(20,10) doubled
// keeps every digit, 10.5 is not > 10.5), time zones, an unchanged TOAST
// value that stays unchanged, and a key-only delete (REPLICA IDENTITY
// DEFAULT) mapped without errors.
func TestProcessorsPostgres(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	db := pgtest.Connect(t, dsn)
	ctx := context.Background()
	exec := func(qs ...string) {
		t.Helper()
		for _, q := range qs {
			if _, err := db.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
	}
	exec(`CREATE TABLE items (id int PRIMARY KEY, price numeric(20,10) NOT NULL, at timestamptz NOT NULL, note text)`,
		`INSERT INTO items VALUES
			(1, 12.3456789012, '2024-01-01 00:00:00.123456+00', (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 400) i)),
			(2, 10.5, '2024-06-30 23:00:00+00', 'short'),
			(3, 99999999.9999999999, '1999-12-31 23:59:59.999999+00', NULL)`)
	dir := t.TempDir()
	p := writePipeline(t, dir, fmt.Sprintf(`state_dir: %[1]s/state
sources:
  shop:
    type: postgres
    dsn: ${ITEMS_DSN}
    tables: [public.items]
processors:
  dear:
    type: filter
    inputs: [shop]
    condition: price > 10.5
  shape:
    type: map
    inputs: [dear]
    set:
      price: price * 2
      kolkata: "at.In(timezone('Asia/Kolkata')).Format('2006-01-02T15:04:05.999999Z07:00')"
      note: "note == nil ? nil : upper(note)"
      note_start: "note == nil ? nil : note[0:4]"
sinks:
  out:
    type: file
    inputs: [shape]
    path: %[1]s/out.jsonl
    format: row
    unwrap: {delete_handling: rewrite, add_fields: [op]}
`, dir))
	cmd, stderr := runSluice(t, dir, p, "ITEMS_DSN="+dsn)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("sluice's output:\n%s", stderr)
		}
	})
	waitLines(t, filepath.Join(dir, "out.jsonl"), 2, 30*time.Second)
	exec(`UPDATE items SET at = at + interval '1 hour' WHERE id = 1`, // note is not sent: unchanged TOAST
		`UPDATE items SET price = 10.4 WHERE id = 3`, // filtered out
		`DELETE FROM items WHERE id = 1`)             // the before image holds only the key
	waitLines(t, filepath.Join(dir, "out.jsonl"), 4, 30*time.Second)
	stop(t, cmd, stderr)
	got, err := os.ReadFile(filepath.Join(dir, "out.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var note strings.Builder
	for i := 1; i <= 400; i++ {
		fmt.Fprintf(&note, "%X", md5.Sum([]byte(strconv.Itoa(i))))
	}
	// Debezium's decimal bytes for numeric(20,10): the unscaled value,
	// big-endian two's complement, in base64.
	dec := func(unscaled string) string {
		n, _ := new(big.Int).SetString(unscaled, 10)
		return base64.StdEncoding.EncodeToString(n.Bytes())
	}
	want := strings.Join([]string{
		`{"id":1,"price":"` + dec("246913578024") + `","at":"2024-01-01T00:00:00.123456Z","note":"` + note.String() + `","kolkata":"2024-01-01T05:30:00.123456+05:30","note_start":"c4ca","__deleted":"false","__op":"r"}`,
		`{"id":3,"price":"` + dec("1999999999999999998") + `","at":"1999-12-31T23:59:59.999999Z","note":null,"kolkata":"2000-01-01T05:29:59.999999+05:30","note_start":null,"__deleted":"false","__op":"r"}`,
		`{"id":1,"price":"` + dec("246913578024") + `","at":"2024-01-01T01:00:00.123456Z","note":"__debezium_unavailable_value","kolkata":"2024-01-01T06:30:00.123456+05:30","note_start":"__debezium_unavailable_value","__deleted":"false","__op":"u"}`,
		`{"id":1,"price":null,"at":null,"note":null,"kolkata":null,"note_start":null,"__deleted":"true","__op":"d"}`,
	}, "\n") + "\n"
	if string(got) != want {
		t.Errorf("out.jsonl:\n%s\nwant:\n%s", got, want)
	}
}
