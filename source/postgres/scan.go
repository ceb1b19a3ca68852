package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/event"
)

// Scanner reads tables for `sluice verify` the way the snapshot does: the
// same session settings, catalog and text decoding, so a row it returns is
// the row image the source emitted for it, value for value. It also reads a
// PostgreSQL sink's table (any table), decoded the same way, and computes
// key-range checksums in the server. Every query runs in a READ ONLY
// transaction (default_transaction_read_only): verify never writes through
// a Scanner.
type Scanner struct {
	conn *pgx.Conn
	cat  *catalog
	db   string
}

// OpenScanner connects to dsn. Errors never quote the DSN.
func OpenScanner(ctx context.Context, dsn string) (*Scanner, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("dsn is not a valid PostgreSQL connection string")
	}
	for k, v := range sessionParams {
		cfg.RuntimeParams[k] = v
	}
	cfg.RuntimeParams["application_name"] = "sluice verify"
	cfg.RuntimeParams["default_transaction_read_only"] = "on"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	s := &Scanner{conn: conn, cat: newCatalog(conn)}
	if err := conn.QueryRow(ctx, `SELECT current_database()`).Scan(&s.db); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("connect: %w", err)
	}
	return s, nil
}

// Close closes the connection.
func (s *Scanner) Close(ctx context.Context) error { return s.conn.Close(ctx) }

// Database is the connected database's name.
func (s *Scanner) Database() string { return s.db }

// Resolve expands schema.table patterns (globs allowed, as in the source's
// tables key) into schema.table names; a pattern that matches nothing is an
// error.
func (s *Scanner) Resolve(ctx context.Context, patterns []string) ([]string, error) {
	refs, err := resolveTables(ctx, s.conn, patterns)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.String()
	}
	return out, nil
}

// ScanTable is a table opened by a Scanner.
type ScanTable struct {
	// Schema is the table's row schema as the source emits it (stream
	// "<source>.<schema>.<table>"), key columns marked.
	Schema *event.Schema
	ref    tableRef
	types  []*colType
	order  []string // quoted columns of the ORDER BY / range predicates
}

// Exists reports whether schema.table exists (an ordinary or partitioned
// table).
func (s *Scanner) Exists(ctx context.Context, name string) (bool, error) {
	schema, table, _ := strings.Cut(name, ".")
	var n int
	err := s.conn.QueryRow(ctx, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`, schema, table).Scan(&n)
	return n > 0, err
}

// Open loads schema.table's columns and key. source names the stream
// (the source's name in the pipeline). keyCols, when set, orders and ranges
// the table by these columns instead of its own key (a sink's table is read
// in its source table's key order); they must exist.
func (s *Scanner) Open(ctx context.Context, name, source string, keyCols []string) (*ScanTable, error) {
	schema, table, ok := strings.Cut(name, ".")
	if !ok {
		return nil, fmt.Errorf("table %q is not schema.table", name)
	}
	ref := tableRef{schema: schema, name: table}
	err := s.conn.QueryRow(ctx, `SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`, schema, table).Scan(&ref.oid)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("table %s does not exist", name)
	}
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", name, err)
	}
	ti, err := s.cat.loadTable(ctx, ref)
	if err != nil {
		return nil, err
	}
	if keyCols != nil {
		ti.key = keyCols
	}
	base := event.Schema{Stream: source + "." + schema + "." + table, Source: source, Connector: "postgresql",
		Database: s.db, Namespace: schema, Table: table, Version: 1}
	sch, types, err := s.cat.buildSchema(ctx, base, ti, nil)
	if err != nil {
		return nil, err
	}
	if len(sch.KeyIdx) == 0 {
		if keyCols != nil {
			return nil, fmt.Errorf("table %s lacks key column(s) %s", name, strings.Join(keyCols, ", "))
		}
		return nil, fmt.Errorf("table %s has no primary key (or replica identity index): verify compares rows by key", name)
	}
	t := &ScanTable{Schema: sch, ref: ref, types: types}
	for _, k := range sch.KeyIdx {
		t.order = append(t.order, pgx.Identifier{sch.Columns[k].Name}.Sanitize())
	}
	return t, nil
}

// Quoted is the table's SQL name.
func (t *ScanTable) Quoted() string { return t.ref.quoted() }

// KeyColumns are the key columns' names, in key order.
func (t *ScanTable) KeyColumns() []string {
	out := make([]string, len(t.Schema.KeyIdx))
	for i, k := range t.Schema.KeyIdx {
		out[i] = t.Schema.Columns[k].Name
	}
	return out
}

// KeyPredicate is the SQL condition "key = this key" for the key's text
// form (the Key of a ScanRow), e.g. `"id" = '7'`: the filter of a
// Debezium execute-snapshot signal's additional-conditions.
func (t *ScanTable) KeyPredicate(key []string) string {
	parts := make([]string, len(key))
	for i, k := range key {
		parts[i] = t.order[i] + " = " + quoteLiteral(k)
	}
	return strings.Join(parts, " AND ")
}

// rangeWhere is the predicate after < key <= upto (nil: unbounded).
func (t *ScanTable) rangeWhere(after, upto []string) string {
	var conds []string
	cmp := func(op string, key []string) string {
		lits := make([]string, len(key))
		for i, v := range key {
			lits[i] = quoteLiteral(v) // untyped: takes the key column's type
		}
		if len(key) == 1 {
			return t.order[0] + " " + op + " " + lits[0]
		}
		return "(" + strings.Join(t.order, ", ") + ") " + op + " (" + strings.Join(lits, ", ") + ")"
	}
	if after != nil {
		conds = append(conds, cmp(">", after))
	}
	if upto != nil {
		conds = append(conds, cmp("<=", upto))
	}
	if len(conds) == 0 {
		return ""
	}
	return "WHERE " + strings.Join(conds, " AND ")
}

// ScanRow is one row: the key's text forms and the decoded values.
type ScanRow struct {
	Key    []string
	Values []event.Value
}

// Rows reads at most limit rows (0: no limit) with after < key <= upto, in
// key order, decoded as the snapshot decodes them.
func (s *Scanner) Rows(ctx context.Context, t *ScanTable, after, upto []string, limit int) ([]ScanRow, error) {
	cols := make([]string, len(t.Schema.Columns))
	for i, c := range t.Schema.Columns {
		cols[i] = pgx.Identifier{c.Name}.Sanitize()
	}
	sql := fmt.Sprintf("COPY (SELECT %s FROM %s %s ORDER BY %s", strings.Join(cols, ", "), t.ref.quoted(),
		t.rangeWhere(after, upto), strings.Join(t.order, ", "))
	if limit > 0 {
		sql += fmt.Sprintf(" LIMIT %d", limit)
	}
	sql += ") TO STDOUT"
	return s.copyRows(ctx, t, sql)
}

// copyRows runs a COPY ... TO STDOUT of t's columns and decodes its rows.
func (s *Scanner) copyRows(ctx context.Context, t *ScanTable, sql string) ([]ScanRow, error) {
	var buf bytes.Buffer
	if _, err := s.conn.PgConn().CopyTo(ctx, &buf, sql); err != nil {
		return nil, fmt.Errorf("read %s: %w", t.ref, err)
	}
	fields := make([]copyField, len(t.Schema.Columns))
	var out []ScanRow
	data := buf.String()
	for data != "" {
		nl := strings.IndexByte(data, '\n')
		if nl < 0 {
			return nil, fmt.Errorf("read %s: COPY output ends inside a row", t.ref)
		}
		line := data[:nl]
		data = data[nl+1:]
		if err := splitCopyLine(line, fields); err != nil {
			return nil, fmt.Errorf("read %s: %w", t.ref, err)
		}
		vals := make([]event.Value, len(t.Schema.Columns))
		for c := range fields {
			if fields[c].null {
				continue
			}
			v, err := decodeText(t.types[c], fields[c].s)
			if err != nil {
				col := &t.Schema.Columns[c]
				return nil, fmt.Errorf("read %s: column %s (%s): %w", t.ref, col.Name, col.TypeName, err)
			}
			vals[c] = v
		}
		key := make([]string, len(t.Schema.KeyIdx))
		for i, k := range t.Schema.KeyIdx {
			key[i] = fields[k].s
		}
		out = append(out, ScanRow{Key: key, Values: vals})
	}
	return out, nil
}

// Bound returns the key of the n-th row after after (nil: from the start),
// or of the last row when fewer follow; ok is false when none does. Only
// the key index is read.
func (s *Scanner) Bound(ctx context.Context, t *ScanTable, after []string, n int) (key []string, ok bool, err error) {
	// The last of the next n keys: the sub-select reads n index entries.
	// Aliases keep the outer ORDER BY on the key's type (an output column
	// named like the key would order by its text).
	inner, texts, desc := make([]string, len(t.order)), make([]string, len(t.order)), make([]string, len(t.order))
	for i, c := range t.order {
		inner[i] = fmt.Sprintf("%s AS k%d", c, i)
		texts[i] = fmt.Sprintf("k%d::text AS t%d", i, i)
		desc[i] = fmt.Sprintf("k%d DESC", i)
	}
	sql := fmt.Sprintf("SELECT %s FROM (SELECT %s FROM %s %s ORDER BY %s LIMIT %d) x ORDER BY %s LIMIT 1",
		strings.Join(texts, ", "), strings.Join(inner, ", "), t.ref.quoted(), t.rangeWhere(after, nil),
		strings.Join(t.order, ", "), n, strings.Join(desc, ", "))
	rows, err := s.conn.Query(ctx, sql)
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", t.ref, err)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, false, rows.Err()
	}
	key = make([]string, len(t.order))
	ptrs := make([]any, len(key))
	for i := range key {
		ptrs[i] = &key[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, false, fmt.Errorf("read %s: %w", t.ref, err)
	}
	return key, true, rows.Err()
}

// Checksum returns the number of rows with after < key <= upto and the md5
// of their columns cols (text forms under the session settings, in key
// order), computed in the server: only two values cross the network.
func (s *Scanner) Checksum(ctx context.Context, t *ScanTable, cols []string, after, upto []string) (n int64, sum string, err error) {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = pgx.Identifier{c}.Sanitize()
	}
	sql := fmt.Sprintf("SELECT count(*), md5(coalesce(string_agg(ROW(%s)::text, E'\\n' ORDER BY %s), '')) FROM %s %s",
		strings.Join(q, ", "), strings.Join(t.order, ", "), t.ref.quoted(), t.rangeWhere(after, upto))
	if err := s.conn.QueryRow(ctx, sql).Scan(&n, &sum); err != nil {
		return 0, "", fmt.Errorf("checksum of %s: %w", t.ref, err)
	}
	return n, sum, nil
}

// ColumnTypes returns each column's declared SQL type (format_type), by
// name: two tables' server-side checksums are comparable only over columns
// of the same types.
func (s *Scanner) ColumnTypes(ctx context.Context, t *ScanTable) (map[string]string, error) {
	rows, err := s.conn.Query(ctx, `SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped`, t.ref.oid)
	if err != nil {
		return nil, fmt.Errorf("columns of %s: %w", t.ref, err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var n, ty string
		if err := rows.Scan(&n, &ty); err != nil {
			return nil, err
		}
		out[n] = ty
	}
	return out, rows.Err()
}

// Exec runs a statement on the Scanner's connection outside the read-only
// default (verify --repair inserts its signal rows with it).
func (s *Scanner) Exec(ctx context.Context, sql string, args ...any) error {
	tx, err := s.conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadWrite})
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, sql, args...); err != nil {
		tx.Rollback(ctx)
		return err
	}
	return tx.Commit(ctx)
}

// HasKey reports whether a row with this key exists; the key's parts are
// text the key columns' types accept (untyped literals).
func (s *Scanner) HasKey(ctx context.Context, t *ScanTable, key []string) (bool, error) {
	var one int
	err := s.conn.QueryRow(ctx, fmt.Sprintf("SELECT 1 FROM %s WHERE %s", t.ref.quoted(), t.KeyPredicate(key))).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", t.ref, err)
	}
	return true, nil
}

// RowsByKeys reads the rows with these keys (text forms, untyped
// literals), in key order.
func (s *Scanner) RowsByKeys(ctx context.Context, t *ScanTable, keys [][]string) ([]ScanRow, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	tuples := make([]string, len(keys))
	for i, k := range keys {
		lits := make([]string, len(k))
		for j, v := range k {
			lits[j] = quoteLiteral(v)
		}
		tuples[i] = "(" + strings.Join(lits, ", ") + ")"
	}
	cols := make([]string, len(t.Schema.Columns))
	for i, c := range t.Schema.Columns {
		cols[i] = pgx.Identifier{c.Name}.Sanitize()
	}
	sql := fmt.Sprintf("COPY (SELECT %s FROM %s WHERE (%s) IN (%s) ORDER BY %s) TO STDOUT", strings.Join(cols, ", "), t.ref.quoted(),
		strings.Join(t.order, ", "), strings.Join(tuples, ", "), strings.Join(t.order, ", "))
	return s.copyRows(ctx, t, sql)
}

// KeyOrder describes how the server orders the table's key: each key
// column's declared type and collation (the database's for "default").
// Two tables with the same KeyOrder order their keys alike, so key ranges
// select the same keys on both.
func (s *Scanner) KeyOrder(ctx context.Context, t *ScanTable) (string, error) {
	var out string
	err := s.conn.QueryRow(ctx, `SELECT string_agg(format_type(a.atttypid, a.atttypmod) || coalesce(' COLLATE ' ||
			CASE WHEN c.collname = 'default' THEN (SELECT datcollate FROM pg_database WHERE datname = current_database())::text
			     ELSE c.collname::text END, ''), ', ' ORDER BY k.ord)
		FROM unnest($2::text[]) WITH ORDINALITY AS k(name, ord)
		JOIN pg_attribute a ON a.attrelid = $1 AND a.attname = k.name
		LEFT JOIN pg_collation c ON c.oid = a.attcollation`, t.ref.oid, t.KeyColumns()).Scan(&out)
	if err != nil {
		return "", fmt.Errorf("key of %s: %w", t.ref, err)
	}
	return out, nil
}

// Count returns the number of rows; with softColumn, of those where that
// boolean column is not true.
func (s *Scanner) Count(ctx context.Context, t *ScanTable, softColumn string) (int64, error) {
	sql := "SELECT count(*) FROM " + t.ref.quoted()
	if softColumn != "" {
		sql += " WHERE " + pgx.Identifier{softColumn}.Sanitize() + " IS NOT TRUE"
	}
	var n int64
	if err := s.conn.QueryRow(ctx, sql).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", t.ref, err)
	}
	return n, nil
}
