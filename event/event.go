// Package event is sluice's change-event model: one Event per row change,
// typed Values aligned with a shared, versioned Schema, and the source
// metadata every encoder needs.
//
// Invariants:
//   - A Schema is immutable once an Event points to it; a changed table gets
//     a new Schema with a higher Version. Encoders may cache per *Schema.
//     Document sources (MongoDB) have a Schema per document shape: a new
//     shape gets the next Version, and a document of a shape seen before
//     reuses that shape's Schema, so Versions of a stream may go back.
//   - Before and After are either nil (absent image) or exactly
//     len(Schema.Columns) long, in column order.
//   - Values hold no pointers into buffers that the source reuses: a source
//     hands Events over and never touches them again.
//
// The model deliberately uses no maps and no interface values per row, so
// the decode → encode hot path allocates one slice per image.
package event

import (
	"fmt"
	"strconv"
)

// Op is the kind of change, spelled as Debezium spells it.
type Op byte

// Operations.
const (
	OpRead     Op = 'r' // a row read by a snapshot
	OpCreate   Op = 'c'
	OpUpdate   Op = 'u'
	OpDelete   Op = 'd'
	OpTruncate Op = 't'
)

// String returns the one-letter Debezium code.
func (o Op) String() string { return string(rune(o)) }

// SnapshotMark says whether an event came from a snapshot, with Debezium's
// three-valued source.snapshot field ("true", "last", "false").
type SnapshotMark uint8

// Snapshot marks.
const (
	SnapshotFalse SnapshotMark = iota
	SnapshotTrue
	SnapshotLast
	SnapshotFirst
	SnapshotIncremental
	// SnapshotFirstInTable and SnapshotLastInTable mark the first and the
	// last row of a table other than the snapshot's very first and last
	// rows (Debezium 2.x: "first_in_data_collection",
	// "last_in_data_collection").
	SnapshotFirstInTable
	SnapshotLastInTable
)

// String returns Debezium's spelling.
func (s SnapshotMark) String() string {
	switch s {
	case SnapshotTrue:
		return "true"
	case SnapshotLast:
		return "last"
	case SnapshotFirst:
		return "first"
	case SnapshotIncremental:
		return "incremental"
	case SnapshotFirstInTable:
		return "first_in_data_collection"
	case SnapshotLastInTable:
		return "last_in_data_collection"
	}
	return "false"
}

// Source is the per-event source metadata. Fields that a connector kind does
// not have stay zero; Has* flags distinguish "zero" from "absent" where
// Debezium writes null.
type Source struct {
	// TsUs is the commit time of the change in the source, in microseconds
	// since the epoch, with the precision the source really has: PostgreSQL
	// commit times have microseconds; MySQL binlog times are whole seconds
	// and MongoDB's wall times milliseconds, so theirs end in zeros, as
	// Debezium's ts_us does for them. TsMs derives source.ts_ms from it.
	TsUs int64
	TxID int64 // transaction id
	// PostgreSQL.
	LSN           uint64 // LSN of the change (0 for snapshot rows before streaming)
	LastCommitLSN uint64 // commit LSN of the previous transaction (Debezium "sequence"[0])
	CommitLSN     uint64 // LSN of this transaction's commit record; grows in commit order
	Xmin          int64  // always absent today (Debezium writes null unless xmin.fetch.interval.ms)
	// Flags last, so the struct packs into 56 bytes.
	Snapshot SnapshotMark // snapshot flag
	HasTxID  bool
	HasLSN   bool
	HasXmin  bool
	// MySQL (after the flags: Row fills their padding, so Source is 64
	// bytes). LSN and CommitLSN hold the binlog order, see Event.Seq.
	Row    int32   // row number within its binlog rows event (Debezium "row")
	Binlog *Binlog // binlog coordinates; nil for other sources
}

// TsMs returns the commit time in milliseconds since the epoch (TsUs
// rounded down, as Java's Instant.toEpochMilli does).
func (s *Source) TsMs() int64 { return floorDiv(s.TsUs, 1000) }

// UsFromMs returns the microseconds of a time that the source has in
// milliseconds, for Source.TsUs.
func UsFromMs(ms int64) int64 { return ms * 1000 }

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// Binlog is where a MySQL change sits in the binary log. One is shared by
// every row of a binlog rows event (and snapshot rows share one), so it
// costs an allocation per rows event, not per row.
type Binlog struct {
	File     string // binlog file name, e.g. "binlog.000003"
	Pos      uint64 // position of the rows event in File (snapshot: the consistent position)
	GTID     string // the transaction's GTID ("" when the server has none, and for snapshot rows)
	ServerID uint32 // id of the server that wrote the event (0 for snapshot rows)
	Thread   uint32 // id of the session that made the change (0 when unknown)
}

// Event is one change.
type Event struct {
	Schema *Schema // table identity and columns; shared, versioned
	Before []Value // nil when absent
	After  []Value // nil when absent
	Source Source
	// TsMs is the time sluice processed the event (Debezium's payload ts_ms).
	TsMs int64
	// Position is the source's position for this event, opaque to the
	// engine, printed in dead-letter records and logs. A source may leave it
	// empty on its hot path; Where then derives it from Source.
	Position string
	Op       Op // last, so the struct packs into 152 bytes
}

// Key returns the key values of the event's row: from After, or Before for
// deletes. It returns nil when the table has no key.
func (e *Event) Key() []Value {
	if len(e.Schema.KeyIdx) == 0 {
		return nil
	}
	img := e.After
	if img == nil {
		img = e.Before
	}
	if img == nil {
		return nil
	}
	k := make([]Value, len(e.Schema.KeyIdx))
	for i, c := range e.Schema.KeyIdx {
		k[i] = img[c]
	}
	return k
}

// Where returns the event's source position for messages: Position when
// the source set it, else one derived from Source ("lsn 0/16B3748", "tx 42").
func (e *Event) Where() string {
	if e.Position != "" {
		return e.Position
	}
	return string(e.AppendWhere(nil))
}

// AppendWhere appends Where's text to dst, without allocating it (the
// Kafka sink writes it into every record's sluice.position header).
func (e *Event) AppendWhere(dst []byte) []byte {
	switch {
	case e.Position != "":
		return append(dst, e.Position...)
	case e.Source.Binlog != nil:
		dst = append(dst, "binlog "...)
		dst = append(dst, e.Source.Binlog.File...)
		dst = append(dst, ':')
		dst = strconv.AppendUint(dst, e.Source.Binlog.Pos, 10)
		dst = append(dst, " row "...)
		return strconv.AppendInt(dst, int64(e.Source.Row), 10)
	case e.Source.HasLSN:
		dst = append(dst, "lsn "...)
		dst = appendHexUpper(dst, e.Source.LSN>>32)
		dst = append(dst, '/')
		return appendHexUpper(dst, uint64(uint32(e.Source.LSN)))
	case e.Source.HasTxID:
		dst = append(dst, "tx "...)
		return strconv.AppendInt(dst, e.Source.TxID, 10)
	}
	return append(dst, "unknown position"...)
}

// appendHexUpper is %X of v.
func appendHexUpper(dst []byte, v uint64) []byte {
	const digits = "0123456789ABCDEF"
	var b [16]byte
	i := len(b)
	for {
		i--
		b[i] = digits[v&0xF]
		v >>= 4
		if v == 0 {
			break
		}
	}
	return append(dst, b[i:]...)
}

// String is a short description for logs and errors (never row contents).
func (e *Event) String() string {
	return fmt.Sprintf("%s %s at %s", e.Op, e.Schema.Stream, e.Where())
}

// Version returns a number that only grows for the same row key over the
// life of a source, for destinations that version documents externally
// (OpenSearch's version_type=external): a stale replay carries a smaller or
// equal version and is rejected by the destination. Snapshot rows get 1,
// below any change, because a change committed after the snapshot may have
// been written to the log before the snapshot's position. An incremental
// snapshot row (SnapshotIncremental) with a CommitLSN above 1 gets that
// instead: its source vouches that it is above the version of every change
// the row reflects and below that of every change of the row emitted after
// it (see source/postgres's incremental snapshots), so a re-read row
// replaces an outdated copy but never a newer change. ok is false when the
// source gives no such order.
//
// PostgreSQL: the LSN of the change's WAL record. Row locks make it grow per
// key: a second change to a row waits for the first one's commit.
//
// MySQL: binlog file number, position of the rows event and row number
// packed as file<<48 | pos<<16 | row (HasLSN is false when they do not
// fit: file numbers from 32768, rows events past 4 GiB or of 65536 rows).
//
// MongoDB: the change's cluster time (seconds<<32 | increment). Changes of
// one multi-document transaction share it, so a document changed twice in
// one transaction gets the same version twice and an externally versioned
// index keeps the first of the two.
func (e *Event) Version() (v int64, ok bool) {
	if e.Source.Snapshot != SnapshotFalse {
		if e.Source.Snapshot == SnapshotIncremental && e.Source.CommitLSN > 1 && e.Source.CommitLSN <= 1<<63-1 {
			return int64(e.Source.CommitLSN), true
		}
		return 1, true
	}
	if e.Source.HasLSN && e.Source.LSN > 1 && e.Source.LSN <= 1<<63-1 {
		return int64(e.Source.LSN), true
	}
	return 0, false
}

// Seq is an event's place in its source's total order of changes — or in
// its stream's, when Schema.SeqPerStream is set. Sinks that store their
// position next to the data (SQL tables, the S3 spool) compare Seqs to
// recognise a replay: an event whose Seq is not after the stored one is
// already written. The zero Seq means "no order" (snapshot rows, sources
// without one); such events are never skipped and must be written
// idempotently. A source gives its events a nonzero Seq only if it emits
// them in strictly increasing Seq order (per stream with SeqPerStream) and
// gives an event delivered again after a restart the same Seq: sinks skip
// an event whose Seq is not after the largest they stored for its source
// (or stream).
type Seq struct{ Hi, Lo uint64 }

// IsZero reports whether s is the zero Seq.
func (s Seq) IsZero() bool { return s == Seq{} }

// Compare returns -1, 0 or +1 as s is before, equal to or after o.
func (s Seq) Compare(o Seq) int {
	switch {
	case s.Hi < o.Hi:
		return -1
	case s.Hi > o.Hi:
		return 1
	case s.Lo < o.Lo:
		return -1
	case s.Lo > o.Lo:
		return 1
	}
	return 0
}

// Seq returns the event's Seq, zero for snapshot rows.
//
// PostgreSQL: (LSN of the transaction's commit record, LSN of the change):
// the first grows with every transaction in commit order, the second with
// every change inside one, and both are the same when a transaction is
// streamed again after a restart.
//
// MySQL: (file<<32 | position of the transaction's first event, the
// packed LSN above): transactions are written to the binlog in commit order.
//
// MongoDB: (the change's cluster time, seconds<<32 | increment, in
// CommitLSN; the change's ordinal among the changes sharing that cluster
// time, in Row): every change of a multi-document transaction carries the
// transaction's cluster time, so the ordinal tells them apart.
//
// sql_poll: the row's watermark, in CommitLSN and LSN (HasLSN stays false:
// it is no log position) and per stream (SeqPerStream): (1, id) in
// incrementing mode, (timestamp, id) in timestamp+incrementing mode and
// (timestamp, key) in timestamp mode with one integer key column, each
// word mapped so that the order of the uint64s is the database's order of
// the values (signed integers and instants with their sign bit flipped).
// Rows whose values have no such mapping, and bulk mode, get the zero Seq;
// see source/sqlpoll.
func (e *Event) Seq() Seq {
	if e.Source.Snapshot != SnapshotFalse || e.Source.CommitLSN == 0 {
		return Seq{}
	}
	if e.Schema != nil && e.Schema.SeqByRow {
		return Seq{Hi: e.Source.CommitLSN, Lo: uint64(e.Source.Row)}
	}
	return Seq{Hi: e.Source.CommitLSN, Lo: e.Source.LSN}
}

// Size estimates the memory an event holds, in bytes: the struct, its
// images and the strings they point to. Sinks batch by it.
func (e *Event) Size() int {
	return int(unsafeEventSize) + imageSize(e.Before) + imageSize(e.After) + len(e.Position)
}

const unsafeEventSize = 152

func imageSize(img []Value) int {
	n := 0
	for i := range img {
		n += valueSize(img[i])
	}
	return n
}

func valueSize(v Value) int {
	n := 40 + len(v.Str)
	if v.Kind == KindArray {
		n += ElemsSize(&v)
	}
	return n
}

// ElemsSize is what an array value's elements add to an event's Size (0
// for any other value): for a decoder that sums Size as it decodes.
func ElemsSize(v *Value) int {
	n := 0
	if v.Kind == KindArray {
		for _, e := range v.Elems() {
			n += valueSize(e)
		}
	}
	return n
}
