package exec

import (
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/types"
)

// input is one row offered to a source: a change event of a sluice
// stream, or an output row of another query.
type input struct {
	del    bool          // a delete: vals is the before image (or only the key)
	vals   []event.Value // the image
	before []event.Value // an update's before image, when the source sent one
	evs    *event.Schema // the event's schema, or
	q      *query        // the query whose output this is
	ts     int64         // commit time (events) or the upstream row's time
	skip   bool          // nothing to offer (a truncate)
}

// schema identifies the input's column names, for the mapping cache.
func (in *input) schema() any {
	if in.evs != nil {
		return in.evs
	}
	return in.q
}

func (in *input) names() []string {
	if in.evs == nil {
		return in.q.names
	}
	n := make([]string, len(in.evs.Columns))
	for i := range in.evs.Columns {
		n[i] = in.evs.Columns[i].Name
	}
	return n
}

func eventInput(ev *event.Event) *input {
	in := &input{evs: ev.Schema, ts: ev.Source.TsUs}
	switch ev.Op {
	case event.OpDelete:
		in.del, in.vals = true, ev.Before
		if in.vals == nil {
			in.vals = keyImage(ev)
		}
	case event.OpTruncate:
		in.skip = true
	default:
		in.vals, in.before = ev.After, ev.Before
		if in.vals == nil {
			in.skip = true
		}
	}
	return in
}

// keyImage is a delete's image when the source sent no before image but
// knows the key: the key columns, NULL elsewhere.
func keyImage(ev *event.Event) []event.Value {
	k := ev.Key()
	if k == nil {
		return nil
	}
	img := make([]event.Value, len(ev.Schema.Columns))
	for i, c := range ev.Schema.KeyIdx {
		img[c] = k[i]
	}
	return img
}

func rowInput(row *Row, q *query) *input {
	in := &input{q: q, ts: row.Time}
	switch row.Op {
	case Delete:
		in.del = true
		img := make([]event.Value, len(q.schema.Columns))
		for i, c := range q.schema.Key {
			img[c] = row.Key[i]
		}
		in.vals = img
	default:
		in.vals = row.Value
	}
	return in
}

// Pseudo-columns a source fills after its declared columns.
const (
	pseudoRowTime = iota
	pseudoRowPartition
	pseudoRowOffset
)

// sourceOp reads a stream as a SQL stream or table. A table source keeps
// every key's current row in state (space 't': encoded key → event time,
// row), which its view reads.
type sourceOp struct {
	q      *query
	n      *ir.Source
	out    link
	table  bool
	rows   []byte // state prefix of a table's rows
	ndecl  int    // declared columns (the rest are pseudo-columns)
	pseudo []int
	keyIdx []int
	// Event time from a column: its index, and its conversion.
	tsCol   int
	tsParse func(string) (int64, error)
	deleted int // the declared column __DELETED (-1: none)
	rewrite bool
	maps    map[any][]int // column mapping per input schema
	st      stateIO
	hold    *holdGroup // table sources: the snapshot tracking of their stream
}

func (b *builder) source(n *ir.Source, out link) (view, error) {
	pfx, err := b.prefix()
	if err != nil {
		return nil, err
	}
	s := &sourceOp{q: b.q, n: n, out: out, table: n.K == ir.Table, rows: append(pfx, 't'), tsCol: n.TimestampCol,
		deleted: -1, maps: map[any][]int{}, st: stateIO{b.x.st}}
	s.ndecl = len(n.FromColumns)
	if s.ndecl == 0 || s.ndecl > len(n.S.Columns) {
		s.ndecl = len(n.S.Columns)
		for s.ndecl > 0 && pseudoIndex(n.S.Columns[s.ndecl-1].Name) >= 0 {
			s.ndecl--
		}
	}
	for _, c := range n.S.Columns[s.ndecl:] {
		p := pseudoIndex(c.Name)
		if p < 0 {
			return nil, fmt.Errorf("source %s: column %s follows the pseudo-columns", n.Name, c.Name)
		}
		s.pseudo = append(s.pseudo, p)
	}
	switch n.DeleteHandling {
	case "", "drop":
	case "rewrite":
		s.rewrite = true
	default:
		return nil, fmt.Errorf("source %s: unknown delete handling %q (drop or rewrite)", n.Name, n.DeleteHandling)
	}
	for i := 0; i < s.ndecl; i++ {
		if strings.EqualFold(s.from(i), "__deleted") {
			s.deleted = i
		}
	}
	s.keyIdx = n.S.Key
	if s.table && len(s.keyIdx) == 0 {
		return nil, fmt.Errorf("table %s has no PRIMARY KEY", n.Name)
	}
	if s.tsCol >= s.ndecl {
		return nil, fmt.Errorf("source %s: the timestamp column %d is not a declared column", n.Name, s.tsCol)
	}
	if s.tsCol >= 0 {
		t := n.S.Columns[s.tsCol].Type
		switch t.Base {
		case types.Bigint, types.Integer, types.Timestamp, types.Date:
		case types.String:
			if n.TimestampFormat == "" {
				return nil, fmt.Errorf("source %s: the STRING timestamp column %s needs a timestamp_format", n.Name, n.S.Columns[s.tsCol].Name)
			}
			if b.x.opts.ParseTime == nil {
				return nil, fmt.Errorf("source %s: a timestamp_format needs Options.ParseTime", n.Name)
			}
			if s.tsParse, err = b.x.opts.ParseTime(n.TimestampFormat); err != nil {
				return nil, fmt.Errorf("source %s: timestamp_format: %w", n.Name, err)
			}
		default:
			return nil, fmt.Errorf("source %s: a timestamp column of type %s", n.Name, t)
		}
	}
	b.q.sources = append(b.q.sources, s)
	b.x.byStream[n.Stream] = append(b.x.byStream[n.Stream], s)
	if s.table {
		return s, nil
	}
	return nil, nil
}

func pseudoIndex(name string) int {
	switch name {
	case ir.RowTime:
		return pseudoRowTime
	case ir.RowPartition:
		return pseudoRowPartition
	case ir.RowOffset:
		return pseudoRowOffset
	}
	return -1
}

// from is the input column declared column i reads.
func (s *sourceOp) from(i int) string {
	if i < len(s.n.FromColumns) && s.n.FromColumns[i] != "" {
		return s.n.FromColumns[i]
	}
	return s.n.S.Columns[i].Name
}

// mapping returns, per declared column, the index of the input column it
// reads (-1: absent, NULL). Columns match by exact name, else ignoring
// case. The cache is per input schema and bounded.
func (s *sourceOp) mapping(in *input) []int {
	if m, ok := s.maps[in.schema()]; ok {
		return m
	}
	names := in.names()
	m := make([]int, s.ndecl)
	for i := range m {
		m[i] = -1
		want := s.from(i)
		for j, n := range names {
			if n == want {
				m[i] = j
				break
			}
		}
		if m[i] < 0 {
			for j, n := range names {
				if strings.EqualFold(n, want) {
					m[i] = j
					break
				}
			}
		}
	}
	if len(s.maps) >= 64 {
		clear(s.maps)
	}
	s.maps[in.schema()] = m
	return m
}

// fill builds the source row of an image. prev (a table's stored row)
// supplies the columns the source did not send (unchanged TOAST); without
// it they are NULL.
func (s *sourceOp) fill(m []int, img, prev []event.Value) []event.Value {
	row := make([]event.Value, len(s.n.S.Columns))
	for i, j := range m {
		if j < 0 || j >= len(img) {
			continue
		}
		v := img[j]
		if v.Kind == event.KindUnchanged {
			v = event.Null
			if prev != nil {
				v = prev[i]
			}
		}
		row[i] = v
	}
	return row
}

// setDeleted fills the column __DELETED as Debezium's unwrap does with
// delete.handling.mode=rewrite, unless the input has the column itself.
func (s *sourceOp) setDeleted(m []int, row []event.Value, deleted bool) {
	if s.deleted < 0 || !s.rewrite || m[s.deleted] >= 0 {
		return
	}
	if s.n.S.Columns[s.deleted].Type.Base == types.Boolean {
		row[s.deleted] = event.Bool(deleted)
	} else {
		row[s.deleted] = event.String(fmt.Sprint(deleted))
	}
}

// eventTime is the row's event time: the timestamp column's, else the
// input's commit time. fallback allows a NULL timestamp column to fall
// back to the commit time (a delete's key-only image).
func (s *sourceOp) eventTime(row []event.Value, commit int64, fallback bool) (int64, error) {
	if s.tsCol < 0 {
		return commit, nil
	}
	v := row[s.tsCol]
	col := s.n.S.Columns[s.tsCol]
	if v.IsNull() {
		if fallback {
			return commit, nil
		}
		return 0, &RecordError{Err: fmt.Errorf("source %s: the timestamp column %s is NULL", s.n.Name, col.Name)}
	}
	switch col.Type.Base {
	case types.Bigint, types.Integer:
		if v.Kind != event.KindInt {
			break
		}
		return v.AsInt() * 1000, nil // ksqlDB: milliseconds since the epoch
	case types.Timestamp:
		if v.Kind == event.KindInt {
			return v.AsInt(), nil
		}
	case types.Date:
		if v.Kind == event.KindInt {
			return v.AsInt() * 86400e6, nil
		}
	case types.String:
		if v.Kind != event.KindString {
			break
		}
		t, err := s.tsParse(v.Str)
		if err != nil {
			return 0, &RecordError{Err: fmt.Errorf("source %s: timestamp column %s: %w", s.n.Name, col.Name, err)}
		}
		return t, nil
	}
	return 0, &RecordError{Err: fmt.Errorf("source %s: the timestamp column %s holds %s, not a %s", s.n.Name, col.Name, v.Text(), col.Type)}
}

func (s *sourceOp) pseudoCols(row []event.Value, ts int64, seq uint64) {
	for i, p := range s.pseudo {
		switch p {
		case pseudoRowTime:
			row[s.ndecl+i] = event.Int(millis(ts))
		case pseudoRowPartition:
			row[s.ndecl+i] = event.Int(0)
		case pseudoRowOffset:
			row[s.ndecl+i] = event.Int(int64(seq))
		}
	}
}

func (s *sourceOp) ingest(r *run, in *input) error {
	if in.skip || in.vals == nil {
		return nil
	}
	seq := r.x.nextSeq()
	m := s.mapping(in)
	if !s.table {
		if in.del && !s.rewrite {
			return nil
		}
		row := s.fill(m, in.vals, nil)
		s.setDeleted(m, row, in.del)
		ts, err := s.eventTime(row, in.ts, false)
		if err != nil {
			return err
		}
		s.pseudoCols(row, ts, seq)
		return s.out.emit(r, &change{row: row, ts: ts, seq: seq})
	}
	if !in.del && in.before != nil {
		// An update that changed the key deletes the old key first, as
		// Debezium's delete-and-create of a primary key change does.
		oldKey := s.fill(m, in.before, nil)
		newKey := s.fill(m, in.vals, nil)
		if !sameKey(oldKey, newKey, s.keyIdx) {
			if err := s.apply(r, &input{del: true, vals: in.before, evs: in.evs, q: in.q, ts: in.ts}, m, seq); err != nil {
				return err
			}
		}
	}
	return s.apply(r, in, m, seq)
}

func sameKey(a, b []event.Value, idx []int) bool {
	for _, i := range idx {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

// apply upserts or deletes one key of a table.
func (s *sourceOp) apply(r *run, in *input, m []int, seq uint64) error {
	img := s.fill(m, in.vals, nil)
	key := make([]event.Value, len(s.keyIdx))
	for i, k := range s.keyIdx {
		if img[k].IsNull() {
			r.x.stats.nullKeys.Add(1)
			return nil
		}
		key[i] = img[k]
	}
	kb, err := s.st.key(s.rows, key)
	if err != nil {
		return &RecordError{Err: fmt.Errorf("table %s: key: %w", s.n.Name, err)}
	}
	old, _, found, err := s.st.getRow(kb)
	if err != nil {
		return err
	}
	if in.del {
		if !found {
			return nil
		}
		ts, err := s.eventTime(img, in.ts, true)
		if err != nil {
			return err
		}
		if err := s.st.Delete(kb); err != nil {
			return err
		}
		return s.out.emit(r, &change{old: old, ts: ts, seq: seq})
	}
	row := img
	if found {
		row = s.fill(m, in.vals, old)
	}
	s.setDeleted(m, row, false)
	ts, err := s.eventTime(row, in.ts, false)
	if err != nil {
		return err
	}
	s.pseudoCols(row, ts, seq)
	if err := s.st.setRow(kb, ts, row); err != nil {
		return err
	}
	return s.out.emit(r, &change{row: row, old: old, ts: ts, seq: seq})
}

// lookup reads a key's current row.
func (s *sourceOp) lookup(r *run, key []event.Value) ([]event.Value, int64, bool, error) {
	kb, err := s.st.key(s.rows, key)
	if err != nil {
		return nil, 0, false, &RecordError{Err: fmt.Errorf("table %s: key: %w", s.n.Name, err)}
	}
	row, ts, ok, err := s.st.getRow(kb)
	return row, ts, ok, err
}

// stateIO reads and writes rows with their event time: varint time, then
// the row.
type stateIO struct {
	st interface {
		Get(key []byte) ([]byte, bool, error)
		Set(key, value []byte) error
		Delete(key []byte) error
	}
}

func (s stateIO) Delete(k []byte) error { return s.st.Delete(k) }

// key returns prefix followed by the key encoding of vals (a new slice).
func (s stateIO) key(prefix []byte, vals []event.Value) ([]byte, error) {
	return appendKeys(append(make([]byte, 0, len(prefix)+16*len(vals)), prefix...), vals)
}

func (s stateIO) getRow(k []byte) ([]event.Value, int64, bool, error) {
	v, ok, err := s.st.Get(k)
	if err != nil || !ok {
		return nil, 0, false, err
	}
	ts, row, err := decodeTimedRow(v)
	if err != nil {
		return nil, 0, false, err
	}
	return row, ts, true, nil
}

func (s stateIO) setRow(k []byte, ts int64, row []event.Value) error {
	return s.st.Set(k, appendRow(binary.AppendVarint(nil, ts), row))
}

func decodeTimedRow(v []byte) (int64, []event.Value, error) {
	ts, n := binary.Varint(v)
	if n <= 0 {
		return 0, nil, errBadRow
	}
	row, err := decodeRow(v[n:])
	return ts, row, err
}
