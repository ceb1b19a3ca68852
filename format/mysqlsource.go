package format

import (
	"strconv"

	"github.com/sluice-dev/sluice/event"
)

// mysqlSource is io.debezium.connector.mysql.Source of Debezium 2.7: the
// common fields (sequence always null), then table, server_id, gtid, file,
// pos, row, thread and query (null: sluice does not read the statement).
type mysqlSource struct {
	common
	tail []byte // ,"sequence":null
	tbl  []byte // ,"table":"…","server_id":
	name string
	// rows is the encoding of the last event's block around "row": the
	// events of one rows event (40 or so per 8 KiB binlog event) share
	// everything else. Like the block, it belongs to one encoder.
	rows struct {
		key   mysqlRowsKey
		valid bool
		head  []byte // up to and including ,"row":
		end   []byte // ,"thread":…}
	}
}

// mysqlRowsKey is what the block depends on besides the row number.
type mysqlRowsKey struct {
	tsUs   int64
	snap   event.SnapshotMark
	binlog event.Binlog
}

func newMySQLSource(s *event.Schema) sourceBlock {
	m := &mysqlSource{common: newCommon(s), name: s.Table}
	m.tail = append(m.tail, `,"sequence":null`...)
	m.tbl = append(m.tbl, `,"table":`...)
	m.tbl = appendOptString(m.tbl, s.Table)
	m.tbl = append(m.tbl, `,"server_id":`...)
	return m
}

func (m *mysqlSource) schema() []byte {
	return []byte(`{"type":"struct","fields":[` + commonSchema + `,` +
		`{"type":"string","optional":true,"field":"table"},` +
		`{"type":"int64","optional":false,"field":"server_id"},` +
		`{"type":"string","optional":true,"field":"gtid"},` +
		`{"type":"string","optional":false,"field":"file"},` +
		`{"type":"int64","optional":false,"field":"pos"},` +
		`{"type":"int32","optional":false,"field":"row"},` +
		`{"type":"int64","optional":true,"field":"thread"},` +
		`{"type":"string","optional":true,"field":"query"}` +
		`],"optional":false,"name":"io.debezium.connector.mysql.Source","field":"source"}`)
}

// binlogOf returns the event's coordinates (zero when the source set none).
func binlogOf(e *event.Event) *event.Binlog {
	if e.Source.Binlog != nil {
		return e.Source.Binlog
	}
	return &event.Binlog{}
}

func (m *mysqlSource) appendPayload(dst []byte, e *event.Event) []byte {
	b := binlogOf(e)
	k := mysqlRowsKey{tsUs: e.Source.TsUs, snap: e.Source.Snapshot, binlog: *b}
	if !m.rows.valid || m.rows.key != k {
		m.rows.head = m.appendHead(m.rows.head[:0], e, b)
		m.rows.end = append(m.rows.end[:0], `,"thread":`...)
		m.rows.end = appendOptInt(m.rows.end, int64(b.Thread), b.Thread != 0)
		m.rows.end = append(m.rows.end, `,"query":null}`...)
		m.rows.key, m.rows.valid = k, true
	}
	dst = append(dst, m.rows.head...)
	dst = strconv.AppendInt(dst, int64(e.Source.Row), 10)
	return append(dst, m.rows.end...)
}

// appendHead appends the block up to and including "row":.
func (m *mysqlSource) appendHead(dst []byte, e *event.Event, b *event.Binlog) []byte {
	var buf [48]byte
	msb, usb := tsText(&buf, e.Source.TsUs)
	dst = m.common.appendHead(dst, e, msb)
	dst = append(dst, m.tail...)
	dst = appendTs(dst, e.Source.TsUs, usb)
	dst = append(dst, m.tbl...)
	dst = strconv.AppendUint(dst, uint64(b.ServerID), 10)
	dst = append(dst, `,"gtid":`...)
	dst = appendOptString(dst, b.GTID)
	dst = append(dst, `,"file":`...)
	dst = appendString(dst, b.File)
	dst = append(dst, `,"pos":`...)
	dst = strconv.AppendUint(dst, b.Pos, 10)
	return append(dst, `,"row":`...)
}

func (m *mysqlSource) appendField(dst []byte, field string, e *event.Event) ([]byte, bool) {
	b := binlogOf(e)
	switch field {
	case "sequence", "query":
		return append(dst, "null"...), true
	case "table":
		return appendOptString(dst, m.name), true
	case "server_id":
		return strconv.AppendUint(dst, uint64(b.ServerID), 10), true
	case "gtid":
		return appendOptString(dst, b.GTID), true
	case "file":
		return appendString(dst, b.File), true
	case "pos":
		return strconv.AppendUint(dst, b.Pos, 10), true
	case "row":
		return strconv.AppendInt(dst, int64(e.Source.Row), 10), true
	case "thread":
		return appendOptInt(dst, int64(b.Thread), b.Thread != 0), true
	}
	return m.common.appendField(dst, field, e)
}
