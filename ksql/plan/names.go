package plan

import (
	"regexp"
	"strconv"

	"github.com/sluice-dev/sluice/ksql/parse"
)

// aliasGen names SELECT items that have no alias, as ksqlDB's
// ColumnNames.columnAliasGenerator does: KSQL_COL_0, KSQL_COL_1, … for
// expressions, skipping the numbers a source column already uses; the
// field name for a struct field (x->f is F, then F_1, F_2 … when F is
// taken).
type aliasGen struct {
	used map[string]map[int]bool // base name → numbers in use (0: the bare name)
	next map[string]int
}

var numbered = regexp.MustCompile(`^(.*?)(?:_(\d+))?$`)

func newAliasGen(sc *scope) *aliasGen {
	g := &aliasGen{used: map[string]map[int]bool{}, next: map[string]int{}}
	for _, c := range sc.cols {
		if !c.repart {
			g.use(c.name)
		}
	}
	return g
}

func (g *aliasGen) use(name string) {
	m := numbered.FindStringSubmatch(name)
	base, n := m[1], 0
	if m[2] != "" {
		n, _ = strconv.Atoi(m[2])
	}
	if g.used[base] == nil {
		g.used[base] = map[int]bool{}
	}
	g.used[base][n] = true
}

// col is the next KSQL_COL_n.
func (g *aliasGen) col() string {
	for {
		n := g.next["KSQL_COL"]
		g.next["KSQL_COL"]++
		if !g.used["KSQL_COL"][n] {
			return "KSQL_COL_" + strconv.Itoa(n)
		}
	}
}

// field is the next alias for a struct field named f: F, F_1, F_2 …
func (g *aliasGen) field(f string) string {
	for {
		n := g.next[f]
		g.next[f]++
		if !g.used[f][n] {
			if n == 0 {
				return f
			}
			return f + "_" + strconv.Itoa(n)
		}
	}
}

// itemName is the name ksqlDB gives a SELECT item without an alias: a
// column's own name — in a join, ALIAS_NAME when the name is in more
// than one source or is a pseudo-column (why seed 004 shows O_ORDER_ID);
// a struct field's name; else a generated KSQL_COL_n.
func itemName(e parse.Expr, sc *scope, g *aliasGen, synth bool) string {
	switch e := e.(type) {
	case *parse.ColumnRef:
		if synth && e.Qualifier == nil && e.Name.Name == rowKey {
			return rowKey
		}
		if e.Qualifier == nil && (e.Name.Name == windowStart || e.Name.Name == windowEnd) {
			if _, err := sc.resolve(e); err != nil {
				return e.Name.Name
			}
		}
		i, err := sc.resolve(e)
		if err != nil {
			return e.Name.Name
		}
		c := sc.cols[i]
		if sc.isJoin() && (c.pseudo || clashing(sc, c.name)) {
			return c.source + "_" + c.name
		}
		return c.name
	case *parse.Deref:
		return g.field(e.Field.Name)
	}
	return g.col()
}

// clashing reports whether more than one FROM source has a column named
// name.
func clashing(sc *scope, name string) bool {
	var first string
	for _, c := range sc.cols {
		if c.name == name {
			if first == "" {
				first = c.source
			} else if c.source != first {
				return true
			}
		}
	}
	return false
}
