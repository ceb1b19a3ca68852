package mongodb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"

	"github.com/sluice-dev/sluice/event"
)

// BSON element types, as bytes (bsoncore.Type is a byte).
const (
	tDouble     = byte(bsoncore.TypeDouble)
	tString     = byte(bsoncore.TypeString)
	tDocument   = byte(bsoncore.TypeEmbeddedDocument)
	tArray      = byte(bsoncore.TypeArray)
	tBinary     = byte(bsoncore.TypeBinary)
	tUndefined  = byte(bsoncore.TypeUndefined)
	tObjectID   = byte(bsoncore.TypeObjectID)
	tBool       = byte(bsoncore.TypeBoolean)
	tDate       = byte(bsoncore.TypeDateTime)
	tNull       = byte(bsoncore.TypeNull)
	tRegex      = byte(bsoncore.TypeRegex)
	tDBPointer  = byte(bsoncore.TypeDBPointer)
	tJavaScript = byte(bsoncore.TypeJavaScript)
	tSymbol     = byte(bsoncore.TypeSymbol)
	tCodeScope  = byte(bsoncore.TypeCodeWithScope)
	tInt32      = byte(bsoncore.TypeInt32)
	tTimestamp  = byte(bsoncore.TypeTimestamp)
	tInt64      = byte(bsoncore.TypeInt64)
	tDecimal    = byte(bsoncore.TypeDecimal128)
	tMaxKey     = byte(bsoncore.TypeMaxKey)
	tMinKey     = byte(bsoncore.TypeMinKey)
)

// typeAliases are MongoDB's $type aliases, which Column.TypeName carries.
var typeAliases = [256]string{
	tDouble: "double", tString: "string", tDocument: "object", tArray: "array", tBinary: "binData",
	tUndefined: "undefined", tObjectID: "objectId", tBool: "bool", tDate: "date", tNull: "null",
	tRegex: "regex", tDBPointer: "dbPointer", tJavaScript: "javascript", tSymbol: "symbol",
	tCodeScope: "javascriptWithScope", tInt32: "int", tTimestamp: "timestamp", tInt64: "long",
	tDecimal: "decimal", tMaxKey: "maxKey", tMinKey: "minKey",
}

// binNames are the TypeNames of binary subtypes other than 0 and 4:
// "binData:NN" in lower-case hex.
var binNames = func() (n [256]string) {
	for i := range n {
		n[i] = fmt.Sprintf("binData:%02x", i)
	}
	n[0] = "binData"
	n[4] = "uuid"
	return n
}()

// columnType maps a BSON type (and a binary's subtype) to the column's
// logical type and TypeName, the contract every encoder relies on.
func columnType(t byte, val []byte) (event.Type, string) {
	switch t {
	case tObjectID, tString, tNull:
		return event.TypeString, typeAliases[t]
	case tInt32:
		return event.TypeInt32, "int"
	case tInt64:
		return event.TypeInt64, "long"
	case tDouble:
		return event.TypeFloat64, "double"
	case tDecimal:
		return event.TypeDecimal, "decimal"
	case tBool:
		return event.TypeBool, "bool"
	case tDate:
		return event.TypeTimestampTZ, "date"
	case tBinary:
		if len(val) >= 5 {
			if val[4] == 4 && len(val) == 5+16 {
				return event.TypeUUID, "uuid"
			}
			if val[4] == 4 {
				// A subtype-4 value that is not 16 bytes is no UUID: keep its bytes.
				return event.TypeBytes, "binData:04"
			}
			return event.TypeBytes, binNames[val[4]]
		}
		return event.TypeBytes, "binData"
	}
	if a := typeAliases[t]; a != "" {
		return event.TypeJSON, a
	}
	return event.TypeUnknown, "" // never: elements are validated first
}

// element is one field of a document being converted; key and val point
// into the document.
type element struct {
	key []byte
	t   byte
	val []byte
}

// errNoID is returned for a document without _id.
var errNoID = errors.New("the document has no _id")

// collSchemas keeps one collection's schemas by shape; it is shared by the
// export workers and the stream (mu guards it).
type collSchemas struct {
	base event.Schema // identity; Version and Columns unset
	mu   struct {
		sync.Mutex
		byShape map[string]*event.Schema
		version int
	}
}

// schemaFor returns the schema of a shape, creating it with the next
// version when it is new. shape is the key built by the converter.
func (cs *collSchemas) schemaFor(shape []byte, elems []element, order []int) (*event.Schema, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if s := cs.mu.byShape[string(shape)]; s != nil {
		return s, nil
	}
	cols := make([]event.Column, len(order))
	for i, ei := range order {
		e := &elems[ei]
		typ, tn := columnType(e.t, e.val)
		cols[i] = event.Column{Name: string(e.key), Type: typ, TypeName: tn, Optional: i > 0, Key: i == 0}
		if typ == event.TypeDecimal {
			// decimal128 has 34 significant digits at any exponent: an
			// unconstrained decimal (Precision 0). A precision with a
			// negative scale would be PostgreSQL 15's rounding to
			// 10^-Scale, which the SQL sinks create as such.
			cols[i].Scale = -1
		}
	}
	if err := noDuplicates(cols); err != nil {
		return nil, err
	}
	cs.mu.version++
	s := cs.base
	s.Version = cs.mu.version
	s.Columns = cols
	s.KeyIdx = []int{0}
	if cs.mu.byShape == nil {
		cs.mu.byShape = map[string]*event.Schema{}
	}
	cs.mu.byShape[string(shape)] = &s
	return &s, nil
}

// noDuplicates rejects a document with a field name twice (BSON allows it;
// MongoDB's own tools do not write it): its columns would collide.
func noDuplicates(cols []event.Column) error {
	if len(cols) <= 16 {
		for i := range cols {
			for j := 0; j < i; j++ {
				if cols[i].Name == cols[j].Name {
					return fmt.Errorf("field %q appears twice in the document", cols[i].Name)
				}
			}
		}
		return nil
	}
	seen := make(map[string]bool, len(cols))
	for i := range cols {
		if seen[cols[i].Name] {
			return fmt.Errorf("field %q appears twice in the document", cols[i].Name)
		}
		seen[cols[i].Name] = true
	}
	return nil
}

// registry holds every collection's schemas, by namespace.
type registry struct {
	source string // the source's name
	mu     struct {
		sync.Mutex
		colls map[string]*collSchemas // "db\x00coll"
	}
}

func newRegistry(source string) *registry {
	r := &registry{source: source}
	r.mu.colls = map[string]*collSchemas{}
	return r
}

// collection returns db.coll's schemas.
func (r *registry) collection(db, coll string) *collSchemas {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := db + "\x00" + coll
	cs := r.mu.colls[k]
	if cs == nil {
		cs = &collSchemas{base: event.Schema{
			Stream:    r.source + "." + db + "." + coll,
			Source:    r.source,
			Connector: "mongodb",
			Database:  db,
			Table:     coll,
			SeqByRow:  true,
		}}
		r.mu.colls[k] = cs
	}
	return cs
}

// converter turns BSON documents into event values. It keeps scratch space
// and the last schema per collection, so a run of documents of one shape
// costs one slice of Values each; one goroutine owns a converter.
type converter struct {
	elems []element
	order []int
	shape []byte
	wrap  []byte // extJSON's wrapper document
	buf   []byte // relaxed's output
	last  map[*collSchemas]*event.Schema
}

func newConverter() *converter {
	return &converter{last: map[*collSchemas]*event.Schema{}}
}

// split reads doc's elements into c.elems, validating the whole document
// (nested values included) first: documents may come from recorded or
// damaged input, and a malformed one must be an error, never a panic.
func (c *converter) split(doc []byte) error {
	if err := bsoncore.Document(doc).Validate(); err != nil {
		return fmt.Errorf("malformed BSON document: %w", err)
	}
	c.elems = c.elems[:0]
	n := int(binary.LittleEndian.Uint32(doc))
	rem := doc[4 : n-1]
	for len(rem) > 0 {
		el, rest, ok := bsoncore.ReadElement(rem)
		if !ok {
			return errors.New("malformed BSON document: truncated element")
		}
		t := el[0]
		i := 1
		for el[i] != 0 {
			i++
		}
		c.elems = append(c.elems, element{key: el[1:i], t: t, val: el[i+1:]})
		rem = rest
	}
	return nil
}

// idIndex returns the index of _id in c.elems, or -1.
func (c *converter) idIndex() int {
	for i := range c.elems {
		if string(c.elems[i].key) == "_id" {
			return i
		}
	}
	return -1
}

// document converts a whole document: its schema (the collection's schema
// for this shape) and its values, _id first.
func (c *converter) document(cs *collSchemas, doc []byte) (*event.Schema, []event.Value, error) {
	if err := c.split(doc); err != nil {
		return nil, nil, err
	}
	id := c.idIndex()
	if id < 0 {
		return nil, nil, errNoID
	}
	c.order = append(c.order[:0], id)
	for i := range c.elems {
		if i != id {
			c.order = append(c.order, i)
		}
	}
	return c.values(cs)
}

// idOnly converts the _id of doc (a documentKey, or a whole document)
// into the shape that has the _id column only.
func (c *converter) idOnly(cs *collSchemas, doc []byte) (*event.Schema, []event.Value, error) {
	if err := c.split(doc); err != nil {
		return nil, nil, err
	}
	id := c.idIndex()
	if id < 0 {
		return nil, nil, errNoID
	}
	c.order = append(c.order[:0], id)
	return c.values(cs)
}

// values builds the values of c.order's elements and finds their schema.
func (c *converter) values(cs *collSchemas) (*event.Schema, []event.Value, error) {
	sch := c.last[cs]
	if sch == nil || !c.sameShape(sch) {
		c.shape = c.shape[:0]
		for _, ei := range c.order {
			e := &c.elems[ei]
			_, tn := columnType(e.t, e.val)
			c.shape = append(c.shape, e.key...)
			c.shape = append(c.shape, 0)
			c.shape = append(c.shape, tn...)
			c.shape = append(c.shape, 0)
		}
		var err error
		if sch, err = cs.schemaFor(c.shape, c.elems, c.order); err != nil {
			return nil, nil, err
		}
		c.last[cs] = sch
	}
	vals := make([]event.Value, len(c.order))
	for i, ei := range c.order {
		v, err := c.value(&c.elems[ei])
		if err != nil {
			return nil, nil, fmt.Errorf("field %q: %w", c.elems[ei].key, err)
		}
		vals[i] = v
	}
	return sch, vals, nil
}

// sameShape reports whether c.order's elements have sch's names and types.
func (c *converter) sameShape(sch *event.Schema) bool {
	if len(sch.Columns) != len(c.order) {
		return false
	}
	for i, ei := range c.order {
		e := &c.elems[ei]
		col := &sch.Columns[i]
		if col.Name != string(e.key) {
			return false
		}
		if _, tn := columnType(e.t, e.val); tn != col.TypeName {
			return false
		}
	}
	return true
}

// project lays doc's values out in sch's columns: a field with the
// column's name and TypeName gives its value, anything else is null (a
// pre-image whose shape differs from the post-image's).
func (c *converter) project(sch *event.Schema, doc []byte) ([]event.Value, error) {
	if err := c.split(doc); err != nil {
		return nil, err
	}
	vals := make([]event.Value, len(sch.Columns))
	for i := range sch.Columns {
		col := &sch.Columns[i]
		for j := range c.elems {
			e := &c.elems[j]
			if string(e.key) != col.Name {
				continue
			}
			if _, tn := columnType(e.t, e.val); tn == col.TypeName {
				v, err := c.value(e)
				if err != nil {
					return nil, fmt.Errorf("field %q: %w", e.key, err)
				}
				vals[i] = v
			}
			break
		}
	}
	return vals, nil
}

// maxDateMs bounds dates whose microseconds fit an int64 (±292,000 years).
const maxDateMs = math.MaxInt64 / 1000

// value converts one validated element.
func (c *converter) value(e *element) (event.Value, error) {
	v := e.val
	switch e.t {
	case tObjectID:
		return event.String(hexString(v[:12])), nil
	case tString:
		s, ok := bsonString(v)
		if !ok {
			return event.Null, errors.New("malformed string (no trailing NUL)")
		}
		return event.String(string(s)), nil
	case tInt32:
		return event.Int(int64(int32(binary.LittleEndian.Uint32(v)))), nil
	case tInt64:
		return event.Int(int64(binary.LittleEndian.Uint64(v))), nil
	case tDouble:
		return event.Float(math.Float64frombits(binary.LittleEndian.Uint64(v))), nil
	case tDecimal:
		lo, hi := binary.LittleEndian.Uint64(v), binary.LittleEndian.Uint64(v[8:])
		return event.Decimal(bson.NewDecimal128(hi, lo).String()), nil
	case tBool:
		return event.Bool(v[0] != 0), nil
	case tDate:
		ms := int64(binary.LittleEndian.Uint64(v))
		if ms > maxDateMs || ms < -maxDateMs {
			return event.Null, fmt.Errorf("date %d ms is out of the range of microsecond timestamps (±292,000 years)", ms)
		}
		return event.Int(ms * 1000), nil
	case tNull:
		return event.Null, nil
	case tBinary:
		sub, data, ok := binaryValue(v)
		if !ok {
			return event.Null, errors.New("malformed binary value (an old binary subtype 2 whose two lengths disagree)")
		}
		if sub == 4 && len(data) == 16 {
			return event.String(uuidString(data)), nil
		}
		return event.Bytes(data), nil
	}
	s, err := c.relaxed(e.t, v)
	if err != nil {
		return event.Null, err
	}
	return event.String(s), nil
}

// relaxed returns a value as relaxed Extended JSON, compact, exactly as
// bson.MarshalExtJSON(v, false, false) writes it (see appendRelaxed).
func (c *converter) relaxed(t byte, val []byte) (string, error) {
	out, err := appendRelaxed(c.buf[:0], t, val, 0)
	c.buf = out
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// extJSON returns the Extended JSON text of a value (canonical or relaxed);
// the bytes are valid until the next call.
func (c *converter) extJSON(t byte, val []byte, canonical bool) ([]byte, error) {
	w := append(c.wrap[:0], 0, 0, 0, 0, t, 0)
	w = append(w, val...)
	w = append(w, 0)
	binary.LittleEndian.PutUint32(w, uint32(len(w)))
	c.wrap = w
	out, err := bson.MarshalExtJSON(bson.Raw(w), canonical, false)
	if err != nil {
		return nil, fmt.Errorf("as Extended JSON: %w", err)
	}
	// out is {"":<value>}
	if len(out) < 6 || string(out[:4]) != `{"":` || out[len(out)-1] != '}' {
		return nil, fmt.Errorf("as Extended JSON: unexpected text %.40q", out)
	}
	return out[4 : len(out)-1], nil
}

const hexDigits = "0123456789abcdef"

func hexString(b []byte) string {
	out := make([]byte, len(b)*2)
	for i, x := range b {
		out[2*i], out[2*i+1] = hexDigits[x>>4], hexDigits[x&15]
	}
	return string(out)
}

// uuidString formats 16 bytes as 8-4-4-4-12 lower-case hex.
func uuidString(b []byte) string {
	var out [36]byte
	j := 0
	for i, x := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = hexDigits[x>>4], hexDigits[x&15]
		j += 2
	}
	return string(out[:])
}

// idText is an _id as relaxed Extended JSON for messages and export
// positions.
func (c *converter) idText(t byte, val []byte) string {
	s, err := c.relaxed(t, val)
	if err != nil {
		return "(_id " + typeAliases[t] + ")"
	}
	return s
}
