package plan

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/sluice-dev/sluice/ksql/funcs"
	"github.com/sluice-dev/sluice/ksql/internal/suggest"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/parse"
)

// Options configure planning.
type Options struct {
	// Funcs is the function registry; nil means funcs.Builtin().
	Funcs *funcs.Registry
}

// Build plans statements, in order, against the sluice streams of cat.
// It returns what the statements declare and run and, when any failed, a
// parse.ErrorList with one positioned error per failed statement
// ("line 3:14: unknown column PRISE (did you mean PRICE?)"). A statement
// that reads a relation whose own statement failed is skipped without an
// error of its own, so one mistake is reported once.
func Build(stmts []parse.Statement, cat Catalog, opts Options) (*Plan, error) {
	pl := &planner{
		cat:      cat,
		funcs:    opts.Funcs,
		plan:     &Plan{Props: map[string]string{}},
		rels:     map[string]*Relation{},
		state:    map[string]relState{},
		waitsFor: map[string]string{},
		topics:   map[string]*Relation{},
	}
	if pl.funcs == nil {
		pl.funcs = funcs.Builtin()
	}
	waiting := map[string]bool{}
	for _, s := range stmts {
		pl.statement(s, waiting)
	}
	pl.plan.Waiting = slices.Sorted(maps.Keys(waiting))
	if len(pl.errs) > 0 {
		return pl.plan, pl.errs
	}
	return pl.plan, nil
}

// relState marks names whose statement could not be planned.
type relState uint8

const (
	relBroken  relState = iota + 1 // its statement failed
	relPending                     // it waits for a schema
)

type planner struct {
	cat   Catalog
	funcs *funcs.Registry
	plan  *Plan
	rels  map[string]*Relation
	state map[string]relState
	// waitsFor names the sluice stream a pending name waits for.
	waitsFor map[string]string
	// topics maps the sluice streams written by queries (and the new
	// streams CREATE STREAM … WITH (partitions = n) declares) to their
	// relation.
	topics map[string]*Relation
	// seq counts the statements ksqlDB would write to its command topic;
	// query IDs end with it (CSAS_SHIPPED_ORDERS_5).
	seq  int
	errs parse.ErrorList
}

// skip aborts a statement that reads a relation whose statement failed.
type skip struct{}

// wait aborts a statement that reads a relation waiting for the schema
// of sluice stream stream.
type wait struct{ stream string }

// statement plans one statement, recording its error or deferral.
func (pl *planner) statement(s parse.Statement, waiting map[string]bool) {
	created := createdName(s)
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		switch r := r.(type) {
		case *parse.Error:
			pl.errs = append(pl.errs, r)
			if created != "" && pl.rels[created] == nil {
				pl.state[created] = relBroken
			}
		case skip:
			if created != "" && pl.rels[created] == nil {
				pl.state[created] = relBroken
			}
		case wait:
			waiting[r.stream] = true
			pl.plan.Deferred = append(pl.plan.Deferred, s)
			if created != "" && pl.rels[created] == nil {
				pl.state[created] = relPending
				pl.waitsFor[created] = r.stream
			}
		default:
			panic(r)
		}
	}()
	switch s := s.(type) {
	case *parse.Set:
		pl.set(s)
	case *parse.Unset:
		delete(pl.plan.Props, s.Name)
	case *parse.CreateSource:
		pl.seq++
		pl.createSource(s)
	case *parse.CreateAs:
		pl.seq++
		pl.createAs(s)
	case *parse.InsertInto:
		pl.seq++
		pl.insertInto(s)
	case *parse.Drop:
		pl.seq++
		pl.drop(s)
	case *parse.Terminate:
		pl.seq++
		pl.terminate(s)
	case *parse.Query:
		pl.transient(s)
	default:
		pl.plan.Control = append(pl.plan.Control, s)
	}
}

// createdName is the relation a statement creates, if any.
func createdName(s parse.Statement) string {
	switch s := s.(type) {
	case *parse.CreateSource:
		return s.Name.Name
	case *parse.CreateAs:
		return s.Name.Name
	}
	return ""
}

// offsetResets are auto.offset.reset's values.
var offsetResets = []string{"earliest", "latest"}

func (pl *planner) set(s *parse.Set) {
	if s.Name == "auto.offset.reset" && !slices.Contains(offsetResets, strings.ToLower(s.Value)) {
		bail(s.Pos, "'auto.offset.reset' is 'earliest' or 'latest', got '%s'", s.Value)
	}
	pl.plan.Props[s.Name] = s.Value
}

// lookup finds the relation a FROM, JOIN or INSERT INTO names. It aborts
// the statement quietly when that relation's own statement failed, and
// defers it when the relation waits for a schema.
func (pl *planner) lookup(id parse.Ident) *Relation {
	if r := pl.rels[id.Name]; r != nil {
		if r.Pending {
			panic(wait{r.Topic})
		}
		return r
	}
	switch pl.state[id.Name] {
	case relBroken:
		panic(skip{})
	case relPending:
		panic(wait{pl.waitsFor[id.Name]})
	}
	var names []string
	for _, r := range pl.plan.Relations {
		names = append(names, r.Name)
	}
	msg := fmt.Sprintf("unknown stream or table %s%s", id.Name, suggest.Hint(id.Name, names))
	if pl.catalogHas(id.Name) {
		msg += fmt.Sprintf("; to read the sluice stream, declare it first: CREATE STREAM %s WITH (kafka_topic = '…')", id.Name)
	}
	bail(id.Pos, "%s", msg)
	return nil
}

// catalogHas reports whether a sluice stream's name equals name
// case-insensitively.
func (pl *planner) catalogHas(name string) bool {
	for _, s := range pl.cat.Streams() {
		if strings.EqualFold(s, name) {
			return true
		}
	}
	return false
}

func (pl *planner) addRelation(r *Relation) {
	if old := pl.rels[r.Name]; old != nil {
		i := slices.Index(pl.plan.Relations, old)
		pl.plan.Relations[i] = r
	} else {
		pl.plan.Relations = append(pl.plan.Relations, r)
	}
	pl.rels[r.Name] = r
	delete(pl.state, r.Name)
}

// readers are the persistent queries reading relation name.
func (pl *planner) readers(name string) []string {
	var ids []string
	for _, q := range pl.plan.Queries {
		if readsRelation(q.Root, name) {
			ids = append(ids, q.ID)
		}
	}
	return ids
}

func readsRelation(n ir.Node, name string) bool {
	switch n := n.(type) {
	case *ir.Source:
		return n.Name == name
	case *ir.Filter:
		return readsRelation(n.Input, name)
	case *ir.Project:
		return readsRelation(n.Input, name)
	case *ir.Repartition:
		return readsRelation(n.Input, name)
	case *ir.Aggregate:
		return readsRelation(n.Input, name)
	case *ir.Join:
		return readsRelation(n.Left, name) || readsRelation(n.Right, name)
	}
	return false
}

func (pl *planner) drop(s *parse.Drop) {
	if s.What == "CONNECTOR" {
		pl.plan.Control = append(pl.plan.Control, s)
		return
	}
	r := pl.rels[s.Name.Name]
	if r == nil {
		if s.IfExists || pl.state[s.Name.Name] != 0 {
			delete(pl.state, s.Name.Name)
			return
		}
		bail(s.Name.Pos, "unknown %s %s", strings.ToLower(s.What), s.Name.Name)
	}
	if kind := kindName(r.Kind); kind != s.What {
		bail(s.Pos, "%s is a %s: DROP %s %s", r.Name, strings.ToLower(kind), kind, r.Name)
	}
	var readers []string
	for _, id := range pl.readers(r.Name) {
		if id != r.Query {
			readers = append(readers, id)
		}
	}
	if len(readers) > 0 {
		bail(s.Pos, "cannot drop %s: %s reads it (TERMINATE it first)", r.Name, suggest.Or(readers))
	}
	// As in ksqlDB, dropping a query's result terminates the query.
	if r.Query != "" {
		pl.removeQuery(r.Query)
	}
	if pl.topics[r.Topic] == r {
		delete(pl.topics, r.Topic)
	}
	delete(pl.rels, r.Name)
	pl.plan.Relations = slices.DeleteFunc(pl.plan.Relations, func(x *Relation) bool { return x == r })
}

func kindName(k ir.Kind) string {
	if k == ir.Table {
		return "TABLE"
	}
	return "STREAM"
}

func (pl *planner) removeQuery(id string) {
	pl.plan.Queries = slices.DeleteFunc(pl.plan.Queries, func(q *Query) bool { return q.ID == id })
	for _, r := range pl.rels {
		if r.Query == id {
			r.Query = ""
		}
	}
}

func (pl *planner) terminate(s *parse.Terminate) {
	pl.plan.Control = append(pl.plan.Control, s)
	if s.All {
		for _, q := range slices.Clone(pl.plan.Queries) {
			pl.removeQuery(q.ID)
		}
		return
	}
	for _, q := range pl.plan.Queries {
		if q.ID == s.ID.Name {
			pl.removeQuery(q.ID)
			return
		}
	}
	var ids []string
	for _, q := range pl.plan.Queries {
		ids = append(ids, q.ID)
	}
	bail(s.ID.Pos, "unknown query %s%s", s.ID.Name, suggest.Hint(s.ID.Name, ids))
}
