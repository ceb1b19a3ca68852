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
//
// A Builder with an Arena builds keys, values and header values into its
// chunks instead of one allocation each (Arena says when its memory may be
// reused); the bytes are the same.
package kafkarec

import (
	"fmt"
	"slices"
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
	// Arena, when set, holds the records' bytes and headers (see Arena);
	// without it each is allocated on its own.
	Arena *Arena

	scratch []byte     // the topic being rendered
	last    string     // the last topic rendered
	skip    []event.Op // Options' skipped operations (Skipped parses them)
	ready   bool       // skip is set
}

// skipped is Options.Skipped(op), which parses the option on every call,
// worked out once.
func (b *Builder) skipped(op event.Op) bool {
	if !b.ready {
		if b.Options != nil {
			for _, o := range []event.Op{event.OpCreate, event.OpUpdate, event.OpDelete, event.OpTruncate, event.OpRead} {
				if b.Options.Skipped(o) {
					b.skip = append(b.skip, o)
				}
			}
		}
		b.ready = true
	}
	return slices.Contains(b.skip, op)
}

// Append appends the records of event e, the i-th of its batch, to dst. An
// error means the event can never be written (its topic does not render,
// the encoder rejects it): records appended for it before the error are
// left in dst (the caller drops records of failed events by Event).
func (b *Builder) Append(dst []Record, i int, e *event.Event) ([]Record, error) {
	if b.skipped(e.Op) {
		return dst, nil // skipped_operations: no record, and no tombstone either
	}
	if !format.KeyChanged(e) {
		return b.append1(dst, i, e)
	}
	var parts [2]event.Event
	p := format.Split(e, &parts)
	del, cre := &p[0], &p[1]
	d := b.Arena.tail()
	oldKey := b.Arena.keep(d, b.Enc.AppendKey(d, del))
	d = b.Arena.tail()
	newKey := b.Arena.keep(d, b.Enc.AppendKey(d, cre))
	dst, err := b.append1(dst, i, del, Header{Key: format.HeaderNewKey, Value: newKey})
	if err != nil {
		return dst, err
	}
	return b.append1(dst, i, cre, Header{Key: format.HeaderOldKey, Value: oldKey})
}

func (b *Builder) append1(dst []Record, i int, e *event.Event, extra ...Header) ([]Record, error) {
	topic, err := b.topic(e)
	if err != nil {
		return dst, fmt.Errorf("topic: %w", err)
	}
	if topic == "" {
		return dst, fmt.Errorf("topic template %q renders empty for %s", b.TopicText, e.Schema.Stream)
	}
	a := b.Arena
	d := a.tail()
	val, ok, err := b.Enc.AppendValue(d, e)
	if err != nil {
		return dst, err
	}
	val = a.keep(d, val)
	d = a.tail()
	key := a.keep(d, b.Enc.AppendKey(d, e))
	if string(key) == "null" {
		key = nil
	}
	var headers []Header
	if b.Headers {
		n := 5 + len(extra)
		if e.Source.CommitLSN != 0 {
			n++
		}
		headers = a.headers(n)
		headers = append(headers,
			Header{Key: HeaderStream, Value: a.text(e.Schema.Stream)},
			Header{Key: HeaderSource, Value: a.text(e.Schema.Source)},
			Header{Key: HeaderOp, Value: a.op(e.Op)},
		)
		d = a.tail()
		headers = append(headers, Header{Key: HeaderPosition, Value: a.keep(d, e.AppendWhere(d))})
		d = a.tail()
		headers = append(headers, Header{Key: HeaderTsMs, Value: a.keep(d, strconv.AppendInt(d, e.Source.TsMs(), 10))})
		if e.Source.CommitLSN != 0 {
			d = a.tail()
			headers = append(headers, Header{Key: HeaderCommitLSN, Value: a.keep(d, strconv.AppendUint(d, e.Source.CommitLSN, 10))})
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

// topic renders the record's topic. The last rendering is kept, so a run of
// events of one table allocates no string.
func (b *Builder) topic(e *event.Event) (string, error) {
	var err error
	b.scratch, err = b.Topic.Render(b.scratch[:0], e)
	if err != nil {
		return "", err
	}
	if string(b.scratch) != b.last {
		b.last = string(b.scratch)
	}
	return b.last, nil
}

// Arena holds the bytes and headers of the records a Builder builds, in
// chunks that never move: a record may be handed to a producer while more
// are built after it. It saves the allocations of every key, value and
// header (and the copies of growing each from empty). Reset makes its
// memory reusable, which is only correct once nothing reads the records
// built since the last Reset: the Kafka sink calls it when every promise
// of them has returned. The zero Arena is ready; a nil *Arena allocates
// every slice on its own.
type Arena struct {
	buf          []byte   // the chunk being filled
	used         [][]byte // chunks filled since Reset
	free         [][]byte // chunks to fill again
	hdr          []Header // the same for headers
	hused, hfree [][]Header
	last         int // length of the last value, to start it where it fits
}

const (
	arenaChunk   = 256 << 10
	headerChunk  = 4096
	arenaRetains = 64 // chunks kept by Reset (16 MiB); more are left to the collector
)

// Reset makes every chunk reusable.
func (a *Arena) Reset() {
	if a == nil {
		return
	}
	if a.buf != nil {
		a.used = append(a.used, a.buf)
		a.buf = nil
	}
	for _, c := range a.used {
		if len(a.free) < arenaRetains {
			a.free = append(a.free, c[:0])
		}
	}
	clear(a.used)
	a.used = a.used[:0]
	if a.hdr != nil {
		a.hused = append(a.hused, a.hdr)
		a.hdr = nil
	}
	for _, c := range a.hused {
		if len(a.hfree) < arenaRetains/4 {
			clear(c) // no references to old bytes
			a.hfree = append(a.hfree, c[:0])
		}
	}
	clear(a.hused)
	a.hused = a.hused[:0]
}

// tail is where the next slice is appended: an empty slice whose capacity
// is the rest of the chunk (nil without an arena).
func (a *Arena) tail() []byte {
	if a == nil {
		return nil
	}
	if cap(a.buf)-len(a.buf) < a.last+64 {
		a.next()
	}
	return a.buf[len(a.buf):]
}

func (a *Arena) next() {
	if a.buf != nil {
		a.used = append(a.used, a.buf)
	}
	if n := len(a.free); n > 0 {
		a.buf, a.free[n-1] = a.free[n-1], nil
		a.free = a.free[:n-1]
		return
	}
	a.buf = make([]byte, 0, arenaChunk)
}

// keep takes out, the result of appending to d (from tail): when it fit, it
// now belongs to the chunk; when it did not, the append allocated it on its
// own and the next slice starts a new chunk.
func (a *Arena) keep(d, out []byte) []byte {
	if a == nil {
		return out
	}
	if len(out) > a.last {
		a.last = min(len(out), arenaChunk/4)
	}
	if cap(out) == cap(d) { // appended in place
		a.buf = a.buf[:len(a.buf)+len(out)]
		return out[:len(out):len(out)]
	}
	a.next()
	return out
}

func (a *Arena) text(s string) []byte {
	if a == nil {
		return []byte(s)
	}
	d := a.tail()
	return a.keep(d, append(d, s...))
}

func (a *Arena) op(op event.Op) []byte {
	if a == nil {
		return []byte{byte(op)}
	}
	d := a.tail()
	return a.keep(d, append(d, byte(op)))
}

// headers returns an empty slice with room for n headers.
func (a *Arena) headers(n int) []Header {
	if a == nil {
		return make([]Header, 0, n)
	}
	if cap(a.hdr)-len(a.hdr) < n {
		if a.hdr != nil {
			a.hused = append(a.hused, a.hdr)
		}
		if k := len(a.hfree); k > 0 {
			a.hdr, a.hfree[k-1] = a.hfree[k-1], nil
			a.hfree = a.hfree[:k-1]
		} else {
			a.hdr = make([]Header, 0, max(headerChunk, n))
		}
	}
	l := len(a.hdr)
	a.hdr = a.hdr[:l+n]
	return a.hdr[l : l : l+n]
}
