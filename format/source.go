package format

import (
	"math"
	"strconv"

	"github.com/sluice-dev/sluice/event"
)

// DebeziumVersion is the Debezium release whose output the encoders
// reproduce; it is written in source.version.
const DebeziumVersion = "2.7.3.Final"

// A sourceBlock writes the envelope's "source" struct, whose fields depend on
// the connector. One is built per table schema, so constant parts (names,
// database, table) are encoded once.
type sourceBlock interface {
	// schema returns the struct's JsonConverter schema as the envelope's
	// "source" field.
	schema() []byte
	// appendPayload appends the struct's value for e.
	appendPayload(dst []byte, e *event.Event) []byte
	// appendField appends the value of one source field by name, for the
	// row format's add_fields; ok is false when the connector has no such
	// field (ExtractNewRecordState then adds nothing).
	appendField(dst []byte, field string, e *event.Event) (out []byte, ok bool)
}

// sourceBlocks maps event.Schema.Connector to the connector's source block.
// Connectors without an entry get genericSource.
var sourceBlocks = map[string]func(*event.Schema) sourceBlock{
	"postgresql": newPostgresSource,
	"mysql":      newMySQLSource,
	"sql":        newSQLSource,
}

func newSourceBlock(s *event.Schema) sourceBlock {
	if f, ok := sourceBlocks[s.Connector]; ok {
		return f(s)
	}
	return newGenericSource(s)
}

// snapshotSchema is source.snapshot in Debezium 2.7: an io.debezium.data.Enum
// with the allowed values Debezium 2.7 declares (it also writes "first",
// "first_in_data_collection" and "last_in_data_collection" without listing
// them).
const snapshotSchema = `{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"true,last,false,incremental"},"default":"false","field":"snapshot"}`

// commonSchema is the fields every Debezium 2.7 connector's source struct
// starts with (AbstractSourceInfoStructMaker.commonSchemaBuilder).
const commonSchema = `{"type":"string","optional":false,"field":"version"},` +
	`{"type":"string","optional":false,"field":"connector"},` +
	`{"type":"string","optional":false,"field":"name"},` +
	`{"type":"int64","optional":false,"field":"ts_ms"},` +
	snapshotSchema + `,` +
	`{"type":"string","optional":false,"field":"db"},` +
	`{"type":"string","optional":true,"field":"sequence"},` +
	`{"type":"int64","optional":true,"field":"ts_us"},` +
	`{"type":"int64","optional":true,"field":"ts_ns"}`

// common holds the encoded constant parts of the common fields.
type common struct {
	head []byte // {"version":"…","connector":"…","name":"…","ts_ms":
	db   []byte // ,"db":"…"
	name string
	conn string
	dbs  string
}

func newCommon(s *event.Schema) common {
	var c common
	c.name, c.conn, c.dbs = s.Source, s.Connector, s.Database
	c.head = append(c.head, `{"version":"`+DebeziumVersion+`","connector":`...)
	c.head = appendString(c.head, s.Connector)
	c.head = append(c.head, `,"name":`...)
	c.head = appendString(c.head, s.Source)
	c.head = append(c.head, `,"ts_ms":`...)
	c.db = append(c.db, `,"db":`...)
	c.db = appendString(c.db, s.Database)
	return c
}

// appendHead appends the common fields up to and including "db"; msb is
// source.ts_ms formatted (see tsText).
func (c *common) appendHead(dst []byte, e *event.Event, msb []byte) []byte {
	dst = append(dst, c.head...)
	dst = append(dst, msb...)
	dst = append(dst, `,"snapshot":"`...)
	dst = append(dst, e.Source.Snapshot.String()...)
	dst = append(dst, '"')
	return append(dst, c.db...)
}

// maxScalableUs is the largest microsecond count whose nanoseconds fit in
// an int64 (year 2262).
const maxScalableUs = math.MaxInt64 / 1000

// tsText formats a time in microseconds once for ts_ms, ts_us and ts_ns:
// usb is the microseconds' text and msb the milliseconds' (Java's floorDiv),
// a prefix of usb whenever the number has more than three digits, so that
// one formatting serves all three fields.
func tsText(buf *[48]byte, us int64) (msb, usb []byte) {
	usb = strconv.AppendInt(buf[:0], us, 10)
	if us >= 1000 {
		return usb[:len(usb)-3], usb
	}
	msb = strconv.AppendInt(buf[len(usb):len(usb)], floorDiv1000(us), 10)
	return msb, usb
}

// maxScalableMs is the largest millisecond count whose nanoseconds fit in
// an int64 (year 2262).
const maxScalableMs = math.MaxInt64 / 1000_000

// appendTsMs appends ts_us and ts_ns for a time sluice has in milliseconds
// (the envelope's processing time, MongoDB's source times) from its text
// msb: those fields are ts_ms scaled, as Debezium's are for such times.
func appendTsMs(dst []byte, ms int64, msb []byte) []byte {
	dst = append(dst, `,"ts_us":`...)
	if ms == 0 || ms > maxScalableMs || ms < -maxScalableMs {
		dst = strconv.AppendInt(dst, ms*1000, 10)
		dst = append(dst, `,"ts_ns":`...)
		return strconv.AppendInt(dst, ms*1000_000, 10)
	}
	dst = append(dst, msb...)
	dst = append(dst, `000,"ts_ns":`...)
	dst = append(dst, msb...)
	return append(dst, "000000"...)
}

func floorDiv1000(us int64) int64 {
	q := us / 1000
	if us%1000 < 0 {
		q--
	}
	return q
}

// appendTs appends ts_us and ts_ns from microseconds and their text usb.
// Appending zeros to the text saves formatting the number again; out of
// range, the product wraps as Java's long arithmetic does.
func appendTs(dst []byte, us int64, usb []byte) []byte {
	dst = append(dst, `,"ts_us":`...)
	dst = append(dst, usb...)
	dst = append(dst, `,"ts_ns":`...)
	if us == 0 || us > maxScalableUs || us < -maxScalableUs {
		return strconv.AppendInt(dst, us*1000, 10)
	}
	dst = append(dst, usb...)
	return append(dst, "000"...)
}

func (c *common) appendField(dst []byte, field string, e *event.Event) ([]byte, bool) {
	switch field {
	case "version":
		return append(dst, `"`+DebeziumVersion+`"`...), true
	case "connector":
		return appendString(dst, c.conn), true
	case "name":
		return appendString(dst, c.name), true
	case "ts_ms":
		return strconv.AppendInt(dst, e.Source.TsMs(), 10), true
	case "ts_us":
		return strconv.AppendInt(dst, e.Source.TsUs, 10), true
	case "ts_ns":
		return strconv.AppendInt(dst, e.Source.TsUs*1000, 10), true
	case "snapshot":
		dst = append(dst, '"')
		dst = append(dst, e.Source.Snapshot.String()...)
		return append(dst, '"'), true
	case "db":
		return appendString(dst, c.dbs), true
	}
	return dst, false
}

// postgresSource is io.debezium.connector.postgresql.Source of Debezium 2.7.
type postgresSource struct {
	common
	tail []byte // ,"schema":"…","table":"…","txId":
	ns   string
	tbl  string
	// The stream's changes of one transaction differ in their LSN only:
	// for the last source with an LSN (lsnKey, its LSN zeroed), the
	// block's text is kept around the LSN's two places, source.sequence's
	// second element and lsn (lsnA, lsnB, lsnC), so that a change formats
	// its LSN and copies the rest. The encoder's own cache of the last
	// whole block (debeziumEncoder.last) would miss on every change.
	lsnKey           event.Source
	lsnOK            bool
	lsnA, lsnB, lsnC []byte
}

func newPostgresSource(s *event.Schema) sourceBlock {
	p := &postgresSource{common: newCommon(s), ns: s.Namespace, tbl: s.Table}
	p.tail = append(p.tail, `,"schema":`...)
	p.tail = appendString(p.tail, s.Namespace)
	p.tail = append(p.tail, `,"table":`...)
	p.tail = appendString(p.tail, s.Table)
	p.tail = append(p.tail, `,"txId":`...)
	return p
}

func (p *postgresSource) schema() []byte {
	return []byte(`{"type":"struct","fields":[` + commonSchema + `,` +
		`{"type":"string","optional":false,"field":"schema"},` +
		`{"type":"string","optional":false,"field":"table"},` +
		`{"type":"int64","optional":true,"field":"txId"},` +
		`{"type":"int64","optional":true,"field":"lsn"},` +
		`{"type":"int64","optional":true,"field":"xmin"}` +
		`],"optional":false,"name":"io.debezium.connector.postgresql.Source","field":"source"}`)
}

// appendSequence writes source.sequence: a JSON string holding the JSON
// array [lastCommitLsn, lsn] of decimal strings, null where unknown — Debezium
// writes it for every event, snapshot rows included ("[null,\"23043592\"]").
// LSNs are written as Java's signed long, as Debezium's Lsn.asLong does.
func appendSequence(dst []byte, s *event.Source) []byte {
	dst = appendSequenceHead(dst, s)
	if s.HasLSN {
		dst = append(dst, `\"`...)
		dst = strconv.AppendInt(dst, int64(s.LSN), 10)
		dst = append(dst, `\"`...)
	} else {
		dst = append(dst, "null"...)
	}
	return append(dst, `]"`...)
}

// appendSequenceHead writes source.sequence up to its second element.
func appendSequenceHead(dst []byte, s *event.Source) []byte {
	dst = append(dst, `"[`...)
	if s.LastCommitLSN != 0 {
		dst = append(dst, `\"`...)
		dst = strconv.AppendInt(dst, int64(s.LastCommitLSN), 10)
		dst = append(dst, `\"`...)
	} else {
		dst = append(dst, "null"...)
	}
	return append(dst, ',')
}

func appendOptInt(dst []byte, v int64, has bool) []byte {
	if !has {
		return append(dst, "null"...)
	}
	return strconv.AppendInt(dst, v, 10)
}

func (p *postgresSource) appendPayload(dst []byte, e *event.Event) []byte {
	s := &e.Source
	if !s.HasLSN {
		return p.appendAll(dst, e)
	}
	k := *s
	k.LSN = 0
	if !p.lsnOK || k != p.lsnKey {
		p.split(e)
		p.lsnKey, p.lsnOK = k, true
	}
	var buf [24]byte
	lsn := strconv.AppendInt(buf[:0], int64(s.LSN), 10)
	dst = append(dst, p.lsnA...)
	dst = append(dst, lsn...)
	dst = append(dst, p.lsnB...)
	dst = append(dst, lsn...)
	return append(dst, p.lsnC...)
}

// split writes lsnA, lsnB and lsnC for e's source (which has an LSN): what
// appendAll writes, without the LSN's two appearances.
func (p *postgresSource) split(e *event.Event) {
	s := &e.Source
	var buf [48]byte
	msb, usb := tsText(&buf, s.TsUs)
	a := p.appendHead(p.lsnA[:0], e, msb)
	a = append(a, `,"sequence":`...)
	p.lsnA = append(appendSequenceHead(a, s), `\"`...)
	b := append(p.lsnB[:0], `\"]"`...)
	b = appendTs(b, s.TsUs, usb)
	b = append(b, p.tail...)
	b = appendOptInt(b, s.TxID, s.HasTxID)
	p.lsnB = append(b, `,"lsn":`...)
	c := append(p.lsnC[:0], `,"xmin":`...)
	c = appendOptInt(c, s.Xmin, s.HasXmin)
	p.lsnC = append(c, '}')
}

// appendAll writes the block field by field.
func (p *postgresSource) appendAll(dst []byte, e *event.Event) []byte {
	s := &e.Source
	var buf [48]byte
	msb, usb := tsText(&buf, s.TsUs)
	dst = p.appendHead(dst, e, msb)
	dst = append(dst, `,"sequence":`...)
	dst = appendSequence(dst, s)
	dst = appendTs(dst, s.TsUs, usb)
	dst = append(dst, p.tail...)
	dst = appendOptInt(dst, s.TxID, s.HasTxID)
	dst = append(dst, `,"lsn":`...)
	dst = appendOptInt(dst, int64(s.LSN), s.HasLSN)
	dst = append(dst, `,"xmin":`...)
	dst = appendOptInt(dst, s.Xmin, s.HasXmin)
	return append(dst, '}')
}

func (p *postgresSource) appendField(dst []byte, field string, e *event.Event) ([]byte, bool) {
	s := &e.Source
	switch field {
	case "sequence":
		return appendSequence(dst, s), true
	case "schema":
		return appendString(dst, p.ns), true
	case "table":
		return appendString(dst, p.tbl), true
	case "txId":
		return appendOptInt(dst, s.TxID, s.HasTxID), true
	case "lsn":
		return appendOptInt(dst, int64(s.LSN), s.HasLSN), true
	case "xmin":
		return appendOptInt(dst, s.Xmin, s.HasXmin), true
	}
	return p.common.appendField(dst, field, e)
}

// genericSource serves connectors Debezium has no counterpart for (such as
// sluice's generator): the common fields plus optional schema and table,
// named io.debezium.connector.<connector>.Source. It is sluice's own shape.
type genericSource struct {
	common
	tail   []byte
	schemN string
	ns     string
	tbl    string
	lsn    bool // the block has lsn (the sql processor's results)
}

func newGenericSource(s *event.Schema) sourceBlock {
	g := &genericSource{common: newCommon(s), ns: s.Namespace, tbl: s.Table}
	g.schemN = "io.debezium.connector." + s.Connector + ".Source"
	g.tail = append(g.tail, `,"sequence":null`...)
	return g
}

// newSQLSource is the sql processor's results' block: the generic one
// plus lsn, which carries a result's version (event.Event.Version: the
// processor's epoch and output count), so that a result read back from a
// topic (sluice serve's persistent queries) still replaces the one written
// before it in an externally versioned index.
func newSQLSource(s *event.Schema) sourceBlock {
	g := newGenericSource(s).(*genericSource)
	g.lsn = true
	return g
}

func (g *genericSource) schema() []byte {
	lsn := ""
	if g.lsn {
		lsn = `,{"type":"int64","optional":true,"field":"lsn"}`
	}
	b := []byte(`{"type":"struct","fields":[` + commonSchema + `,` +
		`{"type":"string","optional":true,"field":"schema"},` +
		`{"type":"string","optional":true,"field":"table"}` + lsn +
		`],"optional":false,"name":`)
	b = appendString(b, g.schemN)
	return append(b, `,"field":"source"}`...)
}

func (g *genericSource) appendPayload(dst []byte, e *event.Event) []byte {
	var buf [48]byte
	msb, usb := tsText(&buf, e.Source.TsUs)
	dst = g.appendHead(dst, e, msb)
	dst = append(dst, g.tail...)
	dst = appendTs(dst, e.Source.TsUs, usb)
	dst = append(dst, `,"schema":`...)
	dst = appendOptString(dst, g.ns)
	dst = append(dst, `,"table":`...)
	dst = appendOptString(dst, g.tbl)
	if g.lsn {
		dst = append(dst, `,"lsn":`...)
		dst = appendOptInt(dst, int64(e.Source.LSN), e.Source.HasLSN)
	}
	return append(dst, '}')
}

func appendOptString(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, "null"...)
	}
	return appendString(dst, s)
}

func (g *genericSource) appendField(dst []byte, field string, e *event.Event) ([]byte, bool) {
	switch field {
	case "sequence":
		return append(dst, "null"...), true
	case "schema":
		return appendOptString(dst, g.ns), true
	case "table":
		return appendOptString(dst, g.tbl), true
	case "lsn":
		if g.lsn {
			return appendOptInt(dst, int64(e.Source.LSN), e.Source.HasLSN), true
		}
	}
	return g.common.appendField(dst, field, e)
}
