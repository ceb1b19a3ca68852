package plan

import (
	"fmt"
	"strings"

	"github.com/sluice-dev/sluice/ksql/internal/suggest"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/parse"
	"github.com/sluice-dev/sluice/ksql/types"
)

// column is one column of a query's input row.
type column struct {
	source string // the alias of the FROM source it belongs to
	name   string // its name in that source
	t      types.Type
	pseudo bool // ROWTIME, ROWPARTITION, ROWOFFSET
	// repart marks a PARTITION BY key column appended to the row: its
	// name is not one SELECT items' generated names avoid (ksqlDB names
	// them over the FROM sources' columns).
	repart bool
}

// fromSource is one source of a query's FROM clause.
type fromSource struct {
	alias string
	rel   *Relation
	pos   parse.Pos
}

// scope is what names mean in a query: the input row's columns and the
// FROM sources they come from.
type scope struct {
	cols    []column
	sources []fromSource
}

func (s *scope) isJoin() bool { return len(s.sources) > 1 }

func (s *scope) source(alias string) *fromSource {
	for i := range s.sources {
		if s.sources[i].alias == alias {
			return &s.sources[i]
		}
	}
	return nil
}

// resolve finds the column a reference names (ksqlDB's rules: a
// qualifier must name a FROM source or its alias; an unqualified name
// must be in exactly one source, pseudo-columns included, so ROWTIME is
// ambiguous in a join).
func (s *scope) resolve(ref *parse.ColumnRef) (int, error) {
	name := ref.Name.Name
	if ref.Qualifier != nil {
		q := ref.Qualifier.Name
		src := s.source(q)
		if src == nil {
			var aliases []string
			for _, x := range s.sources {
				aliases = append(aliases, x.alias)
			}
			return 0, errAt(ref.Qualifier.Pos, "unknown source %s in %s.%s: the query reads %s", q, q, name, suggest.Or(aliases))
		}
		var names []string
		for i, c := range s.cols {
			if c.source == q {
				if c.name == name {
					return i, nil
				}
				names = append(names, c.name)
			}
		}
		return 0, errAt(ref.Name.Pos, "unknown column %s.%s%s", q, name, hintOrList(name, names, src.rel))
	}
	found := -1
	var in []string
	for i, c := range s.cols {
		if c.name == name {
			if found < 0 {
				found = i
			}
			in = append(in, c.source)
		}
	}
	switch {
	case len(in) == 1:
		return found, nil
	case len(in) > 1:
		have := "all have it"
		if len(in) == 2 {
			have = "both have it"
		}
		var qualified []string
		for _, src := range in {
			qualified = append(qualified, src+"."+name)
		}
		return 0, errAt(ref.Pos, "column %s is ambiguous: %s %s; qualify it: %s", name, suggest.And(in), have, suggest.Or(qualified))
	}
	var names []string
	for _, c := range s.cols {
		if !c.pseudo {
			names = append(names, c.name)
		}
	}
	var rel *Relation
	if len(s.sources) == 1 {
		rel = s.sources[0].rel
	}
	return 0, errAt(ref.Pos, "unknown column %s%s", name, hintOrList(name, names, rel))
}

// hintOrList is " (did you mean X?)", or the columns there are when none
// is near.
func hintOrList(name string, names []string, rel *Relation) string {
	if h := suggest.Hint(name, names); h != "" {
		return h
	}
	if len(names) == 0 {
		return ""
	}
	where := ""
	if rel != nil {
		where = " of " + rel.Name
	}
	if len(names) > 12 {
		names = append(names[:12:12], "…")
	}
	return fmt.Sprintf("; the columns%s are %s", where, strings.Join(names, ", "))
}

// errAt builds a positioned planning error.
func errAt(pos parse.Pos, format string, args ...any) *parse.Error {
	return &parse.Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// bail aborts planning the current statement with a positioned error.
func bail(pos parse.Pos, format string, args ...any) {
	panic(errAt(pos, format, args...))
}

// must aborts the statement with err (a *parse.Error) unless it is nil.
func must(err error) {
	if err != nil {
		panic(err)
	}
}

// sourceRow is the row a relation gives a query reading it: its columns,
// then the pseudo-columns ROWTIME, ROWPARTITION, ROWOFFSET.
func sourceRow(r *Relation) []types.Field {
	row := append([]types.Field(nil), r.Schema.Columns...)
	return append(row,
		types.Field{Name: ir.RowTime, Type: types.TBigint},
		types.Field{Name: ir.RowPartition, Type: types.TInteger},
		types.Field{Name: ir.RowOffset, Type: types.TBigint})
}

func isPseudo(name string) bool {
	return name == ir.RowTime || name == ir.RowPartition || name == ir.RowOffset
}
