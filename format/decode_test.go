package format

import (
	"bytes"
	"errors"
	"os"
	"reflect"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

func encoder(t testing.TB, f string) Encoder {
	t.Helper()
	o := DefaultOptions()
	o.Format = f
	// Truncates too: the decoder reads what Debezium writes with
	// skipped.operations=none.
	o.SkippedOperations = new("none")
	enc, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// Every event the encoder writes decodes into an event that encodes to the
// same bytes, key and value, with and without the schema part.
func TestRoundTripAllTypes(t *testing.T) {
	for _, f := range []string{DebeziumSchema, Debezium} {
		enc := encoder(t, f)
		dec := NewDecoder()
		for _, ne := range allTypesEvents() {
			val, ok, err := enc.AppendValue(nil, ne.e)
			if err != nil || !ok {
				t.Fatalf("%s %s: encode: %v", f, ne.name, err)
			}
			key := enc.AppendKey(nil, ne.e)
			got, err := dec.Decode("topic", key, val)
			if err != nil {
				t.Fatalf("%s %s: decode: %v\n%s", f, ne.name, err, val)
			}
			val2, _, err := enc.AppendValue(nil, &got)
			if err != nil {
				t.Fatalf("%s %s: re-encode: %v", f, ne.name, err)
			}
			if !bytes.Equal(val, val2) {
				t.Errorf("%s %s: value differs after the round trip\n got %s\nwant %s", f, ne.name, val2, val)
			}
			if key2 := enc.AppendKey(nil, &got); !bytes.Equal(key, key2) {
				t.Errorf("%s %s: key differs\n got %s\nwant %s", f, ne.name, key2, key)
			}
			if got.Schema.Stream != "pg.public.all_types" || got.Op != ne.e.Op || got.Source != ne.e.Source || got.TsMs != ne.e.TsMs {
				t.Errorf("%s %s: metadata: stream %q op %c source %+v ts %d", f, ne.name, got.Schema.Stream, got.Op, got.Source, got.TsMs)
			}
		}
	}
}

// With the schema part, typical values come back exactly, with their types.
func TestDecodeTypedValues(t *testing.T) {
	e := allTypesEvents()[0].e
	enc := encoder(t, DebeziumSchema)
	val, _, _ := enc.AppendValue(nil, e)
	got, err := NewDecoder().Decode("t", enc.AppendKey(nil, e), val)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range got.Schema.Columns {
		want := allTypes.Columns[i]
		if c.Name != want.Name || c.Type != want.Type && !(want.Type == event.TypeMoney && c.Type == event.TypeDecimal) &&
			!(want.Type == event.TypeInet || want.Type == event.TypeUnknown) {
			t.Errorf("column %d: %s %s, want %s %s", i, c.Name, c.Type, want.Name, want.Type)
		}
		w := e.After[i]
		switch c.Name { // what the encoding normalises
		case "numv": // VariableScaleDecimal drops trailing zeros
			w = event.Decimal("3.1415926535897932384626433832795028841971693993751")
		case "tm3", "ts3": // millisecond types
			w = event.Int(w.AsInt() / 1000 * 1000)
		case "tmtz": // ZonedTime's shortest fraction
			w = event.String("10:15:30.5Z")
		case "nums": // Decimal at the column's scale
			w = event.Array([]event.Value{event.Decimal("1.500"), event.Decimal("-0.001")})
		}
		if !got.After[i].Equal(w) {
			t.Errorf("column %s: %#v, want %#v", c.Name, got.After[i], w)
		}
	}
	if !reflect.DeepEqual(got.Schema.KeyIdx, []int{0}) || !got.Schema.Columns[0].Key {
		t.Errorf("key %v", got.Schema.KeyIdx)
	}
	if c := got.Schema.Columns[7]; c.Precision != 10 || c.Scale != 2 || !c.HasDefault || c.Default.Str != "1.50" {
		t.Errorf("numeric column %+v", c)
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/connect/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(b)
}

// Messages Debezium 2.7 wrote (captured by package format's tests).
func TestDecodeDebezium27(t *testing.T) {
	dec := NewDecoder()
	val := readFile(t, "debezium273-schema-value.json")
	got, err := dec.Decode("postgres_server.connect_test_db.public.source_table", nil, val)
	if err != nil {
		t.Fatal(err)
	}
	want := &event.Schema{
		Stream: "postgres_server.connect_test_db.public.source_table", Source: "postgres_server.connect_test_db",
		Connector: "postgresql", Database: "connect_test_db", Namespace: "public", Table: "source_table", Version: 1,
		Columns: []event.Column{
			{Name: "id", Type: event.TypeInt32, Default: event.Int(0), HasDefault: true},
			{Name: "name", Type: event.TypeString, Optional: true},
		},
	}
	if !reflect.DeepEqual(got.Schema, want) {
		t.Errorf("schema\n got %+v\nwant %+v", got.Schema, want)
	}
	wantSrc := event.Source{TsUs: 1756284839282000, TxID: 780, HasTxID: true, LSN: 26863936, LastCommitLSN: 26863880, HasLSN: true}
	if got.Op != event.OpCreate || got.Source != wantSrc || got.TsMs != 1756284839610 || got.Before != nil ||
		!reflect.DeepEqual(got.After, []event.Value{event.Int(8), event.String("test1")}) {
		t.Errorf("event %+v", got)
	}
	if out, _, _ := encoder(t, DebeziumSchema).AppendValue(nil, &got); !bytes.Equal(out, val) {
		t.Errorf("re-encoded\n%s\nwant\n%s", out, val)
	}

	val = readFile(t, "debezium271-value.json")
	got, err = dec.Decode("pg.public.persons", readFile(t, "debezium271-schema-key.json"), val)
	if err != nil {
		t.Fatal(err)
	}
	want = &event.Schema{
		Stream: "pg.public.persons", Source: "pg", Connector: "postgresql", Database: "testdb", Namespace: "public", Table: "persons", Version: 1,
		Columns: []event.Column{
			{Name: "id", Type: event.TypeInt64, Optional: true, Key: true},
			{Name: "name", Type: event.TypeString, Optional: true},
			{Name: "age", Type: event.TypeInt64, Optional: true},
		},
		KeyIdx: []int{0},
	}
	if !reflect.DeepEqual(got.Schema, want) {
		t.Errorf("schema\n got %+v\nwant %+v", got.Schema, want)
	}
	wantSrc = event.Source{TsUs: 1764099880079000, Snapshot: event.SnapshotLast, TxID: 490, HasTxID: true, LSN: 23043592, HasLSN: true}
	if got.Op != event.OpRead || got.Source != wantSrc || !reflect.DeepEqual(got.After, []event.Value{event.Int(1), event.String("John"), event.Int(30)}) {
		t.Errorf("event %+v", got)
	}
	if out, _, _ := encoder(t, Debezium).AppendValue(nil, &got); !bytes.Equal(out, val) {
		t.Errorf("re-encoded\n%s\nwant\n%s", out, val)
	}
}

// Seed 001's message, Debezium 1.7.1 with schemas, pretty-printed.
func TestDecodeDebezium17Seed001(t *testing.T) {
	got, err := NewDecoder().Decode("fulfillment.public.product", nil, readFile(t, "debezium171-seed001-schema-value.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []event.Value{event.Int(132), event.String("Incredible Iron Pants"), event.Float(0.61987811851418), event.String("violet"),
		event.String("Tools"), event.Int(41), event.String("?"), event.String("B0009PC1XA")}
	if got.Schema.Stream != "fulfillment.public.product" || !reflect.DeepEqual(got.After, want) || got.Schema.Columns[2].Type != event.TypeFloat64 {
		t.Errorf("got %+v %+v", got.Schema, got.After)
	}
}

func TestDecodeSharesSchemas(t *testing.T) {
	dec := NewDecoder()
	enc := encoder(t, DebeziumSchema)
	e := allTypesEvents()[0].e
	val, _, _ := enc.AppendValue(nil, e)
	a, _ := dec.Decode("t", nil, val)
	b, _ := dec.Decode("t", nil, val)
	if a.Schema != b.Schema {
		t.Error("same shape decoded into two schemas")
	}
}

func TestDecodeErrors(t *testing.T) {
	dec := NewDecoder()
	for _, v := range []string{"", "null", `{"schema":{"type":"struct"},"payload":null}`} {
		if _, err := dec.Decode("t", nil, []byte(v)); !errors.Is(err, ErrTombstone) {
			t.Errorf("%q: %v, want tombstone", v, err)
		}
	}
	for v, want := range map[string]string{
		`not json`:                          "value is not a JSON object",
		`{"id":1,"name":"row format"}`:      `no "op"`,
		`{"op":"x","after":{}}`:             `unknown op "x"`,
		`{"op":"c","after":[1]}`:            "after: want a JSON object",
		`{"op":"c","after":{"a":1,"a":2}}`:  `duplicate member "a"`,
		`{"op":"c","source":{"ts_ms":"x"}}`: "source",
		`{"schema":{"type":"struct","name":"x.Envelope","fields":[{"type":"struct","field":"after","fields":[{"type":"int32","field":"id"}]}]},"payload":{"op":"c","after":{"id":"x"}}}`:                                                               `column "id": want an integer`,
		`{"schema":{"type":"struct","fields":[{"type":"struct","field":"after","fields":[{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"99999999"},"field":"d"}]}]},"payload":{"op":"c","after":{"d":"AA=="}}}`: "Decimal scale",
	} {
		_, err := dec.Decode("t", nil, []byte(v))
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Errorf("%s: error %v, want %q", v, err, want)
		}
	}
}

func TestUnscaledText(t *testing.T) {
	for _, tc := range []struct {
		b     []byte
		scale int
		want  string
	}{
		{[]byte{0x04, 0xe2}, 2, "12.50"},
		{[]byte{0xfb, 0x1e}, 2, "-12.50"},
		{[]byte{0x00}, 2, "0.00"},
		{[]byte{0xff}, 3, "-0.001"},
		{[]byte{0x05}, -2, "500"},
		{nil, 0, "0"},
	} {
		if got := unscaledText(tc.b, tc.scale); got != tc.want {
			t.Errorf("%x scale %d: %s, want %s", tc.b, tc.scale, got, tc.want)
		}
	}
}

// A NULL timestamptz (ZonedTimestamp) says nothing about the column's
// precision: the row shares the schema of the rows before it instead of
// getting a new one (whose version would alternate with every NULL), and
// so does an unchanged TOAST placeholder.
func TestDecodeNullZonedTimestampKeepsSchema(t *testing.T) {
	sc := &event.Schema{Stream: "pg.public.t", Source: "pg", Connector: "postgresql", Namespace: "public", Table: "t", Version: 1,
		Columns: []event.Column{{Name: "id", Type: event.TypeInt64, Key: true}, {Name: "at", Type: event.TypeTimestampTZ, Optional: true, Precision: 3}},
		KeyIdx:  []int{0}}
	enc := encoder(t, DebeziumSchema)
	dec := NewDecoder()
	var got []*event.Schema
	for i, v := range []event.Value{event.Int(1704067200123000), event.Null, event.Unchanged, event.Int(1704067200456000)} {
		e := &event.Event{Op: event.OpCreate, Schema: sc, After: []event.Value{event.Int(int64(i)), v}, Source: event.Source{TsUs: 1000}}
		val, _, err := enc.AppendValue(nil, e)
		if err != nil {
			t.Fatal(err)
		}
		d, err := dec.Decode("t", enc.AppendKey(nil, e), val)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, d.Schema)
	}
	for i, s := range got {
		if s != got[0] || s.Columns[1].Precision != 3 {
			t.Errorf("row %d: schema version %d, precision %d; want row 0's schema (version %d), precision 3", i, s.Version, s.Columns[1].Precision, got[0].Version)
		}
	}
}

// TestDecodeStreamFromTopic: with StreamFromTopic a message's stream is
// the topic it came from (a sink connector's ${topic}), with or without a
// schema part and when two topics carry the same shape; the other names
// still come from the source block.
func TestDecodeStreamFromTopic(t *testing.T) {
	withSchema := readFile(t, "debezium171-seed001-schema-value.json")
	plain := []byte(`{"before":null,"after":{"id":1,"name":"a"},"source":{"name":"pg","connector":"postgresql","db":"d","schema":"public","table":"t"},"op":"c","ts_ms":1}`)
	for _, sd := range []struct {
		name  string
		value []byte
		table string
	}{{"schema", withSchema, "product"}, {"plain", plain, "t"}} {
		dec := NewDecoder()
		dec.StreamFromTopic = true
		for _, topic := range []string{"P_product", "renamed", "P_product"} {
			got, err := dec.Decode(topic, nil, sd.value)
			if err != nil {
				t.Fatal(err)
			}
			if got.Schema.Stream != topic || got.Schema.Table != sd.table || got.Schema.Namespace != "public" {
				t.Errorf("%s, topic %s: stream %q table %q namespace %q", sd.name, topic, got.Schema.Stream, got.Schema.Table, got.Schema.Namespace)
			}
		}
		got, err := NewDecoder().Decode("P_product", nil, sd.value)
		if err != nil || got.Schema.Stream == "P_product" {
			t.Errorf("%s without StreamFromTopic: stream %q %v, want the envelope's", sd.name, got.Schema.Stream, err)
		}
	}
}

// TestDecodeRowEventWithoutAfter: a read, create or update without its
// row is not a Debezium event (FuzzDecodeConnect found one that decoded
// into an event of one column and no image).
func TestDecodeRowEventWithoutAfter(t *testing.T) {
	for _, op := range []string{"r", "c", "u"} {
		v := `{"schema":{"type":"struct","fields":[{"type":"struct","fields":[{"type":"string","field":"a"}],"field":"after"}]},"payload":{"op":"` + op + `"}}`
		if _, err := NewDecoder().Decode("t", nil, []byte(v)); err == nil || err.Error() != `a "`+op+`" event without "after"` {
			t.Errorf("%s: %v", op, err)
		}
	}
}
