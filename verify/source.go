package verify

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/event"
	mysqlsource "github.com/sluice-dev/sluice/source/mysql"
	pgsource "github.com/sluice-dev/sluice/source/postgres"
	"github.com/sluice-dev/sluice/topology"
)

// row is one source (or SQL sink) row: the key's text forms and the values
// decoded as the source's snapshot decodes them.
type row struct {
	Key    []string
	Values []event.Value
}

// source is a source database verify reads, through the source package's
// own Scanner.
type source interface {
	resolve(ctx context.Context, patterns []string) ([]string, error)
	open(ctx context.Context, name string) (srcTable, error)
	// insertSignal writes one row into the signal table (schema.table).
	insertSignal(ctx context.Context, table string, sg Signal) error
	quoteIdent(string) string
	close(ctx context.Context)
}

// srcTable is one source table.
type srcTable interface {
	schema() *event.Schema
	keyColumns() []string
	rows(ctx context.Context, after, upto []string, limit int) ([]row, error)
	hasKey(ctx context.Context, key []string) (bool, error)
	// keyLiteral writes key column i's text form as a SQL literal.
	keyLiteral(i int, v string) string
}

// openSource connects to the source n; ok is false for a source type
// verify does not read.
func openSource(ctx context.Context, n *topology.Node) (source, bool, error) {
	switch c := n.Config.(type) {
	case *pgsource.Config:
		sc, err := pgsource.OpenScanner(ctx, c.DSN)
		if err != nil {
			return nil, true, fmt.Errorf("source %s: %w", n.Name, err)
		}
		return &pgSource{sc: sc, name: n.Name, patterns: c.Tables}, true, nil
	case *mysqlsource.Config:
		sc, err := mysqlsource.OpenScanner(ctx, c)
		if err != nil {
			return nil, true, fmt.Errorf("source %s: %w", n.Name, err)
		}
		return &mySource{sc: sc, name: n.Name, patterns: c.Tables}, true, nil
	}
	return nil, false, nil
}

// sourcePatterns is the tables key of a source verify reads.
func sourcePatterns(s source) []string {
	switch s := s.(type) {
	case *pgSource:
		return s.patterns
	case *mySource:
		return s.patterns
	}
	return nil
}

type pgSource struct {
	sc       *pgsource.Scanner
	name     string
	patterns []string
}

func (p *pgSource) resolve(ctx context.Context, patterns []string) ([]string, error) {
	return p.sc.Resolve(ctx, patterns)
}

func (p *pgSource) open(ctx context.Context, name string) (srcTable, error) {
	st, err := p.sc.Open(ctx, name, p.name, nil)
	if err != nil {
		return nil, err
	}
	return &pgSrcTable{sc: p.sc, st: st}, nil
}

func (p *pgSource) insertSignal(ctx context.Context, table string, sg Signal) error {
	schema, name, _ := cutTable(table)
	return p.sc.Exec(ctx, "INSERT INTO "+pgx.Identifier{schema, name}.Sanitize()+" (id, type, data) VALUES ($1, $2, $3)", sg.ID, sg.Type, sg.Data)
}

func (p *pgSource) quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }
func (p *pgSource) close(ctx context.Context)  { p.sc.Close(ctx) }

type pgSrcTable struct {
	sc *pgsource.Scanner
	st *pgsource.ScanTable
}

func (t *pgSrcTable) schema() *event.Schema { return t.st.Schema }
func (t *pgSrcTable) keyColumns() []string  { return t.st.KeyColumns() }
func (t *pgSrcTable) keyLiteral(_ int, v string) string {
	return quoteLit(v) // untyped: takes the column's type
}

func (t *pgSrcTable) rows(ctx context.Context, after, upto []string, limit int) ([]row, error) {
	rs, err := t.sc.Rows(ctx, t.st, after, upto, limit)
	out := make([]row, len(rs))
	for i, r := range rs {
		out[i] = row(r)
	}
	return out, err
}

func (t *pgSrcTable) hasKey(ctx context.Context, key []string) (bool, error) {
	return t.sc.HasKey(ctx, t.st, key)
}

type mySource struct {
	sc       *mysqlsource.Scanner
	name     string
	patterns []string
}

func (m *mySource) resolve(ctx context.Context, patterns []string) ([]string, error) {
	return m.sc.Resolve(ctx, patterns)
}

func (m *mySource) open(ctx context.Context, name string) (srcTable, error) {
	st, err := m.sc.Open(ctx, name, m.name)
	if err != nil {
		return nil, err
	}
	return &mySrcTable{sc: m.sc, st: st}, nil
}

func (m *mySource) insertSignal(ctx context.Context, table string, sg Signal) error {
	return m.sc.InsertSignal(ctx, table, sg.ID, sg.Type, sg.Data)
}

func (m *mySource) quoteIdent(s string) string { return mysqlsource.QuoteIdent(s) }
func (m *mySource) close(ctx context.Context)  { m.sc.Close(ctx) }

type mySrcTable struct {
	sc *mysqlsource.Scanner
	st *mysqlsource.ScanTable
}

func (t *mySrcTable) schema() *event.Schema             { return t.st.Schema }
func (t *mySrcTable) keyColumns() []string              { return t.st.KeyColumns() }
func (t *mySrcTable) keyLiteral(i int, v string) string { return t.st.KeyLiteral(i, v) }

func (t *mySrcTable) rows(ctx context.Context, after, upto []string, limit int) ([]row, error) {
	rs, err := t.sc.Rows(ctx, t.st, after, upto, limit)
	out := make([]row, len(rs))
	for i, r := range rs {
		out[i] = row(r)
	}
	return out, err
}

func (t *mySrcTable) hasKey(ctx context.Context, key []string) (bool, error) {
	return t.sc.HasKey(ctx, t.st, key)
}

// cutTable splits schema.table.
func cutTable(t string) (schema, table string, ok bool) {
	schema, table, ok = strings.Cut(t, ".")
	return schema, table, ok && schema != "" && table != "" && !strings.Contains(table, ".")
}
