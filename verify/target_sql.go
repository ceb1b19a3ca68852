package verify

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
	pgsink "github.com/sluice-dev/sluice/sink/postgres"
	pgsource "github.com/sluice-dev/sluice/source/postgres"
)

// pgTarget reads a postgres sink's tables with the source's own decoder
// (pgsource.Scanner): a column the sink created from the event's type
// (auto_create's mapping) decodes to the same value as the source column.
type pgTarget struct {
	cfg    *pgsink.Config
	sc     *pgsource.Scanner
	source string
}

func (t *pgTarget) close(ctx context.Context) { t.sc.Close(ctx) }

func (t *pgTarget) table(ctx context.Context, st srcTable) (tableTarget, error) {
	tt := t.cfg.TableTemplate()
	name, err := tt.RenderString(rowEvent(st.schema(), make([]event.Value, len(st.schema().Columns))))
	if err != nil || strings.Contains(t.cfg.Table, "${/") {
		return nil, usagef("sink table template %q depends on row values: verify needs one table per source table", t.cfg.Table)
	}
	full := t.cfg.Schema + "." + name
	p := &pgTable{t: t, st: st, tbl: full, soft: t.cfg.DeleteMode == "soft"}
	ok, err := t.sc.Exists(ctx, full)
	if err != nil {
		return nil, fmt.Errorf("sink table %s: %w", full, err)
	}
	if !ok {
		p.note = append(p.note, fmt.Sprintf("sink table %s does not exist: every row is missing", full))
		return p, nil
	}
	if p.sk, err = t.sc.Open(ctx, full, t.source, st.keyColumns()); err != nil {
		return nil, fmt.Errorf("sink: %w", err)
	}
	if p.soft {
		p.softIdx = p.sk.Schema.ColumnIndex(t.cfg.SoftDeleteColumn)
		p.note = append(p.note, fmt.Sprintf("delete_mode soft: rows with %s = true count as deleted; key ranges are compared row by row", t.cfg.SoftDeleteColumn))
	}
	// Key ranges select the same keys on both sides only when both order
	// keys alike: a PostgreSQL source whose key columns have the sink's
	// types and collations. Otherwise the sink is read by the keys of each
	// source chunk, and extra rows are looked for at the end.
	pg, ok := st.(*pgSrcTable)
	if !ok {
		return p, nil
	}
	srcOrder, err := pg.sc.KeyOrder(ctx, pg.st)
	if err != nil {
		return nil, err
	}
	sinkOrder, err := t.sc.KeyOrder(ctx, p.sk)
	if err != nil {
		return nil, err
	}
	if srcOrder != sinkOrder {
		p.note = append(p.note, fmt.Sprintf("the key orders differ (source %s, sink %s): the sink is read by key, not by key range", srcOrder, sinkOrder))
		return p, nil
	}
	p.ranged = true
	if p.soft {
		return p, nil
	}
	// Server checksums are comparable when every source column is in the
	// sink with the same declared type: the text forms are then the same.
	srcTypes, err := pg.sc.ColumnTypes(ctx, pg.st)
	if err != nil {
		return nil, err
	}
	sinkTypes, err := t.sc.ColumnTypes(ctx, p.sk)
	if err != nil {
		return nil, err
	}
	cols := make([]string, 0, len(st.schema().Columns))
	for _, c := range st.schema().Columns {
		if srcTypes[c.Name] != sinkTypes[c.Name] {
			cols = nil
			break
		}
		cols = append(cols, c.Name)
	}
	p.sumCols = cols
	return p, nil
}

type pgTable struct {
	t       *pgTarget
	st      srcTable
	sk      *pgsource.ScanTable // nil: the sink table does not exist
	tbl     string
	soft    bool
	softIdx int
	ranged  bool // the sink is read by the source's key ranges
	sumCols []string
	note    []string
}

func (p *pgTable) name() string { return p.tbl }

func (p *pgTable) notes() []string { return p.note }

func (p *pgTable) checksumColumns() []string {
	if p.sk == nil || !p.ranged {
		return nil
	}
	return p.sumCols
}

func (p *pgTable) checksum(ctx context.Context, after, upto []string) (int64, string, error) {
	return p.t.sc.Checksum(ctx, p.sk, p.sumCols, after, upto)
}

// keyID joins a key's text forms as ${key} does.
func keyID(key []string) string {
	if len(key) == 1 {
		return key[0]
	}
	var b strings.Builder
	for i, k := range key {
		if i > 0 {
			b.WriteByte('|')
		}
		for j := 0; j < len(k); j++ {
			if k[j] == '\\' || k[j] == '|' {
				b.WriteByte('\\')
			}
			b.WriteByte(k[j])
		}
	}
	return b.String()
}

func (p *pgTable) expect(rw row) (image, error) {
	img, err := documentImage(p.st.schema(), rw.Values, nil)
	img.id, img.key = keyID(rw.Key), rw.Key
	return img, err
}

// documentImage renders each column as format.AppendDocumentValue does
// (natural JSON: exact decimals, ISO dates), in canonical form. only, when
// set, limits the columns to these names.
func documentImage(sch *event.Schema, vals []event.Value, only *event.Schema) (image, error) {
	img := image{cols: make(map[string]string, len(vals))}
	var buf []byte
	for i := range sch.Columns {
		c := &sch.Columns[i]
		if only != nil && only.ColumnIndex(c.Name) < 0 {
			continue
		}
		var err error
		buf, err = format.AppendDocumentValue(buf[:0], c, vals[i])
		if err != nil {
			return img, fmt.Errorf("column %s: %w", c.Name, err)
		}
		if img.cols[c.Name], err = canonJSON(buf); err != nil {
			return img, fmt.Errorf("column %s: %w", c.Name, err)
		}
	}
	return img, nil
}

func (p *pgTable) fetch(ctx context.Context, exp []image, after, upto []string) ([]image, error) {
	if p.sk == nil {
		return nil, nil
	}
	var rows []pgsource.ScanRow
	var err error
	if p.ranged {
		rows, err = p.t.sc.Rows(ctx, p.sk, after, upto, 0)
	} else {
		keys := make([][]string, len(exp))
		for i := range exp {
			keys[i] = exp[i].key
		}
		rows, err = p.t.sc.RowsByKeys(ctx, p.sk, keys)
	}
	if err != nil {
		return nil, fmt.Errorf("sink: %w", err)
	}
	out := make([]image, 0, len(rows))
	for _, r := range rows {
		if p.soft && p.softIdx >= 0 {
			if v := r.Values[p.softIdx]; v.Kind == event.KindBool && v.AsBool() {
				continue
			}
		}
		img, err := documentImage(p.sk.Schema, r.Values, p.st.schema())
		if err != nil {
			return nil, fmt.Errorf("sink table %s: %w", p.tbl, err)
		}
		img.id = keyID(r.Key)
		out = append(out, img)
	}
	return out, nil
}

// extras: ranged, the key ranges have covered the whole key space. Read by
// key, the sink's rows are counted and, when more than the source rows
// matched, read in their own key order and looked up in the source.
func (p *pgTable) extras(ctx context.Context, matched int64, limit int, inSource func([]string) (map[string]bool, error)) ([]string, int, error) {
	if p.sk == nil || p.ranged {
		return nil, 0, nil
	}
	soft := ""
	if p.soft && p.softIdx >= 0 {
		soft = p.t.cfg.SoftDeleteColumn
	}
	cnt, err := p.t.sc.Count(ctx, p.sk, soft)
	if err != nil {
		return nil, 0, fmt.Errorf("sink: %w", err)
	}
	n := int(cnt - matched)
	if n <= 0 {
		return nil, 0, nil
	}
	var ids []string
	var after []string
	for len(ids) < limit {
		rows, err := p.t.sc.Rows(ctx, p.sk, after, nil, 1000)
		if err != nil {
			return nil, 0, fmt.Errorf("sink: %w", err)
		}
		batch := make([]string, 0, len(rows))
		for _, r := range rows {
			if soft != "" {
				if v := r.Values[p.softIdx]; v.Kind == event.KindBool && v.AsBool() {
					continue
				}
			}
			batch = append(batch, keyID(r.Key))
		}
		in, err := inSource(batch)
		if err != nil {
			return nil, 0, err
		}
		for _, id := range batch {
			if !in[id] && len(ids) < limit {
				ids = append(ids, id)
			}
		}
		if len(rows) < 1000 {
			break
		}
		after = rows[len(rows)-1].Key
	}
	sort.Strings(ids)
	return ids, n, nil
}
