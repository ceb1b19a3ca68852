package format

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/sluice-dev/sluice/event"
)

// Decoding the MongoDB connector's envelope (source.connector "mongodb"):
// before and after are the documents as Extended JSON strings (what
// mongo.go writes, Debezium's STRICT mode), the key is {"id": "<_id in
// relaxed Extended JSON>"}. The events come back as the MongoDB source
// makes them (source/mongodb's contract): columns _id first (the key),
// then the document's top-level fields in order, typed by their BSON type
// with its $type alias as TypeName; nested documents, arrays and the rarer
// types as JSON columns holding relaxed Extended JSON as the Go driver
// writes it (bson.MarshalExtJSON(v, false, false)). A delete without a
// pre-image has the key's _id as its before image, in a schema of _id
// alone. The source block's cluster time (ts_ms, ord) becomes Source.LSN
// and CommitLSN, wallTime Source.TsUs, txnNumber TxID; Source.Row, which
// the envelope does not carry, counts the consecutive changes that share
// a cluster time, as the source numbers them.

// mongoSourceInfo is the MongoDB connector's source block.
type mongoSourceInfo struct {
	Name       string          `json:"name"`
	DB         string          `json:"db"`
	Collection string          `json:"collection"`
	TsMs       *int64          `json:"ts_ms"`
	Ord        *int64          `json:"ord"`
	TxnNumber  *int64          `json:"txnNumber"`
	WallTime   *int64          `json:"wallTime"`
	Snapshot   json.RawMessage `json:"snapshot"`
}

// mongoState is the decoder's memory of the last streamed change, for
// Source.Row.
type mongoState struct {
	lsn uint64
	row int32
}

func (d *Decoder) decodeMongo(e event.Event, topic string, key []byte, p *payload) (event.Event, error) {
	var src mongoSourceInfo
	if err := json.Unmarshal(p.Source, &src); err != nil {
		return e, fmt.Errorf("source: %w", err)
	}
	e.Source = event.Source{}
	snap := ""
	if !isNull(src.Snapshot) {
		if err := json.Unmarshal(src.Snapshot, &snap); err != nil {
			return e, fmt.Errorf("source.snapshot: %w", err)
		}
	}
	switch snap {
	case "true", "last", "first":
		e.Source.Snapshot = event.SnapshotTrue
	case "incremental":
		e.Source.Snapshot = event.SnapshotIncremental
	case "false", "":
	default:
		return e, fmt.Errorf("source.snapshot: unknown value %q", snap)
	}
	if e.Source.Snapshot == event.SnapshotFalse && src.TsMs != nil && src.Ord != nil {
		lsn := uint64(*src.TsMs/1000)<<32 | uint64(uint32(*src.Ord))
		e.Source.LSN, e.Source.CommitLSN, e.Source.HasLSN = lsn, lsn, true
		if d.mongo.lsn == lsn {
			d.mongo.row++
		} else {
			d.mongo = mongoState{lsn: lsn}
		}
		e.Source.Row = d.mongo.row
		e.Source.TsUs = *src.TsMs * 1000
	}
	if src.WallTime != nil {
		e.Source.TsUs = event.UsFromMs(*src.WallTime)
	}
	if src.TxnNumber != nil {
		e.Source.TxID, e.Source.HasTxID = *src.TxnNumber, true
	}
	stream := d.stream(topic, src.Name+"."+src.DB+"."+src.Collection)
	ident := event.Schema{Stream: stream, Source: src.Name, Connector: "mongodb", Database: src.DB, Table: src.Collection, SeqByRow: true}

	doc := func(what string, raw json.RawMessage) ([]bfield, error) {
		if isNull(raw) {
			return nil, nil
		}
		s, err := jsonString(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: want the document as an Extended JSON string: %w", what, err)
		}
		v, err := parseStrictJSON(s)
		if err != nil || v.kind != bDoc {
			return nil, fmt.Errorf("%s: not an Extended JSON document", what)
		}
		return idFirst(v.doc), nil
	}
	before, err := doc("before", p.Before)
	if err != nil {
		return e, err
	}
	after, err := doc("after", p.After)
	if err != nil {
		return e, err
	}
	if after == nil && before == nil {
		if e.Op != event.OpDelete {
			return e, fmt.Errorf("a %s event without a document", e.Op)
		}
		id, err := mongoKeyID(key)
		if err != nil {
			return e, fmt.Errorf("key: %w", err)
		}
		before = []bfield{{name: "_id", val: id}}
	}
	shape := after
	if shape == nil {
		shape = before
	}
	if len(shape) == 0 || shape[0].name != "_id" {
		return e, fmt.Errorf("the document has no _id")
	}
	e.Schema, err = d.mongoSchema(&ident, shape)
	if err != nil {
		return e, err
	}
	if after != nil {
		if e.After, err = mongoRow(e.Schema, after); err != nil {
			return e, fmt.Errorf("after: %w", err)
		}
	}
	if before != nil {
		if e.Before, err = mongoRow(e.Schema, before); err != nil {
			return e, fmt.Errorf("before: %w", err)
		}
	}
	return e, nil
}

// idFirst moves _id to the front, as the MongoDB source orders columns.
func idFirst(doc []bfield) []bfield {
	for i := range doc {
		if doc[i].name == "_id" {
			if i == 0 {
				return doc
			}
			out := make([]bfield, 0, len(doc))
			out = append(out, doc[i])
			out = append(out, doc[:i]...)
			return append(out, doc[i+1:]...)
		}
	}
	return doc
}

// mongoKeyID reads the _id from the key {"id": "<relaxed JSON>"}.
func mongoKeyID(key []byte) (bval, error) {
	if isNull(key) {
		return bval{}, fmt.Errorf("a delete without a document needs the key")
	}
	ms, err := members(key)
	if err != nil {
		return bval{}, err
	}
	if len(ms) == 2 && ms[0].name == "schema" && ms[1].name == "payload" {
		if ms, err = members(ms[1].raw); err != nil {
			return bval{}, err
		}
	}
	for _, m := range ms {
		if m.name == "id" {
			s, err := jsonString(m.raw)
			if err != nil {
				return bval{}, err
			}
			return parseExtJSON(s)
		}
	}
	return bval{}, fmt.Errorf(`no "id"`)
}

// mongoColumn is the column a top-level BSON value makes.
func mongoColumn(name string, v *bval) event.Column {
	c := event.Column{Name: name, Optional: true}
	switch v.kind {
	case bObjectID:
		c.Type, c.TypeName = event.TypeString, "objectId"
	case bString:
		c.Type, c.TypeName = event.TypeString, "string"
	case bNull:
		c.Type, c.TypeName = event.TypeString, "null"
	case bInt32:
		c.Type, c.TypeName = event.TypeInt32, "int"
	case bInt64:
		c.Type, c.TypeName = event.TypeInt64, "long"
	case bDouble:
		c.Type, c.TypeName = event.TypeFloat64, "double"
	case bDecimal:
		c.Type, c.TypeName, c.Scale = event.TypeDecimal, "decimal", -1
	case bBool:
		c.Type, c.TypeName = event.TypeBool, "bool"
	case bDate:
		c.Type, c.TypeName = event.TypeTimestampTZ, "date"
	case bBinary:
		switch {
		case v.num == 4 && len(v.str) == 16:
			c.Type, c.TypeName = event.TypeUUID, "uuid"
		case v.num == 0:
			c.Type, c.TypeName = event.TypeBytes, "binData"
		default:
			c.Type, c.TypeName = event.TypeBytes, fmt.Sprintf("binData:%02x", v.num)
		}
	default:
		c.Type, c.TypeName = event.TypeJSON, bsonAliases[v.kind]
	}
	return c
}

var bsonAliases = map[bkind]string{
	bDoc: "object", bArray: "array", bUndefined: "undefined", bRegex: "regex", bDBPointer: "dbPointer",
	bCode: "javascript", bSymbol: "symbol", bCodeWScope: "javascriptWithScope", bTimestamp: "timestamp",
	bMinKey: "minKey", bMaxKey: "maxKey",
}

// mongoSchema returns the schema of a document's shape (names and types
// in order), one per shape per stream, versioned as the decoder's others.
func (d *Decoder) mongoSchema(ident *event.Schema, doc []bfield) (*event.Schema, error) {
	var k strings.Builder
	k.WriteString("mongodb\x00" + ident.Stream + "\x00" + ident.Source + "\x00" + ident.Database + "\x00" + ident.Table)
	cols := make([]event.Column, len(doc))
	for i := range doc {
		cols[i] = mongoColumn(doc[i].name, &doc[i].val)
		k.WriteString("\x00" + cols[i].Name + "\x01" + cols[i].TypeName)
	}
	if s, ok := d.schemas[k.String()]; ok {
		return s, nil
	}
	s := *ident
	cols[0].Key, cols[0].Optional = true, false
	s.Columns = cols
	return d.intern(k.String(), &s, []string{"_id"}), nil
}

// mongoRow converts a document of the schema's shape into its values.
func mongoRow(s *event.Schema, doc []bfield) ([]event.Value, error) {
	if len(doc) != len(s.Columns) {
		return nil, fmt.Errorf("%d fields for %d columns", len(doc), len(s.Columns))
	}
	row := make([]event.Value, len(doc))
	for i := range doc {
		v := &doc[i].val
		switch v.kind {
		case bObjectID, bString:
			row[i] = event.String(v.str)
		case bNull:
		case bInt32:
			row[i] = event.Int(int64(int32(v.num)))
		case bInt64:
			row[i] = event.Int(int64(v.num))
		case bDouble:
			row[i] = event.Float(math.Float64frombits(v.num))
		case bDecimal:
			row[i] = event.Decimal(v.str)
		case bBool:
			row[i] = event.Bool(v.num != 0)
		case bDate:
			row[i] = event.Int(int64(v.num) * 1000)
		case bBinary:
			if s.Columns[i].Type == event.TypeUUID {
				h := hex.EncodeToString([]byte(v.str))
				row[i] = event.String(h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:])
			} else {
				row[i] = event.Bytes([]byte(v.str))
			}
		default:
			// Through a wrapper document {"": v}, as the driver writes
			// values only inside documents.
			b, err := bson.MarshalExtJSON(bson.D{{Key: "", Value: bsonValue(v)}}, false, false)
			if err != nil || len(b) < 5 {
				return nil, fmt.Errorf("%s: %v", doc[i].name, err)
			}
			row[i] = event.String(string(b[4 : len(b)-1]))
		}
	}
	return row, nil
}

// bsonValue turns a parsed value into the driver's, so that nested values
// are written exactly as the MongoDB source writes them.
func bsonValue(v *bval) any {
	switch v.kind {
	case bDouble:
		return math.Float64frombits(v.num)
	case bString:
		return v.str
	case bDoc:
		out := make(bson.D, len(v.doc))
		for i := range v.doc {
			out[i] = bson.E{Key: v.doc[i].name, Value: bsonValue(&v.doc[i].val)}
		}
		return out
	case bArray:
		out := make(bson.A, len(v.arr))
		for i := range v.arr {
			out[i] = bsonValue(&v.arr[i])
		}
		return out
	case bBinary:
		return bson.Binary{Subtype: byte(v.num), Data: []byte(v.str)}
	case bUndefined:
		return bson.Undefined{}
	case bObjectID:
		id, _ := bson.ObjectIDFromHex(v.str)
		return id
	case bBool:
		return v.num != 0
	case bDate:
		return bson.DateTime(int64(v.num))
	case bRegex:
		return bson.Regex{Pattern: v.str, Options: v.str2}
	case bDBPointer:
		id, _ := bson.ObjectIDFromHex(v.str2)
		return bson.DBPointer{DB: v.str, Pointer: id}
	case bCode:
		return bson.JavaScript(v.str)
	case bSymbol:
		return bson.Symbol(v.str)
	case bCodeWScope:
		scope := bsonValue(&bval{kind: bDoc, doc: v.doc})
		return bson.CodeWithScope{Code: bson.JavaScript(v.str), Scope: scope}
	case bInt32:
		return int32(v.num)
	case bTimestamp:
		return bson.Timestamp{T: uint32(v.num >> 32), I: uint32(v.num)}
	case bInt64:
		return int64(v.num)
	case bDecimal:
		d, err := bson.ParseDecimal128(v.str)
		if err != nil {
			return v.str
		}
		return d
	case bMinKey:
		return bson.MinKey{}
	case bMaxKey:
		return bson.MaxKey{}
	}
	return nil
}
