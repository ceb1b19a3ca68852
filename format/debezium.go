package format

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/sluice-dev/sluice/event"
)

// tableCodec is everything precomputed for one *event.Schema.
type tableCodec struct {
	schema *event.Schema
	cols   []*colCodec
	keys   []*colCodec // key columns, in key order
	// snapCols and snapKeys replace cols and keys for snapshot rows of a
	// connector that encodes them differently (MySQL TIMESTAMP(fsp)); nil
	// when they would be the same.
	snapCols, snapKeys []*colCodec
	src                sourceBlock
	// srcCached: src keeps its own cache of the block's text around what
	// differs from change to change (postgresSource: the LSN,
	// mysqlSource: the row), where the encoder's cache of the last whole
	// block (debeziumEncoder.last) would miss and copy every time.
	srcCached bool
	// envelope is `{"schema":<Envelope schema>,"payload":`, built only for
	// debezium+schema.
	envelope []byte
	// keyEnvelope is `{"schema":<Key schema>,"payload":`, likewise.
	keyEnvelope []byte
	// mongo holds the MongoDB connector's encodings (mongo.go); nil for
	// other connectors.
	mongo *mongoCodec
}

func newTableCodec(s *event.Schema, withSchema bool) (*tableCodec, error) {
	t := &tableCodec{schema: s, src: newSourceBlock(s)}
	switch t.src.(type) {
	case *postgresSource, *mysqlSource:
		t.srcCached = true
	}
	if s.Connector == "mongodb" {
		t.mongo = newMongoCodec(s)
	}
	t.cols = make([]*colCodec, len(s.Columns))
	for i := range s.Columns {
		col := &s.Columns[i]
		if s.Connector == "mysql" {
			t.cols[i] = newMySQLColCodec(col, false)
			if mysqlSnapshotDiffers(col) {
				if t.snapCols == nil {
					t.snapCols = make([]*colCodec, len(s.Columns))
				}
				t.snapCols[i] = newMySQLColCodec(col, true)
			}
		}
		if t.cols[i] == nil {
			t.cols[i] = newColCodec(col, false, nil)
		}
	}
	if t.snapCols != nil {
		for i, c := range t.snapCols {
			if c == nil {
				t.snapCols[i] = t.cols[i]
			}
		}
	}
	for _, k := range s.KeyIdx {
		if k < 0 || k >= len(t.cols) {
			return nil, fmt.Errorf("format: schema of %s: key index %d out of range", s.Stream, k)
		}
		t.keys = append(t.keys, t.cols[k])
		if t.snapCols != nil {
			t.snapKeys = append(t.snapKeys, t.snapCols[k])
		}
	}
	if withSchema {
		t.envelope = t.appendEnvelopeSchema([]byte(`{"schema":`))
		t.envelope = append(t.envelope, `,"payload":`...)
		if len(t.keys) > 0 {
			k := []byte(`{"schema":{"type":"struct","fields":[`)
			for i, c := range t.keys {
				if i > 0 {
					k = append(k, ',')
				}
				k = c.appendFieldSchema(k)
			}
			k = append(k, `],"optional":false,"name":`...)
			k = appendString(k, s.Stream+".Key")
			t.keyEnvelope = append(k, `},"payload":`...)
		}
	}
	return t, nil
}

// appendEnvelopeSchema writes the Envelope struct schema in the field order
// of Debezium 2.7 (before, after, source, transaction, op, ts_ms, ts_us,
// ts_ns; Envelope schema version 2).
func (t *tableCodec) appendEnvelopeSchema(dst []byte) []byte {
	dst = append(dst, `{"type":"struct","fields":[`...)
	for _, f := range [...]string{"before", "after"} {
		dst = append(dst, `{"type":"struct","fields":[`...)
		for i, c := range t.cols {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = c.appendFieldSchema(dst)
		}
		dst = append(dst, `],"optional":true,"name":`...)
		dst = appendString(dst, t.schema.Stream+".Value")
		dst = append(dst, `,"field":"`...)
		dst = append(dst, f...)
		dst = append(dst, `"},`...)
	}
	dst = append(dst, t.src.schema()...)
	dst = append(dst, `,{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"},{"type":"int64","optional":false,"field":"total_order"},{"type":"int64","optional":false,"field":"data_collection_order"}],"optional":true,"name":"event.block","version":1,"field":"transaction"}`...)
	dst = append(dst, `,{"type":"string","optional":false,"field":"op"},{"type":"int64","optional":true,"field":"ts_ms"},{"type":"int64","optional":true,"field":"ts_us"},{"type":"int64","optional":true,"field":"ts_ns"}],"optional":false,"name":`...)
	dst = appendString(dst, t.schema.Stream+".Envelope")
	return append(dst, `,"version":2}`...)
}

// appendRow writes an image as a JSON object of the columns, or null when
// the image is absent. With replaceNull, a NULL in a column with a default
// is written as the default, as JsonConverter does (replace.null.with.default).
func (t *tableCodec) appendRow(dst []byte, cols []*colCodec, img []event.Value, replaceNull bool) ([]byte, error) {
	if img == nil {
		return append(dst, "null"...), nil
	}
	dst = append(dst, '{')
	dst, err := t.appendMembers(dst, cols, img, replaceNull)
	if err != nil {
		return dst, err
	}
	return append(dst, '}'), nil
}

// colsFor returns the column codecs for e's images and key.
func (t *tableCodec) colsFor(e *event.Event) (cols, keys []*colCodec) {
	if t.snapCols != nil && e.Source.Snapshot != event.SnapshotFalse {
		return t.snapCols, t.snapKeys
	}
	return t.cols, t.keys
}

// appendMembers writes the image's `"column":value` pairs, comma-separated.
func (t *tableCodec) appendMembers(dst []byte, cols []*colCodec, img []event.Value, replaceNull bool) ([]byte, error) {
	if len(img) != len(cols) {
		return dst, fmt.Errorf("image has %d values for %d columns", len(img), len(cols))
	}
	var err error
	for i, c := range cols {
		if i > 0 {
			dst = append(dst, c.sepKey...)
		} else {
			dst = append(dst, c.key...)
		}
		v := &img[i]
		if v.Kind == event.KindNull && replaceNull && c.dflt != nil {
			dst = append(dst, c.dflt...)
			continue
		}
		if dst, err = c.appendValue(dst, v); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// appendKeyPayload writes the key columns of the event's row as an object (no
// schema), or null for a keyless table or an event without images. A key
// value that cannot be encoded is written as null (AppendKey has no error;
// AppendValue reports the same problem).
func (t *tableCodec) appendKeyPayload(dst []byte, e *event.Event, replaceNull bool) []byte {
	img := e.After
	if img == nil {
		img = e.Before
	}
	_, keys := t.colsFor(e)
	if len(keys) == 0 || img == nil || len(img) != len(t.cols) {
		return append(dst, "null"...)
	}
	dst = append(dst, '{')
	for i, c := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, c.key...)
		v := &img[t.schema.KeyIdx[i]]
		if v.Kind == event.KindNull && replaceNull && c.dflt != nil {
			dst = append(dst, c.dflt...)
			continue
		}
		mark := len(dst)
		out, err := c.appendValue(dst, v)
		if err != nil {
			out = append(dst[:mark], "null"...)
		}
		dst = out
	}
	return append(dst, '}')
}

// codecs caches table codecs per *event.Schema (schemas are immutable once
// published). It is owned by one encoder, which one goroutine uses.
type codecs struct {
	withSchema bool
	last       *event.Schema
	lastCodec  *tableCodec
	tables     map[*event.Schema]*tableCodec
}

// maxCachedSchemas bounds the cache; past it the cache starts over (schema
// versions of a long-running pipeline accumulate, live ones rebuild cheaply).
const maxCachedSchemas = 4096

var errNoSchema = errors.New("format: event has no schema")

func (cs *codecs) get(s *event.Schema) (*tableCodec, error) {
	if s == nil {
		return nil, errNoSchema
	}
	if s == cs.last {
		return cs.lastCodec, nil
	}
	t, ok := cs.tables[s]
	if !ok {
		var err error
		if t, err = newTableCodec(s, cs.withSchema); err != nil {
			return nil, err
		}
		if cs.tables == nil || len(cs.tables) >= maxCachedSchemas {
			cs.tables = make(map[*event.Schema]*tableCodec)
		}
		cs.tables[s] = t
	}
	cs.last, cs.lastCodec = s, t
	return t, nil
}

// debeziumEncoder writes Debezium's change-event envelope, optionally
// wrapped with its schema as JsonConverter does with schemas.enable=true.
type debeziumEncoder struct {
	codecs
	replaceNull bool
	skip        opSet
	// The last source block written, by table and source metadata: a
	// snapshot batch (and often a stream batch) repeats it event after
	// event, and formatting its numbers is a good part of the encode.
	last struct {
		t   *tableCodec
		src event.Source
		b   []byte
	}
	// The envelope's end after the source block, by op and processing
	// time: the events of a batch mostly share both.
	tail struct {
		op event.Op
		ms int64
		b  []byte
	}
}

var _ Encoder = (*debeziumEncoder)(nil)

func newDebezium(withSchema bool) Encoder {
	return &debeziumEncoder{codecs: codecs{withSchema: withSchema}, replaceNull: true, skip: 8}
}

func (d *debeziumEncoder) setSkipped(s opSet) { d.skip = s }

func (d *debeziumEncoder) setReplaceNullWithDefault(b bool) { d.replaceNull = b }

func validOp(op event.Op) bool {
	switch op {
	case event.OpRead, event.OpCreate, event.OpUpdate, event.OpDelete, event.OpTruncate:
		return true
	}
	return false
}

// AppendValue implements Encoder.
func (d *debeziumEncoder) AppendValue(dst []byte, e *event.Event) ([]byte, bool, error) {
	t, err := d.get(e.Schema)
	if err != nil {
		return dst, false, err
	}
	if !validOp(e.Op) {
		return dst, false, fmt.Errorf("format: %s: unknown operation %q", e.Schema.Stream, byte(e.Op))
	}
	if d.skip.has(e.Op) {
		return dst, false, nil
	}
	if t.mongo != nil {
		dst, err = d.appendMongoValue(dst, t, e)
		return dst, err == nil, err
	}
	start := len(dst)
	dst = append(dst, t.envelope...)
	before, after := e.Before, e.After
	if e.Op == event.OpTruncate {
		before, after = nil, nil // Debezium's truncate events carry no images
	}
	cols, _ := t.colsFor(e)
	dst = append(dst, `{"before":`...)
	if dst, err = t.appendRow(dst, cols, before, d.replaceNull); err != nil {
		return dst[:start], false, fmt.Errorf("format: %s before image: %w", e, err)
	}
	dst = append(dst, `,"after":`...)
	if dst, err = t.appendRow(dst, cols, after, d.replaceNull); err != nil {
		return dst[:start], false, fmt.Errorf("format: %s after image: %w", e, err)
	}
	dst = append(dst, `,"source":`...)
	if d.last.t == t && d.last.src == e.Source {
		dst = append(dst, d.last.b...)
	} else if t.srcCached {
		dst = t.src.appendPayload(dst, e)
	} else {
		m := len(dst)
		dst = t.src.appendPayload(dst, e)
		d.last.t, d.last.src = t, e.Source
		d.last.b = append(d.last.b[:0], dst[m:]...)
	}
	if d.tail.b == nil || d.tail.op != e.Op || d.tail.ms != e.TsMs {
		d.tail.op, d.tail.ms = e.Op, e.TsMs
		d.tail.b = d.appendTail(d.tail.b[:0], e.Op, e.TsMs)
	}
	return append(dst, d.tail.b...), true, nil
}

// appendTail writes the envelope from "transaction" to its end.
func (d *debeziumEncoder) appendTail(dst []byte, op event.Op, ms int64) []byte {
	dst = append(dst, `,"transaction":null,"op":"`...)
	dst = append(dst, byte(op))
	dst = append(dst, `","ts_ms":`...)
	var buf [24]byte
	msb := strconv.AppendInt(buf[:0], ms, 10)
	dst = append(dst, msb...)
	dst = appendTsMs(dst, ms, msb)
	dst = append(dst, '}')
	if d.withSchema {
		dst = append(dst, '}')
	}
	return dst
}

// AppendKey implements Encoder.
func (d *debeziumEncoder) AppendKey(dst []byte, e *event.Event) []byte {
	t, err := d.get(e.Schema)
	if err == nil && t.mongo != nil {
		return d.appendMongoKey(dst, t, e)
	}
	if err != nil || len(t.keys) == 0 || (e.After == nil && e.Before == nil) || e.Op == event.OpTruncate {
		return append(dst, "null"...)
	}
	if !d.withSchema {
		return t.appendKeyPayload(dst, e, d.replaceNull)
	}
	dst = append(dst, t.keyEnvelope...)
	dst = t.appendKeyPayload(dst, e, d.replaceNull)
	return append(dst, '}')
}
