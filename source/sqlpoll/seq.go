package sqlpoll

import (
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/event"
)

// Seqs. Sinks recognise a replayed event by its event.Seq (see the package
// doc, "Positions for the sinks"): the row's watermark mapped to two uint64
// words whose order is the order in which the source reads the rows — the
// database's ORDER BY of the same values. A mapping that got this wrong
// would make a sink skip a row it never wrote, so a value gets a word only
// where the database's order of it is known: integers (numerically),
// dates, times and timestamps (by their instant or wall clock, to the
// microsecond that PostgreSQL and MySQL store). Anything else (text,
// floats, decimals with a fraction, SQLite's untyped timestamps) gives the
// row the zero Seq: written at least once, never skipped.

// seqOf returns row r's Seq: (1, id) in incrementing mode, (timestamp, id)
// in timestamp+incrementing mode, (timestamp, key) in timestamp mode with
// one key column; the zero Seq when a value has no word or in bulk mode.
func (s *Source) seqOf(t *table, r row) event.Seq {
	switch s.cfg.Mode {
	case ModeIncrementing:
		if lo, ok := orderWord(r.vals[t.incIdx]); ok {
			return event.Seq{Hi: 1, Lo: lo}
		}
	case ModeTimestampIncrementing:
		hi, ok1 := t.tsWord(r.ts)
		lo, ok2 := orderWord(r.vals[t.incIdx])
		if ok1 && ok2 && hi != 0 {
			return event.Seq{Hi: hi, Lo: lo}
		}
	case ModeTimestamp:
		// Rows sharing a timestamp are read in key order (pollTimestamp,
		// readGroup), so one key column orders them within it.
		if len(t.schema.KeyIdx) != 1 || t.keyOrder == "" {
			break
		}
		hi, ok1 := t.tsWord(r.ts)
		lo, ok2 := orderWord(r.vals[t.schema.KeyIdx[0]])
		if ok1 && ok2 && hi != 0 {
			return event.Seq{Hi: hi, Lo: lo}
		}
	}
	return event.Seq{}
}

// tsWord maps a row's timestamp, typed by the result's column type (so
// that a driver's text and its typed form give the same word), to its
// order word.
func (t *table) tsWord(ts any) (uint64, bool) {
	if ts == nil {
		return 0, false
	}
	switch t.tsCol.Type {
	case event.TypeTimestamp, event.TypeTimestampTZ, event.TypeDate, event.TypeTime,
		event.TypeInt16, event.TypeInt32, event.TypeInt64, event.TypeDecimal:
	default:
		return 0, false
	}
	v, err := convert(&t.tsCol, ts)
	if err != nil {
		return 0, false
	}
	return orderWord(v)
}

// orderWord maps an integer value — or a date, time or timestamp, which
// are integers of days or microseconds — to a uint64 of the same order:
// the sign bit flipped, so that negative values come first. A decimal
// counts only when it is an integer within int64 (an unsigned BIGINT past
// it has no word).
func orderWord(v event.Value) (uint64, bool) {
	switch v.Kind {
	case event.KindInt:
		return uint64(v.AsInt()) ^ 1<<63, true
	case event.KindDecimal:
		s := v.Text()
		if whole, frac, ok := strings.Cut(s, "."); ok {
			if strings.Trim(frac, "0") != "" {
				return 0, false // a fraction: no integer word
			}
			s = whole // numeric(p,s) holding an integer: 42.00 is 42
		}
		i, err := strconv.ParseInt(s, 10, 64) // rejects exponents, NaN
		if err != nil {
			return 0, false
		}
		return uint64(i) ^ 1<<63, true
	}
	return 0, false
}
