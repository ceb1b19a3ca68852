package format

import (
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/civil"
)

// This file encodes events of the MongoDB source (Schema.Connector
// "mongodb") as Debezium 2.7.3.Final's MongoDB connector writes them,
// checked byte for byte against that connector's own classes run on the same
// documents (testdata/debezium273/MongoCheck.java and mongo_*.out):
//
//   - The value is {"before","after","updateDescription","source","op",
//     "ts_ms","transaction"} (no envelope ts_us/ts_ns: the connector does not
//     set them); before and after are strings holding the document as the
//     Java driver's JsonWriter writes it in JsonMode.STRICT with empty indent
//     and newline characters (`{"_id": {"$oid": "…"},"qty": 3}`: int64 as
//     {"$numberLong": "…"}, dates as {"$date": <ms>}, binary as
//     {"$binary": "…","$type": "04"}, doubles as Java prints them, NaN bare).
//     before is the pre-image where there is one; a delete whose Before is
//     the shape (_id) only (no pre-image) has before null, as Debezium's.
//     updateDescription is null: sluice carries full documents (Debezium
//     writes the change's updatedFields/removedFields there for updates).
//   - The key is {"id": "<_id in JsonMode.RELAXED>"}.
//   - source is io.debezium.connector.mongo.Source: ts_ms is the cluster
//     time's seconds (ms zero), ord its increment, wallTime the change's wall
//     clock (Source.TsMs()), txnNumber the transaction number; lsid is null
//     (sluice does not carry the session id). Snapshot rows have ts_ms 0,
//     ord -1 and wallTime null, and "snapshot":"true" up to the last one,
//     as Debezium 2.7 writes them (its snapshot position has no cluster time
//     and it never marks the last row).
//   - The row format is ExtractNewDocumentState: the document's fields as
//     JSON values (_id kept as "_id"; see appendRowValue), "__deleted" as a
//     boolean right after them under rewrite, then the add_fields; the key
//     is {"id": <_id as a row value>}. A delete without pre-image rewrites
//     to {"__deleted":true} (plus add_fields).
//
// Nested values arrive as relaxed Extended JSON, which does not tell an
// int64 that fits in 32 bits from an int32: inside objects and arrays such
// a value is written as a plain number where Debezium writes
// {"$numberLong": "…"} (top-level fields carry their exact type).

// mongoCodec is the per-schema state of the MongoDB encodings.
type mongoCodec struct {
	idIdx int // index of the _id column, -1 when absent
	// envelope and keyEnvelope are the schema parts for debezium+schema.
	envelope, keyEnvelope []byte
	head                  []byte // source block up to "ts_ms":
	db                    []byte // ,"db":"…","sequence":null
	coll                  []byte // ,"collection":"…","ord":
	name, dbs, colls      string
}

const mongoSourceSchema = `{"type":"struct","fields":[` + commonSchema + `,` +
	`{"type":"string","optional":false,"field":"collection"},` +
	`{"type":"int32","optional":false,"field":"ord"},` +
	`{"type":"string","optional":true,"field":"lsid"},` +
	`{"type":"int64","optional":true,"field":"txnNumber"},` +
	`{"type":"int64","optional":true,"field":"wallTime"}` +
	`],"optional":false,"name":"io.debezium.connector.mongo.Source","field":"source"}`

const mongoUpdateDescriptionSchema = `{"type":"struct","fields":[` +
	`{"type":"array","items":{"type":"string","optional":false},"optional":true,"field":"removedFields"},` +
	`{"type":"string","optional":true,"name":"io.debezium.data.Json","version":1,"field":"updatedFields"},` +
	`{"type":"array","items":{"type":"struct","fields":[{"type":"string","optional":false,"field":"field"},{"type":"int32","optional":false,"field":"size"}],"optional":false,"name":"io.debezium.connector.mongodb.changestream.truncatedarray","version":1},"optional":true,"field":"truncatedArrays"}` +
	`],"optional":true,"name":"io.debezium.connector.mongodb.changestream.updatedescription","version":1,"field":"updateDescription"}`

func newMongoCodec(s *event.Schema) *mongoCodec {
	m := &mongoCodec{idIdx: s.ColumnIndex("_id"), name: s.Source, dbs: s.Database, colls: s.Table}
	e := []byte(`{"schema":{"type":"struct","fields":[` +
		`{"type":"string","optional":true,"name":"io.debezium.data.Json","version":1,"field":"before"},` +
		`{"type":"string","optional":true,"name":"io.debezium.data.Json","version":1,"field":"after"},` +
		mongoUpdateDescriptionSchema + `,` + mongoSourceSchema + `,` +
		`{"type":"string","optional":true,"field":"op"},{"type":"int64","optional":true,"field":"ts_ms"},` +
		`{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"},{"type":"int64","optional":false,"field":"total_order"},{"type":"int64","optional":false,"field":"data_collection_order"}],"optional":true,"name":"event.block","version":1,"field":"transaction"}` +
		`],"optional":false,"name":`)
	e = appendString(e, s.Stream+".Envelope")
	m.envelope = append(e, `},"payload":`...)
	k := []byte(`{"schema":{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"}],"optional":false,"name":`)
	k = appendString(k, s.Stream+".Key")
	m.keyEnvelope = append(k, `},"payload":`...)
	m.head = append(m.head, `{"version":"`+DebeziumVersion+`","connector":"mongodb","name":`...)
	m.head = appendString(m.head, s.Source)
	m.head = append(m.head, `,"ts_ms":`...)
	m.db = append(m.db, `,"db":`...)
	m.db = appendString(m.db, s.Database)
	m.db = append(m.db, `,"sequence":null`...)
	m.coll = append(m.coll, `,"collection":`...)
	m.coll = appendString(m.coll, s.Table)
	m.coll = append(m.coll, `,"ord":`...)
	return m
}

// mongoSnapshot is source.snapshot as Debezium 2.7's MongoDB connector
// writes it: "true" for every snapshot row (it never writes "last").
func mongoSnapshot(s event.SnapshotMark) string {
	switch s {
	case event.SnapshotFalse:
		return "false"
	case event.SnapshotIncremental:
		return "incremental"
	}
	return "true"
}

// clusterPos returns the cluster time's seconds and increment, or ok false
// for events without one (snapshot rows).
func clusterPos(s *event.Source) (secs int64, inc int32, ok bool) {
	if !s.HasLSN || s.Snapshot != event.SnapshotFalse {
		return 0, -1, false
	}
	return int64(s.LSN >> 32), int32(uint32(s.LSN)), true
}

func (m *mongoCodec) sourceTsMs(e *event.Event) int64 {
	secs, _, ok := clusterPos(&e.Source)
	if ok {
		return secs * 1000
	}
	if e.Source.Snapshot != event.SnapshotFalse {
		return 0
	}
	return e.Source.TsMs()
}

func (m *mongoCodec) appendSource(dst []byte, e *event.Event) []byte {
	s := &e.Source
	ms := m.sourceTsMs(e)
	_, ord, _ := clusterPos(s)
	dst = append(dst, m.head...)
	var buf [24]byte
	msb := strconv.AppendInt(buf[:0], ms, 10)
	dst = append(dst, msb...)
	dst = append(dst, `,"snapshot":"`...)
	dst = append(dst, mongoSnapshot(s.Snapshot)...)
	dst = append(dst, '"')
	dst = append(dst, m.db...)
	dst = appendTsMs(dst, ms, msb)
	dst = append(dst, m.coll...)
	dst = strconv.AppendInt(dst, int64(ord), 10)
	dst = append(dst, `,"lsid":null,"txnNumber":`...)
	dst = appendOptInt(dst, s.TxID, s.HasTxID)
	dst = append(dst, `,"wallTime":`...)
	dst = appendOptInt(dst, s.TsMs(), s.Snapshot == event.SnapshotFalse)
	return append(dst, '}')
}

// appendSourceField is add_fields' view of the source block.
func (m *mongoCodec) appendSourceField(dst []byte, field string, e *event.Event) ([]byte, bool) {
	s := &e.Source
	switch field {
	case "version":
		return append(dst, `"`+DebeziumVersion+`"`...), true
	case "connector":
		return append(dst, `"mongodb"`...), true
	case "name":
		return appendString(dst, m.name), true
	case "ts_ms":
		return strconv.AppendInt(dst, m.sourceTsMs(e), 10), true
	case "ts_us":
		return strconv.AppendInt(dst, m.sourceTsMs(e)*1000, 10), true
	case "ts_ns":
		return strconv.AppendInt(dst, m.sourceTsMs(e)*1000_000, 10), true
	case "snapshot":
		// Debezium leaves the struct field unset (null) outside snapshots;
		// the envelope shows its schema default "false", an added field null.
		if s.Snapshot == event.SnapshotFalse {
			return append(dst, "null"...), true
		}
		return appendString(dst, mongoSnapshot(s.Snapshot)), true
	case "db":
		return appendString(dst, m.dbs), true
	case "sequence", "lsid":
		return append(dst, "null"...), true
	case "collection":
		return appendString(dst, m.colls), true
	case "ord":
		_, ord, _ := clusterPos(s)
		return strconv.AppendInt(dst, int64(ord), 10), true
	case "txnNumber":
		return appendOptInt(dst, s.TxID, s.HasTxID), true
	case "wallTime":
		return appendOptInt(dst, s.TsMs(), s.Snapshot == event.SnapshotFalse), true
	}
	return dst, false
}

// mongoDoc builds the BSON document of an image from its columns.
func mongoDoc(s *event.Schema, img []event.Value) ([]bfield, error) {
	if len(img) != len(s.Columns) {
		return nil, fmt.Errorf("image has %d values for %d columns", len(img), len(s.Columns))
	}
	doc := make([]bfield, len(img))
	for i := range img {
		v, err := mongoValue(&s.Columns[i], img[i])
		if err != nil {
			return nil, err
		}
		doc[i] = bfield{s.Columns[i].Name, v}
	}
	return doc, nil
}

// mongoValue rebuilds a column value's BSON type from Column.TypeName
// (MongoDB's $type alias, as the MongoDB source sets it).
func mongoValue(c *event.Column, v event.Value) (bval, error) {
	bad := func() (bval, error) {
		return bval{}, fmt.Errorf("column %q: %s value does not fit BSON type %q", c.Name, valueKindName(v.Kind), c.TypeName)
	}
	if v.Kind == event.KindNull {
		return bval{kind: bNull}, nil
	}
	tn := c.TypeName
	switch {
	case tn == "objectId":
		if v.Kind != event.KindString || len(v.Str) != 24 {
			return bad()
		}
		if _, err := hex.DecodeString(v.Str); err != nil {
			return bad()
		}
		return bval{kind: bObjectID, str: strings.ToLower(v.Str)}, nil
	case tn == "string":
		if v.Kind != event.KindString {
			return bad()
		}
		return bval{kind: bString, str: v.Str}, nil
	case tn == "int":
		if v.Kind != event.KindInt {
			return bad()
		}
		return bval{kind: bInt32, num: uint64(int64(int32(v.AsInt())))}, nil
	case tn == "long":
		if v.Kind != event.KindInt {
			return bad()
		}
		return bval{kind: bInt64, num: v.Num}, nil
	case tn == "double":
		switch v.Kind {
		case event.KindFloat:
			return bval{kind: bDouble, num: v.Num}, nil
		case event.KindInt:
			return bval{kind: bDouble, num: math.Float64bits(float64(v.AsInt()))}, nil
		}
		return bad()
	case tn == "decimal":
		if v.Kind != event.KindDecimal && v.Kind != event.KindString {
			return bad()
		}
		return bval{kind: bDecimal, str: v.Str}, nil
	case tn == "bool":
		if v.Kind != event.KindBool {
			return bad()
		}
		return bval{kind: bBool, num: v.Num}, nil
	case tn == "date":
		if v.Kind != event.KindInt {
			return bad()
		}
		return bval{kind: bDate, num: uint64(civil.FloorDiv(v.AsInt(), 1000))}, nil
	case tn == "uuid":
		if v.Kind != event.KindString {
			return bad()
		}
		b, err := hex.DecodeString(strings.ReplaceAll(v.Str, "-", ""))
		if err != nil || len(b) != 16 || len(v.Str) != 36 {
			return bval{}, fmt.Errorf("column %q: not a canonical UUID", c.Name)
		}
		return bval{kind: bBinary, num: 4, str: string(b)}, nil
	case tn == "binData" || strings.HasPrefix(tn, "binData:"):
		if v.Kind != event.KindBytes && v.Kind != event.KindString {
			return bad()
		}
		sub := uint64(0)
		if len(tn) > 8 {
			var err error
			if sub, err = strconv.ParseUint(tn[8:], 16, 8); err != nil {
				return bval{}, fmt.Errorf("column %q: bad binary subtype in type %q", c.Name, tn)
			}
		}
		return bval{kind: bBinary, num: sub, str: v.Str}, nil
	case tn == "null":
		return bval{kind: bNull}, nil
	}
	if c.Type == event.TypeJSON {
		if v.Kind != event.KindString {
			return bad()
		}
		b, err := parseExtJSON(v.Str)
		if err != nil {
			return bval{}, fmt.Errorf("column %q (%s): %w", c.Name, c.TypeName, err)
		}
		return b, nil
	}
	// A column the contract does not name: by its logical type.
	switch v.Kind {
	case event.KindBool:
		return bval{kind: bBool, num: v.Num}, nil
	case event.KindInt:
		return bval{kind: bInt64, num: v.Num}, nil
	case event.KindFloat:
		return bval{kind: bDouble, num: v.Num}, nil
	case event.KindDecimal:
		return bval{kind: bDecimal, str: v.Str}, nil
	case event.KindString:
		return bval{kind: bString, str: v.Str}, nil
	case event.KindBytes:
		return bval{kind: bBinary, str: v.Str}, nil
	}
	return bad()
}

func valueKindName(k event.Kind) string {
	if int(k) < len(valueKindNames) {
		return valueKindNames[k]
	}
	return "unknown"
}

// noPreImage reports whether a delete's Before is the shape (_id) the
// MongoDB source sends when the change stream gave no pre-image.
func noPreImage(s *event.Schema, img []event.Value) bool {
	return len(s.Columns) == 1 && s.Columns[0].Name == "_id"
}

// appendStrictImage writes an image as Debezium's before/after string, or
// null.
func appendStrictImage(dst []byte, s *event.Schema, img []event.Value) ([]byte, error) {
	if img == nil {
		return append(dst, "null"...), nil
	}
	doc, err := mongoDoc(s, img)
	if err != nil {
		return dst, err
	}
	return appendString(dst, string(appendStrictDoc(nil, doc, false))), nil
}

// appendMongoValue is the debezium formats' value of a MongoDB event.
func (d *debeziumEncoder) appendMongoValue(dst []byte, t *tableCodec, e *event.Event) ([]byte, error) {
	m := t.mongo
	start := len(dst)
	if d.withSchema {
		dst = append(dst, m.envelope...)
	}
	before, after := e.Before, e.After
	switch e.Op {
	case event.OpRead, event.OpCreate:
		before = nil
	case event.OpDelete:
		after = nil
		if before != nil && noPreImage(e.Schema, before) {
			before = nil
		}
	case event.OpTruncate:
		before, after = nil, nil
	}
	var err error
	dst = append(dst, `{"before":`...)
	if dst, err = appendStrictImage(dst, e.Schema, before); err != nil {
		return dst[:start], fmt.Errorf("format: %s before image: %w", e, err)
	}
	dst = append(dst, `,"after":`...)
	if dst, err = appendStrictImage(dst, e.Schema, after); err != nil {
		return dst[:start], fmt.Errorf("format: %s after image: %w", e, err)
	}
	dst = append(dst, `,"updateDescription":null,"source":`...)
	dst = m.appendSource(dst, e)
	dst = append(dst, `,"op":"`...)
	dst = append(dst, byte(e.Op))
	dst = append(dst, `","ts_ms":`...)
	dst = strconv.AppendInt(dst, e.TsMs, 10)
	dst = append(dst, `,"transaction":null}`...)
	if d.withSchema {
		dst = append(dst, '}')
	}
	return dst, nil
}

// mongoID returns the event's _id as a BSON value.
func mongoID(t *tableCodec, e *event.Event) (bval, bool) {
	img := e.After
	if img == nil {
		img = e.Before
	}
	m := t.mongo
	if img == nil || m.idIdx < 0 || len(img) != len(e.Schema.Columns) {
		return bval{}, false
	}
	v, err := mongoValue(&e.Schema.Columns[m.idIdx], img[m.idIdx])
	return v, err == nil
}

// appendMongoKey is Debezium's MongoDB key: {"id": "<_id, relaxed>"}.
func (d *debeziumEncoder) appendMongoKey(dst []byte, t *tableCodec, e *event.Event) []byte {
	id, ok := mongoID(t, e)
	if !ok || e.Op == event.OpTruncate {
		return append(dst, "null"...)
	}
	if d.withSchema {
		dst = append(dst, t.mongo.keyEnvelope...)
	}
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, string(appendStrict(nil, &id, true)))
	dst = append(dst, '}')
	if d.withSchema {
		dst = append(dst, '}')
	}
	return dst
}

// appendMongoRow is ExtractNewDocumentState's value of a MongoDB event.
func (r *rowEncoder) appendMongoRow(dst []byte, t *tableCodec, e *event.Event) ([]byte, bool, error) {
	img, deleted := e.After, ""
	switch e.Op {
	case event.OpTruncate:
		return dst, false, nil
	case event.OpDelete:
		switch r.deletes {
		case DeleteDrop:
			return dst, false, nil
		case DeleteTombstone:
			return append(dst, "null"...), true, nil
		}
		img, deleted = e.Before, "true"
		if img != nil && noPreImage(e.Schema, img) {
			img = nil
		}
	case event.OpRead, event.OpCreate, event.OpUpdate:
		if img == nil {
			return dst, false, fmt.Errorf("format: %s: event has no after image", e)
		}
		if r.deletes == DeleteRewrite {
			deleted = "false"
		}
	default:
		return dst, false, fmt.Errorf("format: %s: unknown operation %q", e.Schema.Stream, byte(e.Op))
	}
	start := len(dst)
	comma := false
	if img != nil {
		doc, err := mongoDoc(e.Schema, img)
		if err == nil {
			dst, err = appendRowDoc(dst, doc, nil, "", 0)
		}
		if err != nil {
			return dst[:start], false, fmt.Errorf("format: %s: %w", e, err)
		}
		dst = dst[:len(dst)-1] // reopen the object for the added fields
		comma = len(dst) > start+1
	} else {
		dst = append(dst, '{')
	}
	if deleted != "" {
		if comma {
			dst = append(dst, ',')
		}
		dst = append(dst, `"__deleted":`...)
		dst = append(dst, deleted...)
		comma = true
	}
	for i := range r.fields {
		f := &r.fields[i]
		mark := len(dst)
		if comma {
			dst = append(dst, ',')
		}
		dst = append(dst, f.key...)
		var ok bool
		switch f.parent {
		case "":
			switch f.field {
			case "op":
				dst, ok = append(dst, '"', byte(e.Op), '"'), true
			case "ts_ms":
				dst, ok = strconv.AppendInt(dst, e.TsMs, 10), true
			}
		case "transaction":
			dst, ok = append(dst, "null"...), true
		case "source":
			dst, ok = t.mongo.appendSourceField(dst, f.field, e)
		}
		if !ok {
			dst = dst[:mark]
			continue
		}
		comma = true
	}
	return append(dst, '}'), true, nil
}

// appendMongoRowKey is ExtractNewDocumentState's key: {"id": <_id>}.
func (r *rowEncoder) appendMongoRowKey(dst []byte, t *tableCodec, e *event.Event) []byte {
	id, ok := mongoID(t, e)
	if !ok || e.Op == event.OpTruncate {
		return append(dst, "null"...)
	}
	mark := len(dst)
	dst = append(dst, `{"id":`...)
	dst, ok, err := appendRowValue(dst, &id, "_id", 0)
	if err != nil || !ok {
		return append(dst[:mark], "null"...)
	}
	return append(dst, '}')
}
