package streamsql

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/ksql/exec"
	"github.com/sluice-dev/sluice/ksql/parse"
)

// The input buffer. While a statement waits for the schema of a stream
// (one declared without a column list, whose schema only its first event
// tells), no query runs: ksqlDB starts its queries over topics whose
// schemas are all registered, and a query started over part of the
// statements would see the others' inputs too late (an order joined
// before the customers' table exists finds no customer and is never
// joined again). The inputs of the referenced streams are kept, in
// arrival order, in the operator state — durable with the checkpoints,
// on disk, not in memory — and run through the queries, in that order,
// once the last schema is known. A buffered input whose evaluation fails
// is a record error of the input that completed the plan, its text naming
// the buffered one.
var (
	bufKeyPrefix       = []byte("\x00buf\x00")
	bufSchemaKeyPrefix = []byte("\x00bufschema\x00")
)

func bufKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(nil), bufKeyPrefix...), seq)
}

func bufSchemaKey(stream string, version int) []byte {
	k := append(append([]byte(nil), bufSchemaKeyPrefix...), stream...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, uint64(version))
}

// referencedStreams are the sluice streams the statements declare
// relations over (their kafka_topic), the only inputs worth keeping.
func referencedStreams(stmts []parse.Statement) map[string]bool {
	out := map[string]bool{}
	for _, s := range stmts {
		if c, ok := s.(*parse.CreateSource); ok {
			if t, ok := parse.PropString(c.Props, "KAFKA_TOPIC"); ok {
				out[t] = true
			}
		}
	}
	return out
}

// buffer keeps ev in the state, after every input kept before.
func (p *Processor) buffer(ev *event.Event) error {
	s := ev.Schema
	if !p.bufSchemas[schemaID{s.Stream, s.Version}] {
		b, err := encodeSchema(s)
		if err != nil {
			return err
		}
		if err := p.st.Set(bufSchemaKey(s.Stream, s.Version), b); err != nil {
			return err
		}
		p.bufSchemas[schemaID{s.Stream, s.Version}] = true
	}
	b := binary.AppendUvarint(nil, uint64(len(s.Stream)))
	b = append(b, s.Stream...)
	b = binary.AppendUvarint(b, uint64(s.Version))
	b = append(b, byte(ev.Op), byte(ev.Source.Snapshot))
	b = binary.AppendVarint(b, ev.Source.TsUs)
	b = binary.AppendVarint(b, ev.TsMs)
	for _, img := range [][]event.Value{ev.Before, ev.After} {
		if img == nil {
			b = append(b, 0)
			continue
		}
		b = append(b, 1)
		b = exec.AppendRow(b, img)
	}
	p.bufSeq++
	p.buffered++
	p.bufferedCount.Store(int64(p.buffered))
	return p.st.Set(bufKey(p.bufSeq), b)
}

type schemaID struct {
	stream  string
	version int
}

// drain runs the buffered inputs through the queries, in order, and
// deletes them; their outputs and record errors are the input at index
// i's.
func (p *Processor) drain(i int, outEvs []event.Event, rejected *[]error) ([]event.Event, error) {
	schemas := map[schemaID]*event.Schema{}
	var evs []event.Event
	var err error
	scanErr := p.st.Scan(bufSchemaKeyPrefix, prefixEnd(bufSchemaKeyPrefix), func(k, v []byte) bool {
		var s event.Schema
		if e := json.Unmarshal(v, &s); e != nil {
			err = fmt.Errorf("sql: a buffered input's schema in state does not decode: %v", e)
			return false
		}
		schemas[schemaID{s.Stream, s.Version}] = &s
		return true
	})
	if err == nil {
		err = scanErr
	}
	if err != nil {
		return outEvs, err
	}
	// Inputs are decoded in chunks so memory stays bounded however many
	// wait.
	from := bufKey(0)
	for {
		evs = evs[:0]
		var last []byte
		scanErr = p.st.Scan(from, prefixEnd(bufKeyPrefix), func(k, v []byte) bool {
			ev, e := decodeBuffered(v, schemas)
			if e != nil {
				err = e
				return false
			}
			evs = append(evs, ev)
			last = append(last[:0], k...)
			return len(evs) < 1024
		})
		if err == nil {
			err = scanErr
		}
		if err != nil {
			return outEvs, err
		}
		if len(evs) == 0 {
			break
		}
		for j := range evs {
			ev := &evs[j]
			if !p.inputs[ev.Schema.Stream] {
				continue
			}
			rows, perr := p.x.Process(ev.Schema.Stream, ev, p.rows[:0])
			p.rows = rows
			var eerr error
			if outEvs, eerr = p.emit(rows, ev, outEvs); eerr != nil {
				return outEvs, eerr
			}
			if perr != nil {
				var re *exec.RecordError
				if !errors.As(perr, &re) {
					return outEvs, fmt.Errorf("sql: %w", perr)
				}
				*rejected = append(*rejected, fmt.Errorf("the buffered input %s: %w", ev.String(), perr))
			}
		}
		from = append(last, 0)
	}
	if err := p.st.DeleteRange(bufKeyPrefix, prefixEnd(bufKeyPrefix)); err != nil {
		return outEvs, err
	}
	if err := p.st.DeleteRange(bufSchemaKeyPrefix, prefixEnd(bufSchemaKeyPrefix)); err != nil {
		return outEvs, err
	}
	p.log.Info("sql queries started; the inputs that waited for them ran through", "inputs", p.buffered)
	p.buffered, p.bufSeq, p.bufSchemas = 0, 0, map[schemaID]bool{}
	p.bufferedCount.Store(0)
	return outEvs, nil
}

func decodeBuffered(b []byte, schemas map[schemaID]*event.Schema) (event.Event, error) {
	bad := errors.New("sql: a buffered input in state does not decode (the state is damaged)")
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return event.Event{}, bad
	}
	stream := string(b[k : k+int(n)])
	b = b[k+int(n):]
	ver, k := binary.Uvarint(b)
	if k <= 0 || len(b) < k+2 {
		return event.Event{}, bad
	}
	s := schemas[schemaID{stream, int(ver)}]
	if s == nil {
		return event.Event{}, bad
	}
	ev := event.Event{Schema: s, Op: event.Op(b[k]), Source: event.Source{Snapshot: event.SnapshotMark(b[k+1])}}
	b = b[k+2:]
	if ev.Source.TsUs, k = binary.Varint(b); k <= 0 {
		return event.Event{}, bad
	}
	b = b[k:]
	if ev.TsMs, k = binary.Varint(b); k <= 0 {
		return event.Event{}, bad
	}
	b = b[k:]
	for _, img := range []*[]event.Value{&ev.Before, &ev.After} {
		if len(b) == 0 {
			return event.Event{}, bad
		}
		has := b[0]
		b = b[1:]
		if has == 0 {
			continue
		}
		row, n, err := exec.DecodeRowPrefix(b)
		if err != nil {
			return event.Event{}, bad
		}
		*img, b = row, b[n:]
	}
	return ev, nil
}

// encodeSchema is the JSON of a schema as the processor keeps it (column
// defaults left out: queries never read them).
func encodeSchema(s *event.Schema) ([]byte, error) {
	keep := *s
	keep.Columns = make([]event.Column, len(s.Columns))
	for i, c := range s.Columns {
		c.Default, c.HasDefault = event.Null, false
		keep.Columns[i] = c
	}
	b, err := json.Marshal(&keep)
	if err != nil {
		return nil, fmt.Errorf("sql: the schema of stream %q does not encode: %w", s.Stream, err)
	}
	return b, nil
}
