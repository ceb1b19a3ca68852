package streamsql_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/exec/exectest"
	"github.com/sluice-dev/sluice/processor/streamsql"
	"github.com/sluice-dev/sluice/registry"
)

func load(t *testing.T, dir, yaml string) error {
	t.Helper()
	p := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := config.LoadFile(p, registry.Default(), func(string) (string, bool) { return "", false })
	return err
}

// Errors in statements point at their line and column in the pipeline
// file (a block scalar's text starts on the line after sql: |, at its
// indentation) or in the sql_file, with ksqlDB-style hints.
func TestErrorsPointIntoTheFile(t *testing.T) {
	dir := t.TempDir()
	err := load(t, dir, `sources:
  gen:
    type: generator
    tables: [product]
sql: |
  CREATE STREAM products WITH (kafka_topic = 'gen.public.product');
  CREATE STREAM cheap AS SELECT id, nmae FROM products EMIT CHANGES;
  CREATE STREAM x WITH (kafka_topic = 'gen.public.prodcut');
  CREATE STREAM y AS SELECT UCASEE(name) FROM products EMIT CHANGES;
sinks:
  out:
    type: stdout
    inputs: [cheap]
`)
	want := dir + `/p.yaml:7:37: unknown column NMAE`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v\nwant a line starting %s", err, want)
	}
	for _, w := range []string{
		dir + "/p.yaml:8:39: unknown sluice stream 'gen.public.prodcut' (did you mean gen.public.product?)",
		dir + "/p.yaml:9:29: unknown function UCASEE",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("got %v\nwant a line starting %s", err, w)
		}
	}

	if err := os.WriteFile(filepath.Join(dir, "q.sql"), []byte("CREATE STREAM products WITH (kafka_topic = 'gen.public.product');\n\nSELECT FROM;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = load(t, dir, `sources:
  gen:
    type: generator
sql_file: q.sql
sinks:
  out:
    type: stdout
    inputs: [gen]
`)
	if err == nil || !strings.HasPrefix(err.Error(), dir+"/q.sql:3:8: ") {
		t.Fatalf("got %v, want an error at q.sql:3:8", err)
	}

	err = load(t, dir, `sources:
  gen:
    type: generator
sql: "CREATE STREAM products WITH (kafka_topic = 'gen.public.product');"
sql_file: q.sql
sinks:
  out:
    type: stdout
    inputs: [gen]
`)
	if err == nil || !strings.Contains(err.Error(), "p.yaml:5: sql_file: sql: and sql_file: exclude each other") {
		t.Fatalf("got %v", err)
	}
}

// A valid file loads, and its query's result is a stream sinks select.
func TestLoads(t *testing.T) {
	err := load(t, t.TempDir(), `sources:
  gen:
    type: generator
sql: |
  CREATE STREAM products WITH (kafka_topic = 'gen.public.product');
  CREATE STREAM cheap AS SELECT id, name FROM products WHERE price < 10 EMIT CHANGES;
sinks:
  out:
    type: stdout
    inputs: [CHEAP]
`)
	if err != nil {
		t.Fatal(err)
	}
}

var (
	ordersSchema    = &event.Schema{Stream: "db.shop.orders", Source: "db", Version: 1, Columns: []event.Column{{Name: "id", Type: event.TypeInt64, Key: true}, {Name: "customer", Type: event.TypeString}, {Name: "amount", Type: event.TypeFloat64}}, KeyIdx: []int{0}}
	customersSchema = &event.Schema{Stream: "db.shop.customers", Source: "db", Version: 1, Columns: []event.Column{{Name: "id", Type: event.TypeString, Key: true}, {Name: "name", Type: event.TypeString}}, KeyIdx: []int{0}}
)

const joinSQL = `CREATE STREAM orders WITH (kafka_topic = 'db.shop.orders');
CREATE TABLE customers WITH (kafka_topic = 'db.shop.customers');
CREATE STREAM named AS SELECT o.customer, o.id, o.amount, c.name FROM orders o LEFT JOIN customers c ON o.customer = c.id EMIT CHANGES;
CREATE TABLE totals AS SELECT customer, SUM(amount) AS total, COUNT(*) AS n FROM orders GROUP BY customer EMIT CHANGES;
`

func newProc(t *testing.T, st component.State, stateDir string) *streamsql.Processor {
	t.Helper()
	cfg := streamsql.DefaultConfig()
	cfg.Statements = joinSQL
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	if errs := cfg.CheckInputs(component.InputStreams{Sources: []string{"db"}}); len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	p, err := streamsql.New(cfg, component.Env{Name: "sql", State: st, StateDir: stateDir})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func order(id int64, customer string, amount float64) event.Event {
	return event.Event{Schema: ordersSchema, Op: event.OpCreate, After: []event.Value{event.Int(id), event.String(customer), event.Float(amount)}}
}

func customer(id, name string) event.Event {
	return event.Event{Schema: customersSchema, Op: event.OpCreate, After: []event.Value{event.String(id), event.String(name)}}
}

func show(evs []event.Event) []string {
	var out []string
	for _, e := range evs {
		img := e.After
		if img == nil {
			img = e.Before
		}
		var vals []string
		for _, v := range img {
			vals = append(vals, v.Text())
		}
		v, _ := e.Version()
		out = append(out, fmt.Sprintf("%s %c %s v%d", e.Schema.Stream, e.Op, strings.Join(vals, ","), v&(1<<40-1)))
	}
	return out
}

func same(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\ngot:\n%s\nwant:\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Orders that arrive before the customers' stream has told its schema
// wait in the state, across a restart, and join once it has: the first
// customer event runs them through the queries in their order.
func TestInputsWaitForSchemas(t *testing.T) {
	st := exectest.NewState()
	dir := t.TempDir()
	p := newProc(t, st, dir)
	out, err := p.Process(context.Background(), []event.Event{order(1, "a", 5), order(2, "b", 7)}, nil)
	if err != nil || len(out) != 0 {
		t.Fatalf("before the customers' schema: %v %v", show(out), err)
	}
	if g := p.Gauges(); g[3].Name != "sluice_sql_waiting_inputs" || g[3].Value != 2 {
		t.Errorf("gauges: %+v", g)
	}
	// A restart keeps what waits (the state is the same).
	p = newProc(t, st, dir)
	out, err = p.Process(context.Background(), []event.Event{customer("a", "ann"), order(3, "a", 1.5)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "once every schema is known", show(out), []string{
		"NAMED c a,1,5,NULL v1", // the customers' row came after orders 1 and 2
		"TOTALS u a,5,1 v2",
		"NAMED c b,2,7,NULL v3",
		"TOTALS u b,7,1 v4",
		"NAMED c a,3,1.5,ann v5",
		"TOTALS u a,6.5,2 v6",
	})
	if g := p.Gauges(); g[3].Value != 0 {
		t.Errorf("waiting after the start: %v", g[3].Value)
	}
	// The next run's versions are above this one's.
	v1, _ := out[0].Version()
	p = newProc(t, st, dir)
	out, err = p.Process(context.Background(), []event.Event{order(4, "a", 1)}, nil)
	if err != nil || len(out) != 2 {
		t.Fatalf("%v %v", show(out), err)
	}
	if v2, _ := out[0].Version(); v2 <= v1 {
		t.Errorf("a later run's version %d is not above %d", v2, v1)
	}
	same(t, "after a restart", show(out), []string{"NAMED c a,4,1,ann v1", "TOTALS u a,7.5,3 v2"})
}
