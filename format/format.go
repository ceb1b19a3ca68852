// Package format turns events into bytes: the Debezium JSON change-event
// envelope (with or without its schema part), byte-compatible with what
// Debezium's JsonConverter writes, and the flat "row" of Debezium's
// ExtractNewRecordState ("unwrap").
//
// Encoders are hand-written appenders rather than encoding/json over maps:
// the envelope's field order and value encodings are fixed by Debezium, and
// the encode step is on the hot path (no reflection, no per-row maps).
package format

import (
	"fmt"

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
}

// UnwrapOptions mirror ExtractNewRecordState's options.
type UnwrapOptions struct {
	// DeleteHandling is drop | rewrite | tombstone: drop writes nothing for a
	// delete; rewrite writes the before image with "__deleted": "true" (and
	// "__deleted": "false" on every other row); tombstone writes null.
	DeleteHandling string `yaml:"delete_handling"`
	// AddFields adds metadata fields, each prefixed with "__": op, table,
	// schema, db, lsn, txId, ts_ms, source.ts_ms (written as __source_ts_ms).
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
	return enc, nil
}
