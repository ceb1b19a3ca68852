// Package kafkarec turns events into Kafka-shaped records — topic, key,
// value, headers — exactly as Debezium's Kafka Connect deployment writes
// them. It is the one place that knows it: the Kafka sink produces these
// records to a broker, the topic-log sink (sink/topiclog) appends them to
// the local topic log, so that a consumer of either (source/kafka,
// source/topiclog, a Debezium consumer) reads the same bytes.
//
// # Records of an event
//
//   - Topic: the topic template rendered for the event, by default
//     "${stream}" = <source>.<schema>.<table>, Debezium's
//     <topic.prefix>.<schema>.<table>.
//   - Key: the row key as Debezium's key converter writes it (with the
//     schema part under format debezium+schema); a table without a key, and
//     a truncate, get a null key.
//   - Value: the event in the configured format; a delete is followed by a
//     tombstone (same key, null value) when TombstonesOnDelete is on, as
//     Debezium does, unless the value itself is already null (row format
//     with delete_handling: tombstone). An event of a skipped operation
//     gives no record at all.
//   - An update that changes the key becomes, as in Debezium, a delete of
//     the old key (plus its tombstone) and a create of the new key, with the
//     __debezium.newkey / __debezium.oldkey headers (format.Split).
//   - Headers (Headers on): sluice.stream, sluice.source, sluice.op,
//     sluice.position, sluice.ts_ms and, when the source has it,
//     sluice.commit_lsn (the envelope has no field for it; sluice's sources
//     of topics restore Event.Seq from it).
package kafkarec

import (
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
	"github.com/sluice-dev/sluice/internal/tmpl"
)

// Header names.
const (
	HeaderStream   = "sluice.stream"
	HeaderSource   = "sluice.source"
	HeaderOp       = "sluice.op"
	HeaderPosition = "sluice.position"
	HeaderTsMs     = "sluice.ts_ms"
	// HeaderCommitLSN carries event.Source.CommitLSN (PostgreSQL), which the
	// Debezium envelope has no field for, so that events read back keep
	// their Seq. Written only when set.
	HeaderCommitLSN = "sluice.commit_lsn"
)

// Header is a record header. It is franz-go's type, so that the Kafka sink
// hands the headers to its producer as they are.
type Header = kgo.RecordHeader

// Record is one record to write.
type Record struct {
	Topic string
	// Key and Value are nil for null.
	Key, Value []byte
	Headers    []Header
	// Event is the index of the event it was built from.
	Event int
}

// Builder builds records. Its configuration is read only; Append may be
// called from one goroutine at a time (the encoder is not shared).
type Builder struct {
	// Topic renders a record's topic; TopicText is its source text (for
	// messages).
	Topic     *tmpl.Template
	TopicText string
	// Enc encodes keys and values; Options are the format options it was
	// built with (for skipped_operations).
	Enc     format.Encoder
	Options *format.Options
	// TombstonesOnDelete writes a null-valued record with the delete's key
	// after every delete (Debezium's tombstones.on.delete).
	TombstonesOnDelete bool
	// Headers adds the sluice.* headers.
	Headers bool
}

// Append appends the records of event e, the i-th of its batch, to dst. An
// error means the event can never be written (its topic does not render,
// the encoder rejects it): records appended for it before the error are
// left in dst (the caller drops records of failed events by Event).
func (b *Builder) Append(dst []Record, i int, e *event.Event) ([]Record, error) {
	if b.Options != nil && b.Options.Skipped(e.Op) {
		return dst, nil // skipped_operations: no record, and no tombstone either
	}
	if !format.KeyChanged(e) {
		return b.append1(dst, i, e)
	}
	var parts [2]event.Event
	p := format.Split(e, &parts)
	del, cre := &p[0], &p[1]
	oldKey := b.Enc.AppendKey(nil, del)
	newKey := b.Enc.AppendKey(nil, cre)
	dst, err := b.append1(dst, i, del, Header{Key: format.HeaderNewKey, Value: newKey})
	if err != nil {
		return dst, err
	}
	return b.append1(dst, i, cre, Header{Key: format.HeaderOldKey, Value: oldKey})
}

func (b *Builder) append1(dst []Record, i int, e *event.Event, extra ...Header) ([]Record, error) {
	topic, err := b.Topic.RenderString(e)
	if err != nil {
		return dst, fmt.Errorf("topic: %w", err)
	}
	if topic == "" {
		return dst, fmt.Errorf("topic template %q renders empty for %s", b.TopicText, e.Schema.Stream)
	}
	val, ok, err := b.Enc.AppendValue(nil, e)
	if err != nil {
		return dst, err
	}
	key := b.Enc.AppendKey(nil, e)
	if string(key) == "null" {
		key = nil
	}
	var headers []Header
	if b.Headers {
		headers = []Header{
			{Key: HeaderStream, Value: []byte(e.Schema.Stream)},
			{Key: HeaderSource, Value: []byte(e.Schema.Source)},
			{Key: HeaderOp, Value: []byte{byte(e.Op)}},
			{Key: HeaderPosition, Value: []byte(e.Where())},
			{Key: HeaderTsMs, Value: strconv.AppendInt(nil, e.Source.TsMs(), 10)},
		}
		if e.Source.CommitLSN != 0 {
			headers = append(headers, Header{Key: HeaderCommitLSN, Value: strconv.AppendUint(nil, e.Source.CommitLSN, 10)})
		}
		headers = append(headers, extra...)
	}
	null := ok && string(val) == "null"
	if ok {
		if null {
			val = nil
		}
		dst = append(dst, Record{Topic: topic, Key: key, Value: val, Headers: headers, Event: i})
	}
	if e.Op == event.OpDelete && b.TombstonesOnDelete && !null {
		// A keyless table gets a tombstone with a null key, as from Debezium.
		dst = append(dst, Record{Topic: topic, Key: key, Headers: headers, Event: i})
	}
	return dst, nil
}
