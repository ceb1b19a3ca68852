package format

import (
	"github.com/sluice-dev/sluice/event"
)

// The MongoDB fixtures: the documents of testdata/debezium273/mongo.docs as
// the MongoDB source emits them (its event contract: Column.TypeName is the
// BSON type's $type alias; objects, arrays and the rarer types are relaxed
// Extended JSON as the Go driver writes it).

func mongoCol(name, typeName string, typ event.Type) event.Column {
	return event.Column{Name: name, Type: typ, TypeName: typeName, Optional: name != "_id", Key: name == "_id"}
}

func mongoSchema(version int, cols ...event.Column) *event.Schema {
	return &event.Schema{Stream: "mongo.shop.orders", Source: "mongo", Connector: "mongodb", Database: "shop",
		Table: "orders", Version: version, Columns: cols, KeyIdx: []int{0}}
}

var (
	mongoAll = mongoSchema(1,
		mongoCol("_id", "objectId", event.TypeString), mongoCol("s", "string", event.TypeString),
		mongoCol("i32", "int", event.TypeInt32), mongoCol("i64", "long", event.TypeInt64), mongoCol("i64s", "long", event.TypeInt64),
		mongoCol("d", "double", event.TypeFloat64), mongoCol("dint", "double", event.TypeFloat64), mongoCol("dbig", "double", event.TypeFloat64),
		mongoCol("dsmall", "double", event.TypeFloat64), mongoCol("dneg0", "double", event.TypeFloat64), mongoCol("dnan", "double", event.TypeFloat64),
		mongoCol("dinf", "double", event.TypeFloat64),
		mongoDec("dec"), mongoDec("decnan"), mongoDec("decinf"), mongoDec("decneg0"), mongoDec("decexp"),
		mongoCol("b", "bool", event.TypeBool),
		mongoCol("dt", "date", event.TypeTimestampTZ), mongoCol("dtold", "date", event.TypeTimestampTZ), mongoCol("dtfar", "date", event.TypeTimestampTZ),
		mongoCol("uuid", "uuid", event.TypeUUID), mongoCol("bin", "binData", event.TypeBytes), mongoCol("bin80", "binData:80", event.TypeBytes),
		mongoCol("obj", "object", event.TypeJSON), mongoCol("arr", "array", event.TypeJSON), mongoCol("arrdocs", "array", event.TypeJSON),
		mongoCol("arrempty", "array", event.TypeJSON), mongoCol("nil", "null", event.TypeString),
		mongoCol("ts", "timestamp", event.TypeJSON), mongoCol("re", "regex", event.TypeJSON), mongoCol("js", "javascript", event.TypeJSON),
		mongoCol("cws", "javascriptWithScope", event.TypeJSON), mongoCol("sym", "symbol", event.TypeJSON), mongoCol("dbp", "dbPointer", event.TypeJSON),
		mongoCol("mink", "minKey", event.TypeJSON), mongoCol("maxk", "maxKey", event.TypeJSON), mongoCol("undef", "undefined", event.TypeJSON),
		mongoCol("aa", "array", event.TypeJSON), mongoCol("adoc2", "array", event.TypeJSON))
	mongoSimple = mongoSchema(2, mongoCol("_id", "objectId", event.TypeString), mongoCol("name", "string", event.TypeString), mongoCol("qty", "int", event.TypeInt32))
	mongoIDOnly = mongoSchema(3, mongoCol("_id", "objectId", event.TypeString))
	mongoTxn    = mongoSchema(4, mongoCol("_id", "long", event.TypeInt64), mongoCol("status", "string", event.TypeString))
	mongoStrID  = mongoSchema(5, mongoCol("_id", "string", event.TypeString), mongoDec("total"))
	mongoIntID  = mongoSchema(6, mongoCol("_id", "int", event.TypeInt32), mongoCol("ok", "bool", event.TypeBool))
)

func mongoDec(name string) event.Column {
	c := mongoCol(name, "decimal", event.TypeDecimal)
	c.Scale = -1
	return c
}

func mongoAllRow() []event.Value {
	return []event.Value{
		event.String("65a1b2c3d4e5f60718293a4c"),
		event.String("héllo \"q\" \\ / \n\t\u0001 🌍 é\u0301 \u2028 \u200b"),
		event.Int(-2147483648), event.Int(9223372036854775807), event.Int(5),
		event.Float(1.5), event.Float(100), event.Float(1e21), event.Float(1e-7), event.Float(negZero()), event.Float(nan()), event.Float(negInf()),
		event.Decimal("1234.5600"), event.Decimal("NaN"), event.Decimal("Infinity"), event.Decimal("-0"), event.Decimal("1.2E+5"),
		event.Bool(true),
		event.Int(1700000000123 * 1000), event.Int(-62135596800000 * 1000), event.Int(253402300800000 * 1000),
		event.String("73ffd264-44b3-4c69-90e8-e7d1dfc035d4"), event.Bytes([]byte{1, 2, 3}), event.Bytes([]byte{0xff}),
		event.String(`{"a":1,"b":2,"big":5000000000,"c":2.5,"when":{"$date":"1970-01-01T00:00:00Z"},"oid":{"$oid":"65a1b2c3d4e5f60718293a4d"},"deep":{"x":[1,2]},"empty":{}}`),
		event.String(`[1,2,3]`), event.String(`[{"k":"v"},{"k":"w","n":1}]`), event.String(`[]`), event.Null,
		event.String(`{"$timestamp":{"t":1700000000,"i":7}}`), event.String(`{"$regularExpression":{"pattern":"^a.*b$","options":"im"}}`),
		event.String(`{"$code":"function() { return 1; }"}`), event.String(`{"$code":"f(x)","$scope":{"x":1}}`), event.String(`{"$symbol":"sym"}`),
		event.String(`{"$dbPointer":{"$ref":"shop.other","$id":{"$oid":"65a1b2c3d4e5f60718293a4f"}}}`),
		event.String(`{"$minKey":1}`), event.String(`{"$maxKey":1}`), event.String(`{"$undefined":true}`),
		event.String(`[[1],[2,3]]`), event.String(`[{"a":1},{"b":{"c":1}}]`),
	}
}

func simpleRow(name string, qty int64) []event.Value {
	return []event.Value{event.String("65a1b2c3d4e5f60718293a4b"), event.String(name), event.Int(qty)}
}

// mongoChange is the source metadata of a change at cluster time
// (secs, inc) with the given wall clock.
func mongoChange(secs, inc uint32, wallMs int64) event.Source {
	ct := uint64(secs)<<32 | uint64(inc)
	return event.Source{TsUs: wallMs * 1000, LSN: ct, CommitLSN: ct, HasLSN: true}
}

// mongoEvents are the events of MongoCheck.java, in its order.
func mongoEvents() []namedEvent {
	txn := func(s event.Source, row int32) event.Source { s.TxID, s.HasTxID, s.Row = 42, true, row; return s }
	return []namedEvent{
		{"snapshot read all", &event.Event{Op: event.OpRead, Schema: mongoAll, After: mongoAllRow(),
			Source: event.Source{Snapshot: event.SnapshotTrue, TsUs: 1700000000500000}, TsMs: 1700000000999,
			Position: `export shop.orders _id {"$oid":"65a1b2c3d4e5f60718293a4c"}`}},
		{"snapshot read simple", &event.Event{Op: event.OpRead, Schema: mongoSimple, After: simpleRow("Anne", 3),
			Source: event.Source{Snapshot: event.SnapshotLast, TsUs: 1700000000500000}, TsMs: 1700000000999}},
		{"insert all", &event.Event{Op: event.OpCreate, Schema: mongoAll, After: mongoAllRow(),
			Source: mongoChange(1700000001, 3, 1700000001123), TsMs: 1700000009999}},
		{"update with pre-image", &event.Event{Op: event.OpUpdate, Schema: mongoSimple, Before: simpleRow("Anne", 3), After: simpleRow("Anne Marie", 4),
			Source: mongoChange(1700000002, 1, 1700000002456), TsMs: 1700000009999}},
		{"replace without pre-image", &event.Event{Op: event.OpUpdate, Schema: mongoSimple, After: simpleRow("Anne Marie", 4),
			Source: mongoChange(1700000003, 7, 1700000003000), TsMs: 1700000009999}},
		{"delete with pre-image", &event.Event{Op: event.OpDelete, Schema: mongoSimple, Before: simpleRow("Anne Marie", 4),
			Source: mongoChange(1700000004, 1, 1700000004001), TsMs: 1700000009999}},
		{"delete without pre-image", &event.Event{Op: event.OpDelete, Schema: mongoIDOnly, Before: []event.Value{event.String("65a1b2c3d4e5f60718293a4b")},
			Source: mongoChange(1700000005, 2, 1700000005002), TsMs: 1700000009999}},
		{"transaction insert 1", &event.Event{Op: event.OpCreate, Schema: mongoTxn, After: []event.Value{event.Int(1001), event.String("paid")},
			Source: txn(mongoChange(1700000006, 9, 1700000006100), 0), TsMs: 1700000009999}},
		{"transaction insert 2", &event.Event{Op: event.OpCreate, Schema: mongoTxn, After: []event.Value{event.Int(1002), event.String("paid")},
			Source: txn(mongoChange(1700000006, 9, 1700000006100), 1), TsMs: 1700000009999}},
		{"insert string id", &event.Event{Op: event.OpCreate, Schema: mongoStrID, After: []event.Value{event.String("order-7"), event.Decimal("12.50")},
			Source: mongoChange(1700000007, 1, 1700000007000), TsMs: 1700000009999}},
		{"insert int id", &event.Event{Op: event.OpCreate, Schema: mongoIntID, After: []event.Value{event.Int(7), event.Bool(true)},
			Source: mongoChange(1700000008, 1, 1700000008000), TsMs: 1700000009999}},
	}
}
