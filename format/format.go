// Package format is the Debezium codec: it turns events into bytes — the
// Debezium JSON change-event envelope (with or without its schema part),
// byte-compatible with what Debezium's PostgreSQL, MySQL and MongoDB
// connectors write through Kafka Connect's JsonConverter, and the flat "row"
// of Debezium's ExtractNewRecordState ("unwrap") — and, with Decoder
// (decode.go), Debezium's JSON back into events (the Kafka source's input;
// the MongoDB connector's envelope too, mongodecode.go).
//
// Encoders are hand-written appenders rather than encoding/json over maps:
// the envelope's field order and value encodings are fixed by Debezium, and
// the encode step is on the hot path (no reflection, no per-row maps; the
// product row of the benchmarks encodes without allocating). Per table
// schema, an encoder precomputes the column encodings, the constant parts of
// the source block and, for debezium+schema, the whole schema JSON; it
// reuses the last source block and envelope tail (op, ts_ms, ts_us, ts_ns)
// while events repeat them, as a batch's do. The fast paths (strings
// escaped eight bytes at a time, doubles in Java's plain range from
// strconv's shortest 'f' digits, or from their integer hundredths when
// they have at most two decimals, as prices do) are tested byte for byte
// against the code they replaced (fastpath_test.go).
//
// # Compatibility target
//
// The output is that of Debezium 2.7.3.Final ([DebeziumVersion]) on Kafka
// Connect 3.7, checked byte for byte against messages those versions wrote
// (see capture_test.go). 2.7 is the last 2.x line, still widely deployed, and
// the one seed 001's 1.7 shape evolved into; relative to 1.7 it adds ts_us and
// ts_ns to source and envelope, declares "incremental" among source.snapshot's
// values, names the transaction block "event.block" and places it before
// "op", and gives the Envelope schema version 2. The payload order is:
//
//	{"before":…,"after":…,"source":{"version","connector","name","ts_ms",
//	"snapshot","db","sequence","ts_us","ts_ns","schema","table","txId","lsn",
//	"xmin"},"transaction":null,"op":…,"ts_ms":…,"ts_us":…,"ts_ns":…}
//
// source.sequence is always the string "[lastCommitLsn,lsn]" (entries null
// where unknown, as for snapshot rows: "[null,\"23043592\"]"); txId, lsn and
// xmin are null when absent. source.ts_ms, ts_us and ts_ns come from
// event.Source.TsUs, which has the precision of the source (PostgreSQL
// commit times have microseconds, as Debezium writes them; MySQL's and
// MongoDB's end in zeros, as Debezium's do); the envelope's ts_us and ts_ns
// are its ts_ms (sluice's processing time, in milliseconds) scaled.
// Truncate events have null before and after and a null key; like
// Debezium 2.x (skipped.operations=t) the formats write none unless
// Options.SkippedOperations says otherwise.
//
// An update that changes the row's key is two records in Debezium: a delete
// of the old key, then a create of the new one. Split makes them, and every
// writer of formatted events (AppendLines for files, stdout and S3; the
// Kafka sink, which adds tombstones and Debezium's key-change headers) goes
// through it.
//
// cmd/sluice's TestDebeziumDifferential checks all of this against
// Debezium 2.7.3's embedded engine on the same database. Known and accepted
// differences: doubles in the shortest round-trip form (what Debezium prints
// on Java 19+; Java 17 prints 9.999999999999999E22 for 1e23), and two quirks
// of Debezium's snapshot reader alone (the minimum money value, timestamps
// in year 1), where sluice writes what Debezium writes for streamed rows.
//
// The source
// block is chosen by event.Schema.Connector; connectors without a Debezium
// counterpart get a generic block (common fields, schema, table).
//
// # Values
//
// Debezium's defaults: decimal.handling.mode=precise (Connect Decimal, base64
// of the two's-complement unscaled value at the column scale;
// io.debezium.data.VariableScaleDecimal {"scale","value"} for unconstrained
// numeric), time.precision.mode=adaptive (Date int32 days, Time int32 ms or
// MicroTime int64 µs, Timestamp int64 ms or MicroTimestamp int64 µs by
// fractional precision; ZonedTime and ZonedTimestamp as ISO strings in UTC,
// the latter with exactly as many fraction digits as the column's precision,
// as Debezium's PostgreSQL connector does since 2.2),
// binary.handling.mode=bytes (base64), interval.handling.mode=numeric
// (MicroDuration), money as
// Decimal scale 2, JSON, UUID, XML and enums as strings with their semantic
// names. Numbers and strings are written as Jackson writes them: doubles and
// floats as Java's Double.toString/Float.toString (shortest round-trip digits,
// as Java 19+ prints them; JDK 17 occasionally prints one more digit),
// NaN/Infinity as the strings "NaN"/"Infinity"/"-Infinity", strings with
// Jackson's escapes (\u00XX upper-case for control characters, '/' and
// non-ASCII unescaped except characters outside the Basic Multilingual
// Plane, which Jackson 2.16 writes as their two UTF-16 surrogates
// "\uD83C\uDF0D"); invalid UTF-8, which a Java String cannot hold,
// becomes U+FFFD.
//
// Like JsonConverter (replace.null.with.default, on by default), a NULL in a
// column with a default is written as the default;
// Options.ReplaceNullWithDefault turns that off.
//
// Columns of the MySQL connector (Schema.Connector "mysql") get the
// encodings of Debezium's MySQL connector where they differ (its defaults:
// time.precision.mode=adaptive_time_microseconds,
// bigint.unsigned.handling.mode=long): DATETIME(0-3) Timestamp ms,
// DATETIME(4-6) MicroTimestamp, TIMESTAMP(fsp) ZonedTimestamp with fsp
// fraction digits for binlog rows and as few as needed for snapshot rows (as
// Debezium's two readers format them), every TIME as MicroTime, YEAR as
// io.debezium.time.Year, SET as io.debezium.data.EnumSet, BIT(n>1) as
// io.debezium.data.Bits in little-endian byte order, BIGINT UNSIGNED as a
// wrapping int64; see mysqlcolumn.go. Column.Precision is the fractional
// precision as the MySQL source sets it (0 is 0, not PostgreSQL's 6).
//
// Events of the MongoDB connector (Schema.Connector "mongodb") get the
// Debezium 2.7 MongoDB connector's envelope (before/after as Extended JSON
// strings in the Java driver's STRICT mode, updateDescription, the
// io.debezium.connector.mongo.Source block), its key {"id": "<_id>"}, and
// ExtractNewDocumentState's row; see mongo.go and bsonjson.go.
//
// Deviations that keep data safe rather than silently different: a numeric
// NaN or Infinity, or a decimal with more fraction digits than its column's
// scale, is an error (Debezium stops the connector on both in precise mode),
// as is a value whose kind does not fit its column. Temporal columns use
// Column.Precision as their fractional precision and treat 0 as PostgreSQL's
// default 6, so time(0)/timestamp(0) encode as the 6-digit types.
//
// # Unchanged TOAST values
//
// An event.KindUnchanged value (PostgreSQL did not send an unchanged TOASTed
// column) is written as Debezium's default placeholder,
// "__debezium_unavailable_value" ([UnavailableValuePlaceholder]): as the
// string for string-typed columns, base64 of its bytes for bytea, and for
// arrays as Debezium does (its bytes as numbers for integer and date arrays,
// a one-element string array otherwise), so that consumers that know it keep
// working. sluice's own sinks see event.KindUnchanged and keep the stored
// value instead.
//
// # Row format
//
// The row format is ExtractNewRecordState then JsonConverter without schemas:
// the after image as a flat object, then "__deleted" under delete_handling
// rewrite (Debezium 2.x adds it before the add_fields; 1.x added it after),
// then the add_fields in the configured order ("op" → "__op",
// "source.ts_ms" → "__source_ts_ms", "ts_ms" → the envelope's "__ts_ms",
// other names from source). Deletes are dropped (drop), written as null
// (tombstone) or as the before image with "__deleted":"true" (rewrite).
// Truncate events produce nothing, as ExtractNewRecordState drops records
// with neither image.
package format

import (
	"fmt"
	"strings"

	"github.com/sluice-dev/sluice/event"
)

// Encoder encodes events. An Encoder is used by one goroutine at a time and
// may cache per *event.Schema.
type Encoder interface {
	// AppendValue appends the encoded event value (one JSON document, no
	// trailing newline) to dst. ok is false when the event produces no
	// output at all (for example a delete under delete_handling: drop). A
	// tombstone is encoded as the JSON literal null.
	AppendValue(dst []byte, e *event.Event) (out []byte, ok bool, err error)
	// AppendKey appends the event's key as Debezium's key converter writes it
	// (a JSON object of the key columns, with the schema part when the format
	// has schemas), or null for a table without a key.
	AppendKey(dst []byte, e *event.Event) []byte
}

// Options configure an encoder. They are embedded (inline) in the
// configuration of every sink that writes formatted events.
type Options struct {
	// Format is debezium | debezium+schema | row.
	Format string `yaml:"format"`
	// Unwrap configures the row format.
	Unwrap UnwrapOptions `yaml:"unwrap"`
	// ReplaceNullWithDefault mirrors JsonConverter's replace.null.with.default
	// (default true): a NULL in a column that has a default is written as
	// that default, as Kafka Connect does. Set it to false to write null.
	ReplaceNullWithDefault *bool `yaml:"replace_null_with_default"`
	// SkippedOperations mirrors Debezium's skipped.operations: the
	// operations written as nothing, a comma-separated list of c (create),
	// u (update), d (delete) and t (truncate), or "none". Unset, it is
	// Debezium 2.x's default "t": truncate events are not written. It
	// applies to every format (the row format writes no truncates anyway).
	SkippedOperations *string `yaml:"skipped_operations"`
}

// DefaultSkippedOperations is Debezium 2.x's default skipped.operations.
const DefaultSkippedOperations = "t"

// Skipped reports whether the options skip events of op: an encoder writes
// nothing for them, and writers add nothing of their own (no tombstone
// after a skipped delete). Invalid options skip nothing; New reports them.
func (o *Options) Skipped(op event.Op) bool {
	s, err := parseSkipped(o.SkippedOperations)
	return err == nil && s.has(op)
}

// opSet is a set of operations.
type opSet uint8

func (s opSet) has(op event.Op) bool {
	switch op {
	case event.OpCreate:
		return s&1 != 0
	case event.OpUpdate:
		return s&2 != 0
	case event.OpDelete:
		return s&4 != 0
	case event.OpTruncate:
		return s&8 != 0
	}
	return false
}

func parseSkipped(p *string) (opSet, error) {
	spec := DefaultSkippedOperations
	if p != nil {
		spec = *p
	}
	var s opSet
	if strings.TrimSpace(spec) == "none" {
		return 0, nil
	}
	for _, f := range strings.Split(spec, ",") {
		switch strings.TrimSpace(f) {
		case "c":
			s |= 1
		case "u":
			s |= 2
		case "d":
			s |= 4
		case "t":
			s |= 8
		case "":
		default:
			return 0, fmt.Errorf("skipped_operations: unknown operation %q in %q (use a comma-separated list of c, u, d, t, or none)", strings.TrimSpace(f), spec)
		}
	}
	return s, nil
}

// UnwrapOptions mirror ExtractNewRecordState's options.
type UnwrapOptions struct {
	// DeleteHandling is drop | rewrite | tombstone: drop writes nothing for a
	// delete; rewrite writes the before image with "__deleted": "true" (and
	// "__deleted": "false" on every other row); tombstone writes null
	// ("none", Debezium's name for it, is accepted too). Empty means drop.
	DeleteHandling string `yaml:"delete_handling"`
	// AddFields adds metadata fields, each prefixed with "__": op, table,
	// schema, db, lsn, txId, ts_ms, source.ts_ms (written as __source_ts_ms),
	// and Debezium's other names (ts_us, ts_ns, name, snapshot, sequence,
	// xmin, version, connector, source.<field>, "field:newname").
	AddFields []string `yaml:"add_fields"`
}

// Names of the formats.
const (
	Debezium       = "debezium"
	DebeziumSchema = "debezium+schema"
	Row            = "row"
)

// DefaultOptions returns the defaults: the Debezium envelope without schema.
func DefaultOptions() Options {
	return Options{Format: Debezium, Unwrap: UnwrapOptions{DeleteHandling: "drop"}}
}

// New returns an encoder for opts, or an error naming the bad option.
func New(opts Options) (Encoder, error) {
	var enc Encoder
	switch opts.Format {
	case Debezium:
		enc = newDebezium(false)
	case DebeziumSchema:
		enc = newDebezium(true)
	case Row:
		var err error
		if enc, err = newRow(opts.Unwrap); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown format %q (use debezium, debezium+schema or row)", opts.Format)
	}
	if opts.ReplaceNullWithDefault != nil {
		enc.(interface{ setReplaceNullWithDefault(bool) }).setReplaceNullWithDefault(*opts.ReplaceNullWithDefault)
	}
	skip, err := parseSkipped(opts.SkippedOperations)
	if err != nil {
		return nil, err
	}
	enc.(interface{ setSkipped(opSet) }).setSkipped(skip)
	return enc, nil
}
