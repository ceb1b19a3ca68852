package parse

import (
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/ksql/internal/suggest"
)

// clauses are a query's clauses after FROM, in the order ksqlDB requires.
var clauses = []string{"WINDOW", "WHERE", "GROUP BY", "PARTITION BY", "HAVING", "EMIT", "LIMIT"}

// query parses SELECT … FROM … [WINDOW …] [WHERE …] [GROUP BY …]
// [PARTITION BY …] [HAVING …] [EMIT CHANGES|FINAL] [LIMIT n].
func (p *parser) query() *Select {
	pos := p.tok.pos
	if !p.acceptKw("SELECT") {
		p.failExpected("SELECT", "SELECT")
	}
	s := &Select{Pos: pos}
	s.Items = p.selectItems()
	if !p.acceptKw("FROM") {
		if p.isPunct(",") || p.tok.kind == tEOF || p.isPunct(";") {
			p.failExpected("FROM after the SELECT list", "FROM")
		}
		p.failExpected("FROM or ',' after the SELECT list", "FROM")
	}
	s.From = p.relation()
	next := 0 // index in clauses of the next clause allowed
	for {
		at := -1
		switch {
		case p.isKw("WINDOW"):
			at = 0
		case p.isKw("WHERE"):
			at = 1
		case p.isKw("GROUP") && p.isKwAt(1, "BY"):
			at = 2
		case p.isKw("PARTITION") && p.isKwAt(1, "BY"):
			at = 3
		case p.isKw("HAVING"):
			at = 4
		case p.isKw("EMIT"):
			at = 5
		case p.isKw("LIMIT"):
			at = 6
		}
		if at < 0 {
			break
		}
		if at < next {
			p.fail(p.tok.pos, "%s must come before %s (a query's clauses go in the order %s)", clauses[at], clauses[next-1], strings.Join(clauses, ", "))
		}
		next = at + 1
		switch at {
		case 0:
			s.Window = p.window()
		case 1:
			p.next()
			s.Where = p.expr()
		case 2:
			p.next()
			p.next()
			s.GroupBy = p.exprList()
		case 3:
			p.next()
			p.next()
			s.PartitionBy = p.exprList()
		case 4:
			p.next()
			s.Having = p.expr()
		case 5:
			p.next()
			switch {
			case p.acceptKw("CHANGES"):
				s.Emit = EmitChanges
			case p.acceptKw("FINAL"):
				s.Emit = EmitFinal
			default:
				msg := "expected CHANGES or FINAL after EMIT, found " + p.tok.describe()
				if p.tok.kind == tIdent && len(suggest.Near(p.tok.up, []string{"CHANGES", "FINAL"}, 1)) > 0 {
					msg += " (did you mean EMIT " + suggest.Near(p.tok.up, []string{"CHANGES", "FINAL"}, 1)[0] + "?)"
				}
				p.fail(p.tok.pos, "%s", msg)
			}
		case 6:
			p.next()
			if p.tok.kind != tInteger {
				p.failExpected("a row count after LIMIT")
			}
			n, err := strconv.Atoi(p.tok.text)
			if err != nil || n > 1<<31-1 {
				p.fail(p.tok.pos, "LIMIT %s is out of range", p.tok.text)
			}
			s.Limit, s.HasLimit = n, true
			p.next()
		}
	}
	p.endOfQuery(next)
	return s
}

// endOfQuery fails unless the query ends here, naming the clauses that
// may still follow and hinting at the likely one.
func (p *parser) endOfQuery(next int) {
	if p.tok.kind == tEOF || p.isPunct(";") {
		return
	}
	t := p.tok
	if t.kind == tIdent && (t.up == "CHANGES" || t.up == "FINAL") && next <= 5 {
		p.fail(t.pos, "unexpected %s (did you mean EMIT %s?)", t.up, t.up)
	}
	if t.kind == tIdent && (t.up == "GROUP" || t.up == "PARTITION") {
		p.fail(t.pos, "expected BY after %s, found %s", t.up, p.peek(1).describe())
	}
	var may, words []string
	for _, c := range clauses[next:] {
		may = append(may, c)
		words = append(words, strings.Fields(c)[0])
	}
	what := "the end of the query"
	if len(may) > 0 {
		what = strings.Join(may, ", ") + " or the end of the query (';')"
	}
	if t.kind == tIdent && t.up == "EMITS" || t.kind == tIdent && t.up == "EMIT_CHANGES" {
		p.fail(t.pos, "expected %s, found %s (did you mean EMIT CHANGES?)", what, t.describe())
	}
	p.failExpected(what, words...)
}

// selectItems parses the SELECT list.
func (p *parser) selectItems() []SelectItem {
	var items []SelectItem
	for {
		it := SelectItem{Pos: p.tok.pos}
		switch {
		case p.acceptPunct("*"):
			it.Star = true
		case (p.tok.kind == tIdent || p.tok.kind == tQuoted) && p.peek(1).kind == tPunct && p.peek(1).text == "." &&
			p.peek(2).kind == tPunct && p.peek(2).text == "*":
			q := p.ident("a source name")
			p.next()
			p.next()
			it.Star, it.Qualifier = true, &q
		default:
			it.Expr = p.expr()
			if p.acceptKw("AS") {
				a := p.ident("an alias after AS")
				it.Alias = &a
			} else if p.isImplicitAlias() {
				a := p.ident("an alias")
				it.Alias = &a
			}
		}
		items = append(items, it)
		if !p.acceptPunct(",") {
			return items
		}
	}
}

// relation parses FROM's source and its joins.
func (p *parser) relation() Relation {
	var r Relation = p.table()
	for {
		pos := p.tok.pos
		jt, ok := p.joinType()
		if !ok {
			return r
		}
		j := &Join{Pos: pos, Type: jt, Left: r, Right: p.table()}
		if p.isKw("WITHIN") {
			j.Within = p.within()
		}
		if !p.acceptKw("ON") {
			p.failExpected("ON and the join condition", "ON", "WITHIN")
		}
		j.On = p.expr()
		r = j
	}
}

// joinType consumes [INNER | LEFT [OUTER] | RIGHT [OUTER] | FULL [OUTER]]
// JOIN.
func (p *parser) joinType() (JoinType, bool) {
	jt := InnerJoin
	switch {
	case p.isKw("JOIN"):
	case p.isKw("INNER"):
		p.next()
	case p.isKw("LEFT"):
		jt = LeftJoin
		p.next()
		p.acceptKw("OUTER")
	case p.isKw("RIGHT"):
		jt = RightJoin
		p.next()
		p.acceptKw("OUTER")
	case p.isKw("FULL"):
		jt = FullJoin
		p.next()
		p.acceptKw("OUTER")
	case p.isKw("OUTER"):
		p.fail(p.tok.pos, "OUTER JOIN needs its side: LEFT, RIGHT or FULL OUTER JOIN")
	default:
		return 0, false
	}
	if !p.acceptKw("JOIN") {
		p.failExpected("JOIN", "JOIN")
	}
	return jt, true
}

// table parses `name [[AS] alias]`.
func (p *parser) table() *Table {
	pos := p.tok.pos
	t := &Table{Pos: pos, Name: p.ident("a stream or table name")}
	if p.acceptKw("AS") {
		a := p.ident("an alias after AS")
		t.Alias = &a
	} else if p.isImplicitAlias() {
		a := p.ident("an alias")
		t.Alias = &a
	}
	return t
}

// within parses WITHIN n unit | WITHIN (n unit, m unit), then [GRACE
// PERIOD n unit].
func (p *parser) within() *Within {
	w := &Within{Pos: p.tok.pos}
	p.next()
	if p.acceptPunct("(") {
		w.Before = p.duration("the time before")
		p.expectPunct(",", " between the times before and after")
		w.After = p.duration("the time after")
		p.expectPunct(")", " after the times before and after")
	} else {
		w.Before = p.duration("the join window after WITHIN")
		w.After, w.Symmetric = w.Before, true
	}
	if p.isKw("GRACE") {
		w.Grace = p.grace()
	}
	return w
}

func (p *parser) grace() *Duration {
	p.next()
	p.expectKw("PERIOD", " after GRACE")
	d := p.duration("the grace period")
	return &d
}

// windowUnits are ksqlDB's time units of windows and joins (no WEEK).
var windowUnits = []string{"MILLISECOND", "MILLISECONDS", "SECOND", "SECONDS", "MINUTE", "MINUTES", "HOUR", "HOURS", "DAY", "DAYS"}

// duration parses `n unit`.
func (p *parser) duration(what string) Duration {
	d := Duration{Pos: p.tok.pos}
	if p.tok.kind != tInteger {
		p.failExpected(what + " (a whole number and a unit, e.g. 7 DAYS)")
	}
	n, err := strconv.ParseInt(p.tok.text, 10, 64)
	if err != nil {
		p.fail(p.tok.pos, "%s is out of range", p.tok.text)
	}
	d.N = n
	p.next()
	if p.tok.kind != tIdent || unitDurations[p.tok.up] == 0 {
		msg := "expected a time unit (MILLISECONDS, SECONDS, MINUTES, HOURS or DAYS), found " + p.tok.describe()
		if p.tok.kind == tIdent {
			switch p.tok.up {
			case "WEEK", "WEEKS", "MONTH", "MONTHS", "YEAR", "YEARS":
				msg += "; write weeks, months and years in DAYS"
			default:
				msg += suggest.Hint(p.tok.up, windowUnits)
			}
		}
		p.fail(p.tok.pos, "%s", msg)
	}
	d.Unit = p.tok.up
	p.next()
	return d
}

// window parses WINDOW TUMBLING|HOPPING|SESSION (…).
func (p *parser) window() *Window {
	w := &Window{Pos: p.tok.pos}
	p.next()
	// ksqlDB accepts (and ignores) a window name before the kind.
	if p.tok.kind == tIdent && !reserved[p.tok.up] && p.tok.up != "SESSION" {
		switch p.peek(1).up {
		case "TUMBLING", "HOPPING", "SESSION":
			p.next()
		}
	}
	switch {
	case p.acceptKw("TUMBLING"):
		w.Kind = Tumbling
	case p.acceptKw("HOPPING"):
		w.Kind = Hopping
	case p.acceptKw("SESSION"):
		w.Kind = Session
	default:
		p.failExpected("TUMBLING, HOPPING or SESSION after WINDOW", "TUMBLING", "HOPPING", "SESSION")
	}
	p.expectPunct("(", " after the window kind")
	if w.Kind == Session {
		if p.isKw("SIZE") {
			p.fail(p.tok.pos, "a SESSION window takes its inactivity gap without SIZE: SESSION (5 MINUTES)")
		}
		w.Size = p.duration("the session's inactivity gap")
	} else {
		p.expectKw("SIZE", "")
		w.Size = p.duration("the window size")
	}
	if w.Kind == Hopping {
		if !p.acceptPunct(",") || !p.acceptKw("ADVANCE") {
			p.fail(p.tok.pos, "a HOPPING window needs ADVANCE BY: HOPPING (SIZE 1 HOUR, ADVANCE BY 10 MINUTES)")
		}
		p.expectKw("BY", " after ADVANCE")
		d := p.duration("the advance")
		w.Advance = &d
	}
	for p.acceptPunct(",") {
		switch {
		case p.isKw("RETENTION") && w.Retention == nil && w.Grace == nil:
			p.next()
			d := p.duration("the retention")
			w.Retention = &d
		case p.isKw("GRACE") && w.Grace == nil:
			w.Grace = p.grace()
		case p.isKw("ADVANCE"):
			p.fail(p.tok.pos, "only HOPPING windows advance; TUMBLING windows advance by their size")
		default:
			p.failExpected("RETENTION or GRACE PERIOD (in that order)", "RETENTION", "GRACE")
		}
	}
	p.expectPunct(")", " after the window's definition")
	return w
}
