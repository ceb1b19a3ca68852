package generator

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// t0 is the fake wall clock: the seed's first product event.
var t0 = time.UnixMilli(1641025283281)

// batch is one Emit call as the collector saw it.
type batch struct {
	events     []event.Event
	checkpoint []byte
}

// collector is an Emitter that records batches and signals when it holds
// want events.
type collector struct {
	mu      sync.Mutex
	batches []batch
	total   int
	want    int
	full    chan struct{}
}

func newCollector(want int) *collector {
	return &collector{want: want, full: make(chan struct{})}
}

func (c *collector) Emit(_ context.Context, evs []event.Event, cp []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batches = append(c.batches, batch{evs, cp})
	before := c.total
	c.total += len(evs)
	if before < c.want && c.total >= c.want {
		close(c.full)
	}
	return nil
}

func (c *collector) snapshot() []batch {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]batch(nil), c.batches...)
}

func events(bs []batch) []event.Event {
	var out []event.Event
	for _, b := range bs {
		out = append(out, b.events...)
	}
	return out
}

func testSource(t testing.TB, cfg *Config) *Source {
	t.Helper()
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatalf("config: %v", errs)
	}
	s := newSource(*cfg, component.Env{Name: "shop"})
	s.now = func() time.Time { return t0 }
	return s
}

// run runs a source with cfg (at rate 0) from checkpoint cp until it has
// emitted want events and returned (finished), and returns what it emitted. cfg.Count
// must make the source stop at exactly want events.
func run(t *testing.T, cfg *Config, cp []byte, want int) []batch {
	t.Helper()
	s := testSource(t, cfg)
	c := newCollector(want)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, cp, c) }()
	// Count reached: the source is finished and Run returns nil by itself.
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("Run did not finish within 10s; %d of %d events emitted", len(events(c.snapshot())), want)
	}
	cancel()
	bs := c.snapshot()
	if got := len(events(bs)); got != want {
		t.Fatalf("emitted %d events, want exactly %d", got, want)
	}
	return bs
}

func config(mod func(*Config)) *Config {
	c := DefaultConfig()
	c.Rate = 0
	if mod != nil {
		mod(c)
	}
	return c
}

var configs = []struct {
	name string
	cfg  func(*Config)
}{
	{"product", nil},
	{"users", func(c *Config) { c.Tables = []string{"users"} }},
	{"both", func(c *Config) { c.Tables = []string{"product", "users"} }},
	{"mixed", func(c *Config) {
		c.Tables = []string{"users", "product"}
		c.Operations = Operations{Insert: 3, Update: 2, Delete: 1}
	}},
	{"churn", func(c *Config) { c.Operations = Operations{Insert: 1, Update: 1, Delete: 2} }},
}

func TestDeterminism(t *testing.T) {
	const n = 500
	for _, tc := range configs {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(tc.cfg)
			cfg.Count, cfg.BatchSize = n, 64
			a := events(run(t, cfg, nil, n))
			b := events(run(t, cfg, nil, n))
			if !reflect.DeepEqual(a, b) {
				t.Fatal("two runs with the same seed differ")
			}
			// The batch size shapes batches, not events.
			cfg.BatchSize = 7
			if c := events(run(t, cfg, nil, n)); !reflect.DeepEqual(a, c) {
				t.Fatal("batch_size changed the events")
			}
			cfg.Seed = 2
			d := events(run(t, cfg, nil, n))
			same := 0
			for i := range a {
				if reflect.DeepEqual(a[i], d[i]) {
					same++
				}
			}
			if same > n/100 {
				t.Fatalf("seeds 1 and 2 share %d of %d rows", same, n)
			}
		})
	}
}

// TestResume crashes after every batch in turn: a restart from that batch's
// checkpoint must emit exactly the rest of the uninterrupted run.
func TestResume(t *testing.T) {
	const n = 300
	for _, tc := range configs {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(tc.cfg)
			cfg.Count, cfg.BatchSize = n, 23
			full := run(t, cfg, nil, n)
			all := events(full)
			done := 0
			for i, b := range full[:len(full)-1] {
				done += len(b.events)
				rest := events(run(t, cfg, b.checkpoint, n-done))
				if !reflect.DeepEqual(rest, all[done:]) {
					t.Fatalf("resume after batch %d (%s): continuation differs", i, b.checkpoint)
				}
			}
			// At the end, a restart produces nothing more.
			run(t, cfg, full[len(full)-1].checkpoint, 0)
		})
	}
}

func TestCheckpointFormat(t *testing.T) {
	cfg := config(func(c *Config) {
		c.Tables = []string{"product", "users"}
		c.Count, c.BatchSize, c.Seed = 5, 2, 7
	})
	bs := run(t, cfg, nil, 5)
	var got []string
	for _, b := range bs {
		got = append(got, string(b.checkpoint))
	}
	want := []string{
		`{"v":1,"seed":7,"events":2,"next_id":{"product":2,"users":2}}`,
		`{"v":1,"seed":7,"events":4,"next_id":{"product":3,"users":3}}`,
		`{"v":1,"seed":7,"events":5,"next_id":{"product":4,"users":3}}`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("checkpoints\n got %q\nwant %q", got, want)
	}
}

func TestBadCheckpoint(t *testing.T) {
	for _, cp := range []string{`{`, `{"v":2,"events":1}`} {
		s := testSource(t, config(nil))
		err := s.Run(context.Background(), []byte(cp), newCollector(0))
		if err == nil {
			t.Errorf("checkpoint %s: Run returned nil", cp)
		}
	}
}

// TestResumeChangedTables: adding a table must not make the first table
// insert ids it already emitted.
func TestResumeChangedTables(t *testing.T) {
	for _, tc := range configs {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(tc.cfg)
			cfg.Count = 40
			first := run(t, cfg, nil, 40)
			if reflect.DeepEqual(cfg.Tables, []string{"users", "product"}) {
				cfg.Tables = []string{"product", "users"}
			} else {
				cfg.Tables = []string{"users", "product"}
			}
			cfg.Count, cfg.Seed = 200, 99
			second := run(t, cfg, first[len(first)-1].checkpoint, 160)
			seen := map[string]bool{}
			for _, e := range append(events(first), events(second)...) {
				if e.Op != event.OpCreate {
					continue
				}
				k := e.Schema.Table + "/" + e.After[0].Text()
				if seen[k] {
					t.Fatalf("id %s inserted twice", k)
				}
				seen[k] = true
			}
		})
	}
}

func TestCountStopsProduction(t *testing.T) {
	cfg := config(func(c *Config) { c.Count, c.BatchSize = 25, 10 })
	bs := run(t, cfg, nil, 25)
	var sizes []int
	for _, b := range bs {
		sizes = append(sizes, len(b.events))
	}
	if !reflect.DeepEqual(sizes, []int{10, 10, 5}) {
		t.Fatalf("batch sizes %v, want [10 10 5]", sizes)
	}
}

// TestMixReferencesExistingRows replays the events into a model table:
// inserts create new ids, updates and deletes hit live rows, and every Before
// is exactly the row's current image.
func TestMixReferencesExistingRows(t *testing.T) {
	const n = 20000
	cfg := config(func(c *Config) {
		c.Tables = []string{"product", "users"}
		c.Operations = Operations{Insert: 3, Update: 2, Delete: 2}
		c.Count = n
	})
	rows := map[string]map[int64][]event.Value{"product": {}, "users": {}}
	ops := map[event.Op]int{}
	for i, e := range events(run(t, cfg, nil, n)) {
		seq := int64(i + 1)
		if e.Source.TxID != seq || !e.Source.HasTxID || e.Position != fmt.Sprintf("gen %d", seq) {
			t.Fatalf("event %d: txid %d position %q", seq, e.Source.TxID, e.Position)
		}
		if e.Source.TsMs() != t0.UnixMilli() || e.TsMs != t0.UnixMilli() || e.Source.Snapshot != event.SnapshotFalse {
			t.Fatalf("event %d: source %+v ts %d", seq, e.Source, e.TsMs)
		}
		checkImage(t, e.Schema, e.Before)
		checkImage(t, e.Schema, e.After)
		table := rows[e.Schema.Table]
		id := e.Key()[0].AsInt()
		ops[e.Op]++
		switch e.Op {
		case event.OpCreate:
			if table[id] != nil || e.Before != nil {
				t.Fatalf("event %d: insert of existing id %d", seq, id)
			}
			table[id] = e.After
		case event.OpUpdate:
			if !reflect.DeepEqual(table[id], e.Before) {
				t.Fatalf("event %d: update of %s %d: Before %v, row is %v", seq, e.Schema.Table, id, e.Before, table[id])
			}
			if !e.After[0].Equal(e.Before[0]) || !e.After[1].Equal(e.Before[1]) {
				t.Fatalf("event %d: update changed a for-life column", seq)
			}
			table[id] = e.After
		case event.OpDelete:
			if !reflect.DeepEqual(table[id], e.Before) || e.After != nil {
				t.Fatalf("event %d: delete of %s %d: Before %v, row is %v", seq, e.Schema.Table, id, e.Before, table[id])
			}
			delete(table, id)
		default:
			t.Fatalf("event %d: op %v", seq, e.Op)
		}
	}
	// 3:2:2 over 20000 events, less the updates and deletes that found an
	// empty table: each kind is well represented.
	for _, op := range []event.Op{event.OpCreate, event.OpUpdate, event.OpDelete} {
		if ops[op] < n/5 {
			t.Errorf("only %d %v events", ops[op], op)
		}
	}
}

// checkImage checks an image against its schema: length, kinds, nullability.
func checkImage(t *testing.T, s *event.Schema, img []event.Value) {
	t.Helper()
	if img == nil {
		return
	}
	if len(img) != len(s.Columns) || cap(img) != len(img) {
		t.Fatalf("%s: image len %d cap %d for %d columns", s.Stream, len(img), cap(img), len(s.Columns))
	}
	for i, c := range s.Columns {
		v := img[i]
		if v.IsNull() {
			if !c.Optional {
				t.Fatalf("%s.%s: NULL in a required column", s.Stream, c.Name)
			}
			continue
		}
		want := map[event.Type]event.Kind{
			event.TypeInt32: event.KindInt, event.TypeFloat64: event.KindFloat,
			event.TypeString: event.KindString, event.TypeTimestampTZ: event.KindInt,
		}[c.Type]
		if v.Kind != want || (v.Kind == event.KindString && (v.Str == "" || len(v.Str) > c.Length)) {
			t.Fatalf("%s.%s: value %#v", s.Stream, c.Name, v)
		}
	}
}

func TestSchema(t *testing.T) {
	cfg := config(func(c *Config) { c.Tables = []string{"product", "users"}; c.Count = 2 })
	evs := events(run(t, cfg, nil, 2))
	p, u := evs[0].Schema, evs[1].Schema
	if p.Stream != "shop.public.product" || p.Source != "shop" || p.Connector != "generator" ||
		p.Database != "generator" || p.Namespace != "public" || p.Table != "product" ||
		!reflect.DeepEqual(p.KeyIdx, []int{0}) {
		t.Errorf("product schema %+v", p)
	}
	var names []string
	for _, c := range p.Columns {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, ","); got != "id,name,price,color,category,quantity,description,internalId" {
		t.Errorf("product columns %s", got)
	}
	if c := p.Columns[p.ColumnIndex("price")]; !c.HasDefault || c.Default.AsFloat() != 0 {
		t.Errorf("price default %+v", c)
	}
	if u.Stream != "shop.public.users" || u.Columns[4].Type != event.TypeTimestampTZ {
		t.Errorf("users schema %+v", u)
	}
}

// TestRows pins the first rows of seed 1, so that a change to the word
// lists or the draws (which would change every user's data) is deliberate.
func TestRows(t *testing.T) {
	cfg := config(func(c *Config) { c.Tables = []string{"product", "users"}; c.Count = 4 })
	var got []string
	for _, e := range events(run(t, cfg, nil, 4)) {
		var vs []string
		for _, v := range e.After {
			vs = append(vs, v.Text())
		}
		got = append(got, strings.Join(vs, " | "))
	}
	want := []string{
		"1 | Portable Felt Backpack | 359.19 | indigo | Games | 39 | NULL | B0Q0E5NTIS",
		"1 | Joseph Anderson | joseph.anderson@example.org | NULL | 1704067304756807",
		"2 | Synergistic Copper Backpack | 773.48 | orange | Health | 5 | Enim aute cillum quis! | B0412I604P",
		"2 | Richard Novak | richard.novak@example.com | 6581 Highland Road, Newport | 1704067379050093",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rows\n%s", strings.Join(got, "\n"))
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mod    func(*Config)
		fields []string
	}{
		{"defaults", func(*Config) {}, nil},
		{"no tables", func(c *Config) { c.Tables = nil }, []string{"tables"}},
		{"unknown table", func(c *Config) { c.Tables = []string{"product", "orders"} }, []string{"tables"}},
		{"duplicate table", func(c *Config) { c.Tables = []string{"users", "users"} }, []string{"tables"}},
		{"negative rate", func(c *Config) { c.Rate = -1 }, []string{"rate"}},
		{"negative count", func(c *Config) { c.Count = -5 }, []string{"count"}},
		{"zero batch", func(c *Config) { c.BatchSize = 0 }, []string{"batch_size"}},
		{"huge batch", func(c *Config) { c.BatchSize = 2_000_000 }, []string{"batch_size"}},
		{"no inserts", func(c *Config) { c.Operations = Operations{Update: 1} }, []string{"operations.insert"}},
		{"negative weight", func(c *Config) { c.Operations.Delete = -1 }, []string{"operations.delete"}},
		{"huge weight", func(c *Config) { c.Operations.Update = 1 << 30 }, []string{"operations"}},
		{"several", func(c *Config) { c.Rate, c.BatchSize = -2, -1 }, []string{"rate", "batch_size"}},
		{"rate 0 and mixes are fine", func(c *Config) {
			c.Rate, c.Count, c.Seed = 0, 10, -3
			c.Operations = Operations{Insert: 1, Update: 5, Delete: 5}
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.mod(cfg)
			var fields []string
			for _, err := range cfg.Validate() {
				fe, ok := err.(*component.FieldError)
				if !ok || fe.Msg == "" || fe.Hint == "" {
					t.Fatalf("error %#v is not a *FieldError with a message and a hint", err)
				}
				fields = append(fields, fe.Field)
			}
			if !reflect.DeepEqual(fields, tc.fields) {
				t.Fatalf("errors in %v, want %v", fields, tc.fields)
			}
		})
	}
}

func TestFactory(t *testing.T) {
	if _, err := Factory.New(&Config{}, component.Env{}); err == nil {
		t.Error("New accepted an invalid config")
	}
	if _, err := Factory.New(Config{}, component.Env{}); err == nil {
		t.Error("New accepted a non-pointer config")
	}
	src, err := Factory.New(Factory.Config(), component.Env{Name: "g"})
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Committed(context.Background(), []byte("x")); err != nil {
		t.Error(err)
	}
	if err := src.Close(); err != nil {
		t.Error(err)
	}
}

// stoppingEmitter reports that the pipeline is stopping.
type stoppingEmitter struct{}

func (stoppingEmitter) Emit(context.Context, []event.Event, []byte) error {
	return component.ErrStopped
}

func TestEmitStopped(t *testing.T) {
	for _, rate := range []float64{0, 5} {
		s := testSource(t, config(func(c *Config) { c.Rate = rate }))
		if err := s.Run(context.Background(), nil, stoppingEmitter{}); err != nil {
			t.Errorf("rate %v: Run returned %v on ErrStopped, want nil", rate, err)
		}
	}
}

// TestDocExample loads the pipeline snippet of the package documentation.
func TestDocExample(t *testing.T) {
	src, err := os.ReadFile("source.go")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(src), "// A pipeline file:\n//\n")
	snippet, _, ok2 := strings.Cut(after, "\n//\n")
	if !ok || !ok2 {
		t.Fatal("no pipeline snippet in the package doc")
	}
	snippet = strings.ReplaceAll(snippet, "//\t", "")
	var file struct {
		Sources map[string]yaml.Node `yaml:"sources"`
	}
	if err := yaml.Unmarshal([]byte(snippet), &file); err != nil {
		t.Fatalf("%v in\n%s", err, snippet)
	}
	node := file.Sources["shop"]
	if node.Kind != yaml.MappingNode {
		t.Fatalf("no source shop in\n%s", snippet)
	}
	// Drop type:, which the pipeline loader consumes.
	for i := 0; i < len(node.Content); i += 2 {
		if node.Content[i].Value == "type" {
			if node.Content[i+1].Value != "generator" {
				t.Fatalf("type %s", node.Content[i+1].Value)
			}
			node.Content = append(node.Content[:i], node.Content[i+2:]...)
			break
		}
	}
	out, err := yaml.Marshal(&node)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(out))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		t.Fatal(err)
	}
	if errs := cfg.Validate(); len(errs) > 0 {
		t.Fatal(errs)
	}
	want := &Config{
		Tables: []string{"product", "users"}, Rate: 100, Seed: 7, BatchSize: 1000,
		Operations: Operations{Insert: 6, Update: 3, Delete: 1},
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("doc example decodes to %+v", cfg)
	}
}
