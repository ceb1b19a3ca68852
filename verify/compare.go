package verify

import (
	"context"
	"encoding/json"
	"sort"
	"time"
)

// image is one row in the canonical form: its id (the key as the report
// shows it and as the sink addresses it) and each compared column's value
// as canonical JSON (canonJSON).
type image struct {
	id   string
	cols map[string]string
	key  []string // the source key's text forms (source rows only): the repair predicate
}

// target is a sink opened for reading.
type target interface {
	// table prepares the comparison of one source table.
	table(ctx context.Context, st srcTable) (tableTarget, error)
	close(ctx context.Context)
}

// tableTarget reads what a sink holds for one source table.
type tableTarget interface {
	// name is the sink's table, index or file, for the report.
	name() string
	// notes say what cannot be compared (they go into the report).
	notes() []string
	// expect renders a source row as the sink holds it when it is right.
	expect(r row) (image, error)
	// fetch returns the sink's images for one chunk: a ranged target the
	// rows with after < key <= upto (upto nil: to the end), so that a
	// range's extra rows are found with it; any other target the images
	// of exp's ids that it holds.
	fetch(ctx context.Context, exp []image, after, upto []string) ([]image, error)
	// extras lists, once every chunk is compared, the sink's ids that no
	// source row matched (matched: how many did), at most limit of them,
	// and their number. A ranged target has found them already: 0.
	extras(ctx context.Context, matched int64, limit int, inSource func([]string) (map[string]bool, error)) ([]string, int, error)
}

// serverChecksum is a tableTarget whose rows the server can checksum in
// the same canonical text form as the source's (a PostgreSQL table with the
// same column types): a range whose checksums agree is not read at all.
type serverChecksum interface {
	checksumColumns() []string // nil: not comparable in the server
	checksum(ctx context.Context, after, upto []string) (int64, string, error)
}

// maxRepairKeys bounds the keys a table's report keeps for --repair.
const maxRepairKeys = 100000

type tableRun struct {
	ctx   context.Context
	st    srcTable
	tt    tableTarget
	opts  *Options
	tr    *TableReport
	start time.Time
	rows  int64 // source rows compared (rate limit, progress)
	found int64 // source rows the sink holds
}

func compareTable(ctx context.Context, src source, name string, tgt target, opts *Options) (*TableReport, error) {
	st, err := src.open(ctx, name)
	if err != nil {
		return nil, err
	}
	tt, err := tgt.table(ctx, st)
	if err != nil {
		return nil, err
	}
	r := &tableRun{ctx: ctx, st: st, tt: tt, opts: opts, start: time.Now(),
		tr: &TableReport{Table: name, Target: tt.name(), Key: st.keyColumns(), st: st, tt: tt}}
	if cs, ok := tt.(serverChecksum); ok && cs.checksumColumns() != nil {
		err = r.byServerChecksum(cs, st.(*pgSrcTable))
	} else {
		err = r.byRows()
	}
	if err != nil {
		return nil, err
	}
	ids, n, err := tt.extras(ctx, r.found, maxRepairKeys, func(ids []string) (map[string]bool, error) {
		return r.inSource(ids)
	})
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		r.extra(id)
	}
	r.tr.Extra += n - len(ids)
	r.tr.Rows = r.rows
	r.tr.Notes = tt.notes()
	return r.tr, nil
}

// byRows reads the source chunk by chunk and compares each with the sink.
func (r *tableRun) byRows() error {
	n := r.opts.ChunkRows
	var after []string
	for {
		rows, err := r.st.rows(r.ctx, after, nil, n)
		if err != nil {
			return err
		}
		last := len(rows) < n
		var upto []string
		if !last {
			upto = rows[len(rows)-1].Key
		}
		r.tr.Ranges++
		if err := r.compareRows(rows, after, upto); err != nil {
			return err
		}
		if err := r.pace(len(rows)); err != nil {
			return err
		}
		if last {
			return nil
		}
		after = upto
	}
}

// byServerChecksum compares ranges of ChunkRows keys by checksums computed
// in both servers and reads only the ranges that differ.
func (r *tableRun) byServerChecksum(cs serverChecksum, pg *pgSrcTable) error {
	n := r.opts.ChunkRows
	cols := cs.checksumColumns()
	var after []string
	for {
		upto, ok, err := pg.sc.Bound(r.ctx, pg.st, after, n)
		if err != nil {
			return err
		}
		if !ok { // no source rows after after: sink rows there are extra
			cnt, _, err := cs.checksum(r.ctx, after, nil)
			if err != nil {
				return err
			}
			if cnt > 0 {
				r.tr.Ranges++
				r.tr.RangesRead++
				return r.compareRows(nil, after, nil)
			}
			return nil
		}
		r.tr.Ranges++
		ns, sums, err := pg.sc.Checksum(r.ctx, pg.st, cols, after, upto)
		if err != nil {
			return err
		}
		last := ns < int64(n)
		sinkUpto := upto
		if last {
			sinkUpto = nil
		}
		nt, sumt, err := cs.checksum(r.ctx, after, sinkUpto)
		if err != nil {
			return err
		}
		if ns != nt || sums != sumt {
			r.tr.RangesRead++
			rows, err := r.st.rows(r.ctx, after, upto, 0)
			if err != nil {
				return err
			}
			if err := r.compareRows(rows, after, sinkUpto); err != nil {
				return err
			}
		} else {
			r.found += ns
		}
		if err := r.pace(int(ns)); err != nil {
			return err
		}
		if last {
			return nil
		}
		after = upto
	}
}

// compareRows compares one chunk of source rows with the sink's images of
// the range.
func (r *tableRun) compareRows(rows []row, after, upto []string) error {
	exp := make([]image, len(rows))
	for i, rw := range rows {
		img, err := r.tt.expect(rw)
		if err != nil {
			return err
		}
		exp[i] = img
	}
	act, err := r.tt.fetch(r.ctx, exp, after, upto)
	if err != nil {
		return err
	}
	byID := make(map[string]*image, len(act))
	for i := range act {
		byID[act[i].id] = &act[i]
	}
	for i := range exp {
		e := &exp[i]
		a, ok := byID[e.id]
		if !ok {
			r.tr.Missing++
			if len(r.tr.MissingKeys) < r.opts.Sample {
				r.tr.MissingKeys = append(r.tr.MissingKeys, e.id)
			}
			r.repairKey(e.key)
			continue
		}
		delete(byID, e.id)
		r.found++
		if d := diffImages(e, a); d != nil {
			r.tr.Different++
			if len(r.tr.Differences) < r.opts.Sample {
				r.tr.Differences = append(r.tr.Differences, *d)
			}
			r.repairKey(e.key)
		}
	}
	var extra []string
	for id := range byID {
		extra = append(extra, id)
	}
	sort.Strings(extra)
	for _, id := range extra {
		r.extra(id)
	}
	return nil
}

func (r *tableRun) extra(id string) {
	r.tr.Extra++
	if len(r.tr.ExtraKeys) < r.opts.Sample {
		r.tr.ExtraKeys = append(r.tr.ExtraKeys, id)
	}
	if len(r.tr.extraIDs) < maxRepairKeys {
		r.tr.extraIDs = append(r.tr.extraIDs, id)
	}
}

func (r *tableRun) repairKey(key []string) {
	if len(r.tr.repairKeys) < maxRepairKeys {
		r.tr.repairKeys = append(r.tr.repairKeys, key)
	} else {
		r.tr.repairCut = true
	}
}

// inSource tells which of a search index's document ids are keys of the
// source table (ids of the default ${key} form).
func (r *tableRun) inSource(ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, id := range ids {
		key := splitKeyID(id, len(r.st.schema().KeyIdx))
		if key == nil {
			continue
		}
		ok, err := r.st.hasKey(r.ctx, key)
		if err != nil {
			return nil, err
		}
		if ok {
			out[id] = true
		}
	}
	return out, nil
}

// pace reports progress and keeps to the rate limit.
func (r *tableRun) pace(rows int) error {
	r.rows += int64(rows)
	if r.opts.Progress != nil {
		r.opts.Progress(Progress{Table: r.tr.Table, Rows: r.rows, Differences: r.tr.Missing + r.tr.Extra + r.tr.Different})
	}
	if r.opts.Rate <= 0 {
		return nil
	}
	due := r.start.Add(time.Duration(float64(r.rows) / r.opts.Rate * float64(time.Second)))
	wait := time.Until(due)
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-r.ctx.Done():
		return r.ctx.Err()
	}
}

// diffImages returns the columns whose values differ, or nil.
func diffImages(exp, act *image) *Difference {
	var cols []string
	for c := range exp.cols {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	var d *Difference
	for _, c := range cols {
		ev := exp.cols[c]
		av, ok := act.cols[c]
		if !ok {
			av = absent
		}
		if ev == av {
			continue
		}
		if d == nil {
			d = &Difference{Key: exp.id}
		}
		d.Columns = append(d.Columns, ColumnDifference{Column: c, Source: json.RawMessage(ev), Sink: rawOrAbsent(av)})
	}
	return d
}

// absent marks a column the sink's image lacks.
const absent = "\x00absent"

func rawOrAbsent(v string) json.RawMessage {
	if v == absent {
		return json.RawMessage(`"(absent)"`)
	}
	return json.RawMessage(v)
}

// splitKeyID splits a ${key} document id into the key's parts: one part
// as it is; several joined by '|' with '|' and '\' escaped by '\'
// (tmpl.AppendKey). nil when the id does not have n parts.
func splitKeyID(id string, n int) []string {
	if n == 1 {
		return []string{id}
	}
	var parts []string
	var cur []byte
	for i := 0; i < len(id); i++ {
		switch id[i] {
		case '\\':
			if i+1 < len(id) {
				i++
				cur = append(cur, id[i])
			}
		case '|':
			parts = append(parts, string(cur))
			cur = cur[:0]
		default:
			cur = append(cur, id[i])
		}
	}
	parts = append(parts, string(cur))
	if len(parts) != n {
		return nil
	}
	return parts
}
