package format

import (
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/event"
)

// This file holds the column encodings of Debezium's MySQL connector where
// they differ from the PostgreSQL ones of column.go, with the connector's
// defaults (time.precision.mode=adaptive_time_microseconds,
// bigint.unsigned.handling.mode=long, binary.handling.mode=bytes,
// decimal.handling.mode=precise). They were checked by running Debezium
// 2.7.3.Final's MySqlValueConverters on the column definitions and on the
// Java values its binlog reader and its snapshot reader produce (see
// testdata/debezium273/):
//
//	DATETIME(0-3)     io.debezium.time.Timestamp, int64 ms
//	DATETIME(4-6)     io.debezium.time.MicroTimestamp, int64 µs
//	TIMESTAMP(fsp)    io.debezium.time.ZonedTimestamp in UTC; binlog rows with
//	                  exactly fsp fraction digits (".500Z" for fsp 3), snapshot
//	                  rows with as few as needed (".5Z"), because Debezium
//	                  formats the binlog's ZonedDateTime with the column's
//	                  width and the snapshot's java.sql.Timestamp without
//	TIME(fsp)         io.debezium.time.MicroTime, int64 µs, every fsp
//	                  (negative and past 24 h kept)
//	YEAR              io.debezium.time.Year, int32
//	SET               io.debezium.data.EnumSet, "allowed" = labels joined by ","
//	BIT(n), n > 1     io.debezium.data.Bits, "length" = n: the bits as
//	                  ceil(n/8) little-endian bytes (the binlog's big-endian
//	                  bytes reversed)
//	BIGINT UNSIGNED   int64, values past 2^63-1 wrapped negative
//
// DATE (Date), ENUM (Enum), JSON (Json), BIT(1) (boolean), the other
// unsigned integers (TINYINT UNSIGNED int16, SMALLINT and MEDIUMINT
// UNSIGNED int32, INT UNSIGNED int64: the source's event types) and DECIMAL
// encode as in column.go.

// newMySQLColCodec returns the codec of a column of Debezium's MySQL
// connector, or nil when the generic codec applies. snapshot selects the
// encoding of snapshot rows where it differs from that of binlog rows.
func newMySQLColCodec(col *event.Column, snapshot bool) *colCodec {
	c := &colCodec{name: col.Name}
	var t connectType
	switch {
	case col.Type == event.TypeTimestamp: // DATETIME(fsp)
		if col.Precision <= 3 {
			c.kind, t = kTimestampMillis, connectType{typ: "int64", name: "io.debezium.time.Timestamp", version: true}
		} else {
			c.kind, t = kTimestampMicros, connectType{typ: "int64", name: "io.debezium.time.MicroTimestamp", version: true}
		}
	case col.Type == event.TypeTimestampTZ: // TIMESTAMP(fsp)
		c.kind, t = kTimestampTZ, connectType{typ: "string", name: "io.debezium.time.ZonedTimestamp", version: true}
		if !snapshot && col.Precision > 0 && col.Precision <= 9 {
			c.width = col.Precision
		}
	case col.Type == event.TypeTime:
		c.kind, t = kTimeMicros, connectType{typ: "int64", name: "io.debezium.time.MicroTime", version: true}
	case strings.EqualFold(col.TypeName, "year"):
		c.kind, t = kInt32, connectType{typ: "int32", name: "io.debezium.time.Year", version: true}
	case strings.EqualFold(col.TypeName, "set"):
		c.kind, t = kEnum, connectType{typ: "string", name: "io.debezium.data.EnumSet", version: true, params: allowedParam(col.EnumValues)}
	case strings.EqualFold(col.TypeName, "bit") && col.Type == event.TypeBytes:
		c.kind, t = kBits, connectType{typ: "bytes", name: "io.debezium.data.Bits", version: true}
		if col.Length > 0 {
			t.params = `{"length":"` + strconv.Itoa(col.Length) + `"}`
			c.width = (col.Length + 7) / 8
		}
	case strings.EqualFold(col.TypeName, "bigint unsigned"):
		c.kind, t = kUnsignedLong, connectType{typ: "int64"}
	default:
		return nil
	}
	c.finish(col, false, col.Optional, t)
	return c
}

// mysqlSnapshotDiffers reports whether a snapshot row of the column encodes
// differently from a binlog row (TIMESTAMP with fractional seconds).
func mysqlSnapshotDiffers(col *event.Column) bool {
	return col.Type == event.TypeTimestampTZ && col.Precision > 0
}

// appendBits writes a BIT(n) value, big-endian as MySQL stores it, as
// Debezium's Bits: the bytes reversed into little-endian order and padded
// with zero bytes to n bytes (no padding when n is 0: unknown length).
func appendBits(dst []byte, be string, n int) []byte {
	var buf [8]byte
	le := buf[:0]
	if size := max(len(be), n); size > len(buf) {
		le = make([]byte, 0, size)
	}
	for i := len(be) - 1; i >= 0; i-- {
		le = append(le, be[i])
	}
	for len(le) < n {
		le = append(le, 0)
	}
	return appendBase64(dst, le)
}

// appendUnsignedLong writes an unsigned 64-bit integer as Debezium's
// bigint.unsigned.handling.mode=long does: the low 64 bits as a signed long.
func (c *colCodec) appendUnsignedLong(dst []byte, v event.Value) ([]byte, error) {
	switch v.Kind {
	case event.KindInt:
		return strconv.AppendInt(dst, v.AsInt(), 10), nil
	case event.KindDecimal, event.KindString:
		u, err := strconv.ParseUint(v.Str, 10, 64)
		if err != nil {
			return dst, c.valueError("bigint unsigned value is not an unsigned 64-bit integer")
		}
		return strconv.AppendInt(dst, int64(u), 10), nil
	}
	return dst, c.kindError(v)
}
