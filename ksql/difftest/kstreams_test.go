package difftest

import (
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/eval"
	"github.com/sluice-dev/sluice/ksql/exec"
	"github.com/sluice-dev/sluice/ksql/exec/exectest"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/parse"
	"github.com/sluice-dev/sluice/ksql/plan"
)

var (
	casesPer = flag.Int("kstreams.cases", 40, "random input sequences per topology")
	onlySeed = flag.Int("kstreams.seed", -1, "run only this seed of each topology (with -run to pick the topology)")
	only     = flag.String("kstreams.topology", "", "run only the topologies whose name matches this regular expression")
	store    = flag.String("kstreams.store", "in_memory", "Kafka Streams' DSL store type: in_memory or rocksDB (ksqlDB's, slower)")
)

// topology is one statement and the equivalent Kafka Streams DSL topology
// (Oracle.java's spec).
type topology struct {
	name string
	// left and right say what the inputs are: "stream" or "table"; right
	// is "" for aggregations.
	left, right string
	spec        map[string]any
	// sql is the query over L (sluice stream "left") and R ("right").
	sql string
	// before, after and grace are a stream-stream join's window (ms).
	before, after, grace int64
	// span scales the generated timestamps: about the window's size.
	span int64
}

func (tp topology) ssJoin() bool { return tp.left == "stream" && tp.right == "stream" }

func (tp topology) ttJoin() bool { return tp.left == "table" && tp.right == "table" }

const ddl = `CREATE %s L (K STRING %s, V BIGINT) WITH (kafka_topic = 'left', value_format = 'json');
`

func topologies() []topology {
	var tps []topology
	// Stream-table joins.
	for _, j := range []string{"inner", "left"} {
		kw := map[string]string{"inner": "JOIN", "left": "LEFT JOIN"}[j]
		tps = append(tps, topology{name: "stream_table_" + j, left: "stream", right: "table",
			spec: map[string]any{"op": "stream_table_join", "join": j},
			sql:  "CREATE STREAM OUT AS SELECT L.K AS K, L.V AS LV, R.K IS NOT NULL AS RP, R.V AS RV FROM L " + kw + " R ON L.K = R.K EMIT CHANGES;",
			span: 20})
	}
	// Stream-stream joins: symmetric and (before, after) windows, with
	// and without grace.
	windows := []struct{ before, after, grace int64 }{{10, 10, 0}, {10, 10, 15}, {5, 20, 10}, {20, 0, 5}, {0, 0, 3}}
	for _, j := range []string{"inner", "left", "outer"} {
		for _, w := range windows {
			sel := "L.K AS K, L.V AS LV, R.K IS NOT NULL AS RP, R.V AS RV"
			kw := map[string]string{"inner": "JOIN", "left": "LEFT JOIN", "outer": "FULL OUTER JOIN"}[j]
			if j == "outer" {
				sel = "ROWKEY AS K, L.K IS NOT NULL AS LP, L.V AS LV, R.K IS NOT NULL AS RP, R.V AS RV"
			}
			within := fmt.Sprintf("WITHIN (%d MILLISECONDS, %d MILLISECONDS) GRACE PERIOD %d MILLISECONDS", w.before, w.after, w.grace)
			if w.before == w.after {
				within = fmt.Sprintf("WITHIN %d MILLISECONDS GRACE PERIOD %d MILLISECONDS", w.before, w.grace)
			}
			tps = append(tps, topology{name: fmt.Sprintf("stream_stream_%s_%d_%d_%d", j, w.before, w.after, w.grace),
				left: "stream", right: "stream",
				spec:   map[string]any{"op": "stream_stream_join", "join": j, "before_ms": w.before, "after_ms": w.after, "grace_ms": w.grace},
				sql:    "CREATE STREAM OUT AS SELECT " + sel + " FROM L " + kw + " R " + within + " ON L.K = R.K EMIT CHANGES;",
				before: w.before, after: w.after, grace: w.grace, span: w.before + w.after + w.grace + 1})
		}
	}
	// Table-table joins on the primary key.
	for _, j := range []string{"inner", "left", "outer"} {
		sel := "L.K AS K, L.V AS LV, R.K IS NOT NULL AS RP, R.V AS RV"
		kw := map[string]string{"inner": "JOIN", "left": "LEFT JOIN", "outer": "FULL OUTER JOIN"}[j]
		if j == "outer" {
			sel = "ROWKEY AS K, L.K IS NOT NULL AS LP, L.V AS LV, R.K IS NOT NULL AS RP, R.V AS RV"
		}
		tps = append(tps, topology{name: "table_table_" + j, left: "table", right: "table",
			spec: map[string]any{"op": "table_table_join", "join": j},
			sql:  "CREATE TABLE OUT AS SELECT " + sel + " FROM L " + kw + " R ON L.K = R.K EMIT CHANGES;",
			span: 20})
	}
	// Aggregations, without and with windows.
	funcs := map[string]string{"count": "COUNT(*)", "sum": "SUM(V)", "latest_by_offset": "LATEST_BY_OFFSET(V)"}
	type win struct {
		name, sql string
		spec      map[string]any
		span      int64
	}
	wins := []win{
		{"", "", nil, 20},
		{"tumbling_10_0", "WINDOW TUMBLING (SIZE 10 MILLISECONDS, GRACE PERIOD 0 MILLISECONDS) ",
			map[string]any{"type": "tumbling", "size_ms": 10, "grace_ms": 0}, 10},
		{"tumbling_10_7", "WINDOW TUMBLING (SIZE 10 MILLISECONDS, GRACE PERIOD 7 MILLISECONDS) ",
			map[string]any{"type": "tumbling", "size_ms": 10, "grace_ms": 7}, 17},
		{"hopping_20_5_10", "WINDOW HOPPING (SIZE 20 MILLISECONDS, ADVANCE BY 5 MILLISECONDS, GRACE PERIOD 10 MILLISECONDS) ",
			map[string]any{"type": "hopping", "size_ms": 20, "advance_ms": 5, "grace_ms": 10}, 30},
		{"session_5_5", "WINDOW SESSION (5 MILLISECONDS, GRACE PERIOD 5 MILLISECONDS) ",
			map[string]any{"type": "session", "size_ms": 5, "grace_ms": 5}, 10},
	}
	for _, fn := range []string{"count", "sum", "latest_by_offset"} {
		for _, w := range wins {
			name := "aggregate_" + fn
			spec := map[string]any{"op": "aggregate", "func": fn}
			if w.spec != nil {
				name += "_" + w.name
				spec["window"] = w.spec
			}
			tps = append(tps, topology{name: name, left: "stream",
				spec: spec,
				sql:  "CREATE TABLE OUT AS SELECT K, " + funcs[fn] + " AS A FROM L " + w.sql + "GROUP BY K EMIT CHANGES;",
				span: w.span})
		}
	}
	return tps
}

// rec is one generated input record.
type rec struct {
	topic string // "left" or "right"
	key   *string
	v     *int64 // the V column; nil is NULL
	tomb  bool   // a tombstone (a delete)
	ts    int64  // ms
}

func (r rec) String() string {
	k := "null"
	if r.key != nil {
		k = *r.key
	}
	v := "null"
	if r.v != nil {
		v = fmt.Sprint(*r.v)
	}
	if r.tomb {
		v = "TOMBSTONE"
	}
	return fmt.Sprintf("%s key=%s v=%s ts=%d", r.topic, k, v, r.ts)
}

// generate makes a random input sequence: repeated keys, NULL keys, NULL
// values, tombstones, and timestamps that mostly grow but jump back,
// within the grace period and beyond it.
func generate(r *rand.Rand, tp topology) []rec {
	n := 6 + r.IntN(40)
	keys := []string{"a", "b", "c", "d"}[:1+r.IntN(4)]
	span := tp.span
	var out []rec
	cur := int64(r.IntN(int(span)))
	for range n {
		var x rec
		x.topic = "left"
		if tp.right != "" && r.IntN(2) == 0 {
			x.topic = "right"
		}
		if r.IntN(100) >= 6 {
			k := keys[r.IntN(len(keys))]
			x.key = &k
		}
		if r.IntN(100) < 15 {
			// NULL column value
		} else {
			v := int64(r.IntN(10))
			x.v = &v
		}
		x.tomb = r.IntN(100) < 10
		cur += int64(r.IntN(int(span/2 + 2)))
		x.ts = cur
		switch p := r.IntN(100); {
		case p < 20: // out of order, mostly within the window
			x.ts = max(0, cur-int64(r.IntN(int(span))))
		case p < 30: // far back: late
			x.ts = max(0, cur-int64(r.IntN(int(3*span+1))))
		}
		out = append(out, x)
	}
	return out
}

// toOracle says whether Kafka Streams gets the record, and why not. See
// the package doc, "What Kafka Streams is not given".
func toOracle(tp topology, x rec, streamTime int64) bool {
	kind := tp.left
	if x.topic == "right" {
		kind = tp.right
	}
	if kind == "stream" && x.tomb {
		return false // ksqlDB's stream sources skip tombstones
	}
	if kind == "stream" && x.key == nil && tp.right != "" {
		return false // Kafka Streams 3.3 (ksqlDB 0.28) drops NULL join keys first
	}
	if tp.ssJoin() {
		look := tp.after
		if x.topic == "right" {
			look = tp.before
		}
		if x.ts+look+tp.grace < streamTime {
			return false // late: sluice drops it at the join
		}
	}
	return true
}

// edges moves each stream-stream join row that would arrive exactly at
// the edge of lateness (time + lookback + grace = stream time) one
// millisecond later, and appends a row that closes every window, so that
// every row waiting for its outer result gets it. See the package doc.
func edges(tp topology, recs []rec) []rec {
	var st int64 = -1
	for i := range recs {
		x := &recs[i]
		if x.tomb || x.key == nil {
			continue
		}
		look := tp.after
		if x.topic == "right" {
			look = tp.before
		}
		if x.ts+look+tp.grace == st {
			x.ts++
		}
		st = max(st, x.ts)
	}
	end := "zz"
	return append(recs, rec{topic: "left", key: &end, ts: st + tp.before + tp.after + tp.grace + 1})
}

// line is an output record spelled for comparison.
type line struct {
	in    int    // the input record that caused it
	key   string // the key ("null" for none)
	value string // canonical JSON
	ts    int64
	txt   string // everything
	id    string // everything but in
}

func spell(in int, key string, start, end int64, windowed bool, value string, ts int64) line {
	w := ""
	if windowed {
		w = fmt.Sprintf(" [%d,%d]", start, end)
	}
	id := fmt.Sprintf("key=%s%s value=%s ts=%d", key, w, value, ts)
	return line{in: in, key: key, value: value, ts: ts, txt: fmt.Sprintf("in=%d %s", in, id), id: id}
}

// outerOf says whether l is a stream-stream join's result for a row that
// matched nothing (one side null) and, if so, the row's side and value.
func outerOf(l line) (side, v string, ok bool) {
	var j struct{ L, R json.RawMessage }
	if json.Unmarshal([]byte(l.value), &j) != nil {
		return "", "", false
	}
	switch {
	case string(j.R) == "null" && string(j.L) != "null":
		return "L", string(j.L), true
	case string(j.L) == "null" && string(j.R) != "null":
		return "R", string(j.R), true
	}
	return "", "", false
}

// waiting says whether l is the outer result of a row that waited for its
// window to close (not the result of the input that caused it: that one
// comes at once).
func waiting(l line, recs []rec) bool {
	side, v, ok := outerOf(l)
	if !ok {
		return false
	}
	x := recs[l.in]
	self := x.topic == map[string]string{"L": "left", "R": "right"}[side] && x.ts == l.ts && x.key != nil && *x.key == l.key
	if self {
		xv := "null"
		if x.v != nil {
			xv = fmt.Sprint(*x.v)
		}
		self = v == `{"v":`+xv+`}`
	}
	return !self
}

// diffSS compares a stream-stream join's outputs. Every output but the
// waiting outer results must be the same, in the same order, caused by
// the same inputs. Each waiting outer result of Kafka Streams must be one
// of sluice's, caused by the same or an earlier input; each of sluice's
// that Kafka Streams does not have must be of a row that a later input
// matched (Kafka Streams, which had not emitted it yet, then dropped it).
// See the package doc.
func diffSS(got, want []line, recs []rec) string {
	var gj, wj []string
	var gw, ww []line
	for _, l := range got {
		if waiting(l, recs) {
			gw = append(gw, l)
		} else {
			gj = append(gj, l.txt)
		}
	}
	for _, l := range want {
		if waiting(l, recs) {
			ww = append(ww, l)
		} else {
			wj = append(wj, l.txt)
		}
	}
	if strings.Join(gj, "\n") != strings.Join(wj, "\n") {
		return "the results other than waiting outer results differ"
	}
	used := make([]bool, len(gw))
	for _, w := range ww {
		found := false
		for i, g := range gw {
			if !used[i] && g.id == w.id && g.in <= w.in {
				used[i], found = true, true
				break
			}
		}
		if !found {
			return fmt.Sprintf("sluice has no %s by input %d", w.id, w.in)
		}
	}
	for i, g := range gw {
		if used[i] {
			continue
		}
		side, v, _ := outerOf(g)
		matched := false
		for _, l := range got {
			var j map[string]json.RawMessage
			if l.in <= g.in || l.key != g.key || json.Unmarshal([]byte(l.value), &j) != nil {
				continue
			}
			other := map[string]string{"L": "R", "R": "L"}[side]
			if string(j[side]) == v && string(j[other]) != "null" && l.ts >= g.ts {
				matched = true
				break
			}
		}
		if !matched {
			return fmt.Sprintf("sluice's %s (input %d) is not in Kafka Streams' output and no later input matched its row", g.id, g.in)
		}
	}
	return ""
}

func TestKStreams(t *testing.T) {
	tps := topologies()
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			t.Fatalf("-kstreams.topology: %v", err)
		}
		tps = slices.DeleteFunc(tps, func(tp topology) bool { return !re.MatchString(tp.name) })
	}
	type run struct {
		tp   topology
		seed uint64
		recs []rec
		sent []bool
	}
	var runs []run
	var cases []oracleCase
	for _, tp := range tps {
		for i := range *casesPer {
			if *onlySeed >= 0 && i != *onlySeed {
				continue
			}
			seed := uint64(i)
			r := rand.New(rand.NewPCG(seed, 0x5eed))
			recs := generate(r, tp)
			if tp.ssJoin() {
				recs = edges(tp, recs)
			}
			c := oracleCase{spec: map[string]any{"store": *store}}
			maps.Copy(c.spec, tp.spec)
			sent := make([]bool, len(recs))
			var st int64 = -1
			for n, x := range recs {
				if !toOracle(tp, x, st) {
					continue
				}
				sent[n] = true
				if tp.ssJoin() {
					st = max(st, x.ts)
				}
				m := map[string]any{"topic": x.topic, "ts": x.ts, "n": n}
				if x.key != nil {
					m["key"] = *x.key
				} else {
					m["key"] = nil
				}
				if x.tomb {
					m["value"] = nil
				} else if x.v != nil {
					m["value"] = map[string]any{"v": *x.v}
				} else {
					m["value"] = map[string]any{"v": nil}
				}
				c.records = append(c.records, m)
			}
			cases = append(cases, c)
			runs = append(runs, run{tp, seed, recs, sent})
		}
	}
	outs := runOracle(t, cases)
	for i, ru := range runs {
		t.Run(fmt.Sprintf("%s/%d", ru.tp.name, ru.seed), func(t *testing.T) {
			want := oracleLines(ru.tp, outs[i], ru.recs)
			got := sluiceLines(t, ru.tp, ru.recs, ru.seed)
			var why string
			switch {
			case ru.tp.ssJoin() && ru.tp.spec["join"] != "inner":
				why = diffSS(got, want, ru.recs)
			case strings.Join(texts(got), "\n") != strings.Join(texts(want), "\n"):
				why = "the outputs differ"
			}
			if why == "" {
				return
			}
			var sb strings.Builder
			fmt.Fprintf(&sb, "%s\n%s\ninput (- not given to Kafka Streams):\n", why, ru.tp.sql)
			for n, x := range ru.recs {
				mark := " "
				if !ru.sent[n] {
					mark = "-"
				}
				fmt.Fprintf(&sb, "\t%s%d %s\n", mark, n, x)
			}
			fmt.Fprintf(&sb, "sluice:\n\t%s\nKafka Streams:\n\t%s", strings.Join(texts(got), "\n\t"), strings.Join(texts(want), "\n\t"))
			t.Error(sb.String())
		})
	}
}

func texts(ls []line) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.txt
	}
	return out
}

// oracleLines spells Kafka Streams' outputs, dropping what a table-table
// join forwards for a delete that changes nothing: a tombstone of a key
// the result does not hold, and the same row again after a delete of a
// key the input table did not hold (see the package doc).
func oracleLines(tp topology, outs []oracleOut, recs []rec) []line {
	var ls []line
	present := map[string]bool{}
	current := map[string]string{}
	// noop[n]: input n deletes a key its table does not hold.
	noop := make([]bool, len(recs))
	held := map[string]bool{}
	for n, x := range recs {
		if x.key == nil {
			continue
		}
		k := x.topic + "/" + *x.key
		noop[n] = x.tomb && !held[k]
		held[k] = !x.tomb
	}
	for _, o := range outs {
		key := canonJSON(o.Key)
		var start, end int64
		windowed := false
		var wk struct {
			Key        *string `json:"key"`
			Start, End int64
		}
		if len(o.Key) > 0 && o.Key[0] == '{' {
			if err := json.Unmarshal(o.Key, &wk); err == nil {
				windowed, start, end = true, wk.Start, wk.End
				key = "null"
				if wk.Key != nil {
					key = *wk.Key
				}
			}
		} else if len(o.Key) > 0 && o.Key[0] == '"' {
			_ = json.Unmarshal(o.Key, &key)
		}
		value := canonJSON(o.Value)
		if tp.ttJoin() {
			if value == "null" && !present[key] {
				continue
			}
			if o.In >= 0 && noop[o.In] && present[key] && current[key] == value {
				continue
			}
			present[key], current[key] = value != "null", value
		}
		ls = append(ls, spell(o.In, key, start, end, windowed, value, o.Ts))
	}
	return ls
}

// catalog declares the sluice streams "left" and "right": K STRING, the
// key, and V BIGINT.
func catalog() plan.MapCatalog {
	s := func(name string) plan.StreamInfo {
		return plan.StreamInfo{Schema: &event.Schema{Stream: name, Source: name, Table: name, Columns: []event.Column{
			{Name: "k", Type: event.TypeString, Key: true, Optional: true},
			{Name: "v", Type: event.TypeInt64, Optional: true}}, KeyIdx: []int{0}}}
	}
	return plan.MapCatalog{"left": s("left"), "right": s("right")}
}

type evalCompiler struct{}

func (evalCompiler) Expr(e ir.Expr) (ir.Evaluator, error)    { return eval.Compile(e) }
func (evalCompiler) Agg(a ir.AggCall) (ir.Aggregator, error) { return eval.CompileAggregate(a) }

func buildSQL(t *testing.T, tp topology) []ir.Query {
	t.Helper()
	src := fmt.Sprintf(ddl, strings.ToUpper(tp.left), keyWord(tp.left))
	if tp.right != "" {
		src += strings.ReplaceAll(strings.ReplaceAll(fmt.Sprintf(ddl, strings.ToUpper(tp.right), keyWord(tp.right)), "L (", "R ("), "'left'", "'right'")
	}
	src += tp.sql
	stmts, err := parse.Parse(src)
	if err != nil {
		t.Fatalf("%s\n%v", src, err)
	}
	p, err := plan.Build(stmts, catalog(), plan.Options{})
	if err != nil {
		t.Fatalf("%s\n%v", src, err)
	}
	var qs []ir.Query
	for _, q := range p.Queries {
		qs = append(qs, q.Query)
	}
	if len(qs) != 1 {
		t.Fatalf("%d queries", len(qs))
	}
	return qs
}

func keyWord(kind string) string {
	if kind == "table" {
		return "PRIMARY KEY"
	}
	return "KEY"
}

// sluiceLines runs the records through sluice's executor: Flush after
// random batches, and a new Executor on the same state once, as after a
// restart.
func sluiceLines(t *testing.T, tp topology, recs []rec, seed uint64) []line {
	t.Helper()
	qs := buildSQL(t, tp)
	st := exectest.NewState()
	opts := exec.Options{Compiler: evalCompiler{}}
	x, err := exec.New(qs, st, opts)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 0xf105))
	restartAt := r.IntN(len(recs) + 1)
	schemas := map[string]*event.Schema{}
	for name, info := range catalog() {
		schemas[name] = info.Schema
	}
	tables := map[string]map[string]bool{"left": {}, "right": {}}
	var ls []line
	for n, x0 := range recs {
		if n == restartAt {
			if err := x.Flush(); err != nil {
				t.Fatal(err)
			}
			if x, err = exec.New(qs, st, opts); err != nil {
				t.Fatal(err)
			}
		}
		ev := &event.Event{Schema: schemas[x0.topic], Source: event.Source{TsUs: x0.ts * 1000}}
		k := event.Null
		if x0.key != nil {
			k = event.String(*x0.key)
		}
		v := event.Null
		if x0.v != nil {
			v = event.Int(*x0.v)
		}
		seen := x0.key != nil && tables[x0.topic][*x0.key]
		switch {
		case x0.tomb:
			ev.Op, ev.Before = event.OpDelete, []event.Value{k, v}
		case seen:
			ev.Op, ev.After = event.OpUpdate, []event.Value{k, v}
		default:
			ev.Op, ev.After = event.OpCreate, []event.Value{k, v}
		}
		if x0.key != nil {
			tables[x0.topic][*x0.key] = !x0.tomb
		}
		rows, err := x.Process(x0.topic, ev, nil)
		if err != nil {
			t.Fatalf("input %d (%s): %v", n, x0, err)
		}
		for _, row := range rows {
			ls = append(ls, sluiceLine(t, tp, n, row))
		}
		if r.IntN(3) == 0 {
			if err := x.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	return ls
}

func sluiceLine(t *testing.T, tp topology, in int, row exec.Row) line {
	t.Helper()
	cols := map[string]int{}
	for i, c := range row.Schema.Columns {
		cols[c.Name] = i
	}
	get := func(name string) event.Value {
		i, ok := cols[name]
		if !ok {
			t.Fatalf("no column %s in %v", name, row.Schema.Columns)
		}
		return row.Value[i]
	}
	key := "null"
	ki := cols["K"]
	if row.Op == exec.Delete {
		for j, c := range row.Schema.Key {
			if c == ki && !row.Key[j].IsNull() {
				key = row.Key[j].Text()
			}
		}
	} else if k := get("K"); !k.IsNull() {
		key = k.Text()
	}
	value := "null"
	if row.Op != exec.Delete {
		if tp.right == "" {
			value = jsonValue(get("A"))
		} else {
			// LP and RP say whether a side is present (its key is not
			// NULL); without LP the left side always is.
			side := func(p, v string) any {
				if _, ok := cols[p]; ok && !get(p).AsBool() {
					return nil
				}
				return map[string]any{"v": jsonAny(get(v))}
			}
			b, _ := json.Marshal(map[string]any{"L": side("LP", "LV"), "R": side("RP", "RV")})
			value = string(b)
		}
	}
	return spell(in, key, row.WindowStart/1000, row.WindowEnd/1000, row.Windowed, value, row.Time/1000)
}

func jsonAny(v event.Value) any {
	if v.IsNull() {
		return nil
	}
	return v.AsInt()
}

func jsonValue(v event.Value) string {
	b, _ := json.Marshal(jsonAny(v))
	return string(b)
}
