package config

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
)

type srcCfg struct {
	DSN       string        `yaml:"dsn"`
	Tables    []string      `yaml:"tables"`
	Slot      string        `yaml:"slot"`
	BatchSize int           `yaml:"batch_size"`
	Interval  time.Duration `yaml:"heartbeat_interval"`
}

func (c *srcCfg) Validate() []error {
	if c.DSN == "" {
		return []error{&component.FieldError{Field: "dsn", Msg: "is required", Hint: "dsn: postgres://user@host/db"}}
	}
	if strings.ContainsAny(c.Slot, " \";") {
		return []error{&component.FieldError{Field: "slot", Msg: "not a valid slot name", Hint: "use lower-case letters, digits and _"}}
	}
	for i, tb := range c.Tables {
		if strings.Contains(tb, " ") {
			return []error{&component.FieldError{Field: "tables[" + strconv.Itoa(i) + "]", Msg: "not a table name"}}
		}
	}
	return nil
}

type unwrap struct {
	DeleteHandling string `yaml:"delete_handling"`
}

type fmtOpts struct {
	Format string `yaml:"format"`
	Unwrap unwrap `yaml:"unwrap"`
}

type sinkCfg struct {
	Path    string `yaml:"path"`
	fmtOpts `yaml:",inline"`
}

func testRegistry() component.Registry {
	return component.Registry{
		Sources: map[string]component.SourceFactory{
			"postgres":  {Config: func() any { return &srcCfg{BatchSize: 100} }},
			"generator": {Config: func() any { return &srcCfg{DSN: "x"} }},
		},
		Sinks: map[string]component.SinkFactory{
			"file": {Config: func() any { return &sinkCfg{fmtOpts: fmtOpts{Format: "debezium"}} }},
		},
	}
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadGood(t *testing.T) {
	src := `state_dir: /tmp/st
sources:
  shop:
    type: postgres
    dsn: ${SHOP_DSN}
    tables: [public.product]
    batch_size: ${BATCH:-250}
    heartbeat_interval: 5s
sinks:
  out:
    type: file
    inputs: shop.public.*
    path: out/$${literal}.jsonl
    format: row
    unwrap:
      delete_handling: rewrite
`
	p, err := Load("p.yaml", []byte(src), testRegistry(), env(map[string]string{"SHOP_DSN": "postgres://u:secret@h/db"}))
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "p" || p.StateDir != "/tmp/st" {
		t.Fatalf("name %q state %q", p.Name, p.StateDir)
	}
	c := p.Sources[0].Config.(*srcCfg)
	if c.DSN != "postgres://u:secret@h/db" || c.BatchSize != 250 || c.Interval != 5*time.Second || c.Tables[0] != "public.product" {
		t.Fatalf("source config %+v", c)
	}
	s := p.Sinks[0]
	sc := s.Config.(*sinkCfg)
	if s.Inputs[0] != "shop.public.*" || sc.Path != "out/${literal}.jsonl" || sc.Format != "row" || sc.Unwrap.DeleteHandling != "rewrite" {
		t.Fatalf("sink %+v %+v", s, sc)
	}
}

func TestLoadReportsEveryError(t *testing.T) {
	src := `name: demo
sources:
  shop:
    type: postgres
    dsn: ${SHOP_DSN}
    slot: "bad slot"
    batchsize: 10
  gen:
    type: generatr
sinks:
  out:
    type: file
    inputs: [shpo]
    path: 12
    formt: row
  out2:
    type: file
    path: x
extra: 1
`
	_, err := Load("p.yaml", []byte(src), testRegistry(), env(nil))
	want := `p.yaml:5: environment variable SHOP_DSN is not set (hint: export SHOP_DSN=..., or write ${SHOP_DSN:-default})
p.yaml:7: sources.shop.batchsize: unknown key (hint: valid keys: batch_size, dsn, heartbeat_interval, slot, tables; did you mean batch_size?)
p.yaml:9: sources.gen.type: unknown type "generatr" (hint: valid types: generator, postgres; did you mean generator?)
p.yaml:13: sinks.out.inputs: input "shpo" matches no source (sources: shop) (hint: name a source, a stream like source.schema.table, or a glob)
p.yaml:15: sinks.out.formt: unknown key (hint: valid keys: format, path, unwrap; did you mean format?)
p.yaml:16: sinks.out2.inputs: a sink needs inputs (hint: e.g. inputs: [shop] or inputs: [shop.public.*])
p.yaml:19: extra: unknown top-level key (hint: valid keys: name, state_dir, engine, node_id, coordination, sources, processors, sql, sql_file, sinks)`
	if err == nil || err.Error() != want {
		t.Fatalf("got:\n%v\nwant:\n%s", err, want)
	}
}

func TestValidateErrorsPointAtTheField(t *testing.T) {
	src := `sources:
  shop:
    type: postgres
    dsn: x
    slot: "a;b"
sinks:
  o: {type: file, inputs: [shop], path: x}
`
	_, err := Load("p.yaml", []byte(src), testRegistry(), env(nil))
	want := `p.yaml:5: sources.shop.slot: not a valid slot name (hint: use lower-case letters, digits and _)`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v", err)
	}
}

// TestListElementErrorsPointAtTheElement: an error about one element of a
// list (tables[1]) is reported at that element's line, not at the
// component's name.
func TestListElementErrorsPointAtTheElement(t *testing.T) {
	src := `sources:
  shop:
    type: postgres
    dsn: x
    tables:
      - public.a
      - public b
sinks:
  o: {type: file, inputs: [shop], path: x}
`
	_, err := Load("p.yaml", []byte(src), testRegistry(), env(nil))
	want := `p.yaml:7: sources.shop.tables[1]: not a table name`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v", err)
	}
}

func TestBadValuesNeverEchoed(t *testing.T) {
	src := `sources:
  shop: {type: postgres, dsn: x, batch_size: hunter2}
sinks:
  o: {type: file, inputs: [shop], path: x}
`
	_, err := Load("p.yaml", []byte(src), testRegistry(), env(nil))
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "p.yaml:2: sources.shop.batch_size: cannot use this value: want an integer") {
		t.Fatalf("got %v", err)
	}
}

func TestYAMLSyntaxError(t *testing.T) {
	_, err := Load("p.yaml", []byte("sources:\n  a: [\n"), testRegistry(), env(nil))
	if err == nil || !strings.HasPrefix(err.Error(), "p.yaml:") || !strings.Contains(err.Error(), "YAML syntax") {
		t.Fatalf("got %v", err)
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte("sources:\n  a: {type: postgres, dsn: x}\nsinks:\n  b: {type: file, inputs: [a]}\n"))
	f.Add([]byte("sources: ${X:-y}\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("sources:\n  a:\n    type: postgres\n    tables: [${T}]\n    heartbeat_interval: 1h\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Load("f.yaml", data, testRegistry(), env(map[string]string{"X": "1"}))
		if err == nil && p == nil {
			t.Fatal("nil pipeline without error")
		}
		if err != nil && err.Error() == "" {
			t.Fatal("empty error")
		}
	})
}

func TestSinkBatchRetryDeadLetter(t *testing.T) {
	src := `sources:
  shop: {type: postgres, dsn: x}
sinks:
  out:
    type: file
    inputs: [shop]
    path: out.jsonl
    batch: {max_events: 500, max_bytes: 1048576, linger: 20ms}
    retry: {initial: 50ms, max: 10s}
    dead_letter:
      type: file
      path: dlq.jsonl
      format: row
`
	p, err := Load("p.yaml", []byte(src), testRegistry(), env(nil))
	if err != nil {
		t.Fatal(err)
	}
	s := p.Sinks[0]
	if s.Batch.MaxEvents != 500 || s.Batch.MaxBytes != 1<<20 || s.Batch.Linger != 20*time.Millisecond || s.Retry.Initial != 50*time.Millisecond || s.Retry.Max != 10*time.Second {
		t.Fatalf("batch %+v retry %+v", s.Batch, s.Retry)
	}
	dl := s.DeadLetter
	if dl == nil || dl.Name != "out-dead-letter" || dl.Type != "file" || dl.Config.(*sinkCfg).Path != "dlq.jsonl" || dl.Config.(*sinkCfg).Format != "row" {
		t.Fatalf("dead letter %+v", dl)
	}

	bad := `sources:
  shop: {type: postgres, dsn: x}
sinks:
  out:
    type: file
    inputs: [shop]
    path: out.jsonl
    batch: {max_events: -1, lingr: 1s}
    retry: {initial: 10s, max: 1s}
    dead_letter:
      type: fiel
  out2:
    type: file
    inputs: [shop]
    path: x
    dead_letter:
      type: file
      formt: row
      inputs: [shop]
`
	_, err = Load("p.yaml", []byte(bad), testRegistry(), env(nil))
	want := `p.yaml:8: sinks.out.batch.lingr: unknown key (hint: valid keys: linger, max_bytes, max_events; did you mean linger?)
p.yaml:8: sinks.out.batch: max_events, max_bytes and linger must not be negative (hint: leave a key out for its default)
p.yaml:9: sinks.out.retry: initial and max must be positive, with max ≥ initial (hint: e.g. retry: {initial: 100ms, max: 30s})
p.yaml:11: sinks.out.dead_letter.type: unknown type "fiel" (hint: valid types: file; did you mean file?)
p.yaml:18: sinks.out2.dead_letter.formt: unknown key (hint: valid keys: format, path, unwrap; did you mean format?)
p.yaml:19: sinks.out2.dead_letter.inputs: unknown key (hint: valid keys: format, path, unwrap)`
	if err == nil || err.Error() != want {
		t.Fatalf("got:\n%v\nwant:\n%s", err, want)
	}
}

func TestTemplatePlaceholdersAreNotEnvironment(t *testing.T) {
	src := `sources:
  shop: {type: postgres, dsn: x}
sinks:
  out:
    type: file
    inputs: [shop]
    path: out/${schema}_${table}/${ /id }-${SUFFIX}-$${literal}.jsonl
`
	p, err := Load("p.yaml", []byte(src), testRegistry(), env(map[string]string{"SUFFIX": "x", "table": "not-this"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Sinks[0].Config.(*sinkCfg).Path; got != "out/${schema}_${table}/${ /id }-x-${literal}.jsonl" {
		t.Fatalf("path = %q", got)
	}
}

func TestForeignStreamInputs(t *testing.T) {
	reg := testRegistry()
	reg.Sources["kafka"] = component.SourceFactory{Config: func() any { return &srcCfg{DSN: "x"} }, ForeignStreams: true}
	src := `sources:
  kin: {type: kafka}
sinks:
  out:
    type: file
    inputs: [pg.public.*]
    path: x
  typo:
    type: file
    inputs: [kni]
    path: y
`
	_, err := Load("p.yaml", []byte(src), reg, env(nil))
	want := `p.yaml:10: sinks.typo.inputs: input "kni" matches no source (sources: kin) (hint: name a source, a stream like source.schema.table, or a glob)`
	if err == nil || err.Error() != want {
		t.Fatalf("got:\n%v\nwant:\n%s", err, want)
	}
}
