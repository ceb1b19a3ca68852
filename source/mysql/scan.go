package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/sluice-dev/sluice/event"
)

// Scanner reads tables for `sluice verify` the way the snapshot does: the
// same connection settings (UTC session time zone, utf8mb4), catalog and
// text decoding, so a row it returns is the row image the source emitted
// for it. Its reads run on one connection in READ ONLY transactions
// (SET SESSION TRANSACTION READ ONLY); only InsertSignal writes, on another.
type Scanner struct {
	db   *sql.DB
	conn *sql.Conn
}

// OpenScanner connects with the source's configuration. Errors never
// quote the DSN.
func OpenScanner(ctx context.Context, cfg *Config) (*Scanner, error) {
	dc, err := cfg.driverConfig()
	if err != nil {
		return nil, err
	}
	connector, err := mysql.NewConnector(dc)
	if err != nil {
		return nil, errors.New("dsn is not a valid MySQL data source name")
	}
	db := sql.OpenDB(connector)
	conn, err := db.Conn(ctx)
	if err == nil {
		_, err = conn.ExecContext(ctx, "SET SESSION TRANSACTION READ ONLY")
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	return &Scanner{db: db, conn: conn}, nil
}

// Close closes the connections.
func (s *Scanner) Close(context.Context) error {
	s.conn.Close()
	return s.db.Close()
}

// Resolve expands db.table patterns (globs allowed in the table part, as
// in the source's tables key) into db.table names.
func (s *Scanner) Resolve(ctx context.Context, patterns []string) ([]string, error) {
	refs, err := resolveTables(ctx, s.db, patterns)
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
	// Schema is the table's row schema as the source emits it.
	Schema *event.Schema
	ref    tableRef
	types  []*colType
	key    []string // quoted key columns
}

// ScanRow is one row: the key's text forms and the decoded values.
type ScanRow struct {
	Key    []string
	Values []event.Value
}

// Open loads db.table's columns and key; source names the stream.
func (s *Scanner) Open(ctx context.Context, name, source string) (*ScanTable, error) {
	db, table, ok := strings.Cut(name, ".")
	if !ok {
		return nil, fmt.Errorf("table %q is not db.table", name)
	}
	ref := tableRef{db: db, name: table}
	cols, err := loadColumns(ctx, s.db, ref)
	if err != nil {
		return nil, err
	}
	base := event.Schema{Stream: source + "." + db + "." + table, Source: source, Connector: "mysql",
		Database: db, Table: table, Version: 1}
	sch, types, err := buildSchema(base, ref, cols)
	if err != nil {
		return nil, err
	}
	if len(sch.KeyIdx) == 0 {
		return nil, fmt.Errorf("table %s has no primary key: verify compares rows by key", name)
	}
	t := &ScanTable{Schema: sch, ref: ref, types: types}
	for _, k := range sch.KeyIdx {
		t.key = append(t.key, quoteIdent(sch.Columns[k].Name))
	}
	return t, nil
}

// KeyColumns are the key columns' names, in key order.
func (t *ScanTable) KeyColumns() []string {
	out := make([]string, len(t.Schema.KeyIdx))
	for i, k := range t.Schema.KeyIdx {
		out[i] = t.Schema.Columns[k].Name
	}
	return out
}

func (t *ScanTable) literals(key []string) []string {
	lits := make([]string, len(key))
	for i, v := range key {
		lits[i] = t.types[t.Schema.KeyIdx[i]].keyLiteral(v)
	}
	return lits
}

// Rows reads at most limit rows (0: no limit) with after < key <= upto, in
// key order, decoded as the snapshot decodes them.
func (s *Scanner) Rows(ctx context.Context, t *ScanTable, after, upto []string, limit int) ([]ScanRow, error) {
	cols := make([]string, len(t.Schema.Columns))
	for i, c := range t.Schema.Columns {
		cols[i] = quoteIdent(c.Name)
		if t.types[i].kind == vFloat32 {
			cols[i] = "CAST(" + cols[i] + " AS DOUBLE)" // as the snapshot reads it
		}
	}
	keyList := "(" + strings.Join(t.key, ", ") + ")"
	q := "SELECT " + strings.Join(cols, ", ") + " FROM " + t.ref.quoted()
	var conds []string
	if after != nil {
		conds = append(conds, keyList+" > ("+strings.Join(t.literals(after), ", ")+")")
	}
	if upto != nil {
		conds = append(conds, keyList+" <= ("+strings.Join(t.literals(upto), ", ")+")")
	}
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	q += " ORDER BY " + strings.Join(t.key, ", ")
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := s.conn.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", t.ref, err)
	}
	defer rows.Close()
	raw := make([]sql.RawBytes, len(cols))
	ptrs := make([]any, len(raw))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	var out []ScanRow
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("read %s: %w", t.ref, err)
		}
		vals := make([]event.Value, len(raw))
		for i, b := range raw {
			v, err := t.types[i].fromText(b)
			if err != nil {
				c := &t.Schema.Columns[i]
				return nil, fmt.Errorf("read %s: column %s (%s): %w", t.ref, c.Name, c.TypeName, err)
			}
			vals[i] = v
		}
		key := make([]string, len(t.Schema.KeyIdx))
		for i, k := range t.Schema.KeyIdx {
			key[i] = string(raw[k])
		}
		out = append(out, ScanRow{Key: key, Values: vals})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", t.ref, err)
	}
	return out, nil
}

// HasKey reports whether a row with this key (text forms) exists.
func (s *Scanner) HasKey(ctx context.Context, t *ScanTable, key []string) (bool, error) {
	var one int
	err := s.conn.QueryRowContext(ctx, "SELECT 1 FROM "+t.ref.quoted()+" WHERE ("+strings.Join(t.key, ", ")+") = ("+
		strings.Join(t.literals(key), ", ")+")").Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", t.ref, err)
	}
	return true, nil
}

// InsertSignal inserts one row into a Debezium signal table (db.table,
// columns id, type, data).
func (s *Scanner) InsertSignal(ctx context.Context, table, id, typ, data string) error {
	db, name, _ := strings.Cut(table, ".")
	_, err := s.db.ExecContext(ctx, "INSERT INTO "+quoteIdent(db)+"."+quoteIdent(name)+" (id, type, data) VALUES (?, ?, ?)", id, typ, data)
	return err
}

// KeyLiteral writes the text form of key column i's value as a SQL literal
// (the snapshot's checkpoint literals: exact for every key type).
func (t *ScanTable) KeyLiteral(i int, v string) string {
	return t.types[t.Schema.KeyIdx[i]].keyLiteral(v)
}

// QuoteIdent quotes a MySQL identifier.
func QuoteIdent(s string) string { return quoteIdent(s) }
