package plan

import (
	"fmt"
	"maps"
	"strings"

	"github.com/sluice-dev/sluice/ksql/internal/suggest"
	"github.com/sluice-dev/sluice/ksql/ir"
	"github.com/sluice-dev/sluice/ksql/parse"
	"github.com/sluice-dev/sluice/ksql/types"
)

// createAs plans CREATE STREAM|TABLE … AS SELECT: a persistent query and
// the relation it writes.
func (pl *planner) createAs(s *parse.CreateAs) {
	kind := ir.Stream
	prefix := "CSAS_"
	if s.Table {
		kind, prefix = ir.Table, "CTAS_"
	}
	if !pl.checkReplace(s.Name, kind, s.IfNotExists, s.OrReplace) {
		return
	}
	old := pl.rels[s.Name.Name]
	if old != nil && !old.Derived {
		bail(s.Name.Pos, "cannot replace %s with a query's result: it is declared over sluice stream '%s'", old.Name, old.Topic)
	}
	res := pl.selectQuery(s.Query, true)
	if res.kind != kind {
		if kind == ir.Stream {
			bail(s.Pos, "the SELECT gives a TABLE (it aggregates or reads tables): use CREATE TABLE %s AS SELECT …", s.Name.Name)
		}
		bail(s.Pos, "the SELECT gives a STREAM: use CREATE STREAM %s AS SELECT …, or GROUP BY to make a table", s.Name.Name)
	}
	props := propMap(s.Props)
	topic := s.Name.Name
	if t, ok := props["KAFKA_TOPIC"]; ok {
		topic = t
	}
	pl.checkTopic(topic, old, propPos(s.Props, "KAFKA_TOPIC", s.Name.Pos))
	if ts, ok := props["TIMESTAMP"]; ok {
		col := strings.ToUpper(ts)
		if res.schema.Index(col) < 0 {
			bail(propPos(s.Props, "TIMESTAMP", s.Pos), "timestamp column %s is not a column of the result%s", col, suggest.Hint(col, fieldNames(res.schema.Columns)))
		}
	}
	id := prefix + s.Name.Name + "_" + fmt.Sprint(pl.seq-1)
	if old != nil {
		// CREATE OR REPLACE keeps the query's ID, as ksqlDB does; readers
		// of the relation need the same columns.
		if old.Query != "" {
			id = old.Query
		}
		var readers []string
		for _, r := range pl.readers(old.Name) {
			if r != old.Query {
				readers = append(readers, r)
			}
		}
		if len(readers) > 0 && !sameSchema(old.Schema, res.schema) {
			bail(s.Name.Pos, "cannot replace %s with different columns: %s reads it", old.Name, suggest.Or(readers))
		}
		pl.removeQuery(old.Query)
		delete(pl.topics, old.Topic)
	}
	rel := &Relation{Name: s.Name.Name, Kind: kind, Topic: topic, Schema: res.schema, Windowed: res.windowed, Query: id, Derived: true, Props: props, Pos: s.Pos}
	rel.Source = readSource(rel)
	pl.addRelation(rel)
	pl.topics[topic] = rel
	pl.plan.Queries = append(pl.plan.Queries, &Query{
		Query: ir.Query{ID: id, Name: rel.Name, Topic: topic, Root: res.root},
		Kind:  kind, Props: maps.Clone(pl.plan.Props), SQL: parse.Print(s), Pos: s.Pos,
	})
}

// readSource is how another query reads a query's result: the sluice
// stream it writes, its columns as they are, its row time the time the
// writing query gave the row.
func readSource(r *Relation) *ir.Source {
	src := &ir.Source{Name: r.Name, Stream: r.Topic, K: r.Kind, TimestampCol: -1}
	src.S = types.Schema{Columns: sourceRow(r), Key: r.Schema.Key}
	for _, c := range r.Schema.Columns {
		src.FromColumns = append(src.FromColumns, c.Name)
	}
	if r.Kind == ir.Stream {
		src.DeleteHandling = "drop"
	}
	return src
}

// checkTopic refuses an output stream a source or another query already
// writes.
func (pl *planner) checkTopic(topic string, replacing *Relation, pos parse.Pos) {
	if info, ok := pl.cat.Stream(topic); ok && !info.Assumed {
		bail(pos, "sluice stream '%s' is a source's stream: a query writes a stream of its own (choose another kafka_topic)", topic)
	}
	if r := pl.topics[topic]; r != nil && r != replacing {
		by := "declared by " + r.Name
		if r.Query != "" {
			by = "written by " + r.Query
		}
		bail(pos, "sluice stream '%s' is already %s: choose another kafka_topic", topic, by)
	}
}

func fieldNames(fs []types.Field) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	return out
}

func sameSchema(a, b types.Schema) bool {
	if len(a.Columns) != len(b.Columns) || len(a.Key) != len(b.Key) {
		return false
	}
	for i := range a.Columns {
		if a.Columns[i].Name != b.Columns[i].Name || !a.Columns[i].Type.Equal(b.Columns[i].Type) {
			return false
		}
	}
	for i := range a.Key {
		if a.Key[i] != b.Key[i] {
			return false
		}
	}
	return true
}

// insertInto plans INSERT INTO stream SELECT …: the SELECT must give the
// stream's columns and key exactly.
func (pl *planner) insertInto(s *parse.InsertInto) {
	target := pl.lookup(s.Name)
	if target.Kind != ir.Stream {
		bail(s.Name.Pos, "INSERT INTO writes a stream; %s is a table", target.Name)
	}
	if info, ok := pl.cat.Stream(target.Topic); ok && !info.Assumed {
		bail(s.Name.Pos, "INSERT INTO %s would write sluice stream '%s', a source's stream: insert into a stream a query creates, or one declared with partitions", target.Name, target.Topic)
	}
	res := pl.selectQuery(s.Query, true)
	if res.kind != ir.Stream {
		bail(s.Query.Pos, "INSERT INTO needs a SELECT that gives a stream; this one gives a table")
	}
	if !sameSchema(target.Schema, res.schema) {
		bail(s.Query.Pos, "INSERT INTO %s: the SELECT gives %s, but %s has %s", target.Name, schemaText(res.schema), target.Name, schemaText(target.Schema))
	}
	id := "INSERTQUERY_" + fmt.Sprint(pl.seq-1)
	if q, ok := parse.PropString(s.Props, "QUERY_ID"); ok {
		id = strings.ToUpper(q)
		for _, x := range pl.plan.Queries {
			if x.ID == id {
				bail(s.Pos, "query id %s is taken", id)
			}
		}
	}
	pl.plan.Queries = append(pl.plan.Queries, &Query{
		Query: ir.Query{ID: id, Name: target.Name, Topic: target.Topic, Root: res.root},
		Kind:  ir.Stream, Insert: true, Props: maps.Clone(pl.plan.Props), SQL: parse.Print(s), Pos: s.Pos,
	})
}

// schemaText spells a schema for errors: (ID STRING KEY, NAME STRING).
func schemaText(s types.Schema) string {
	parts := make([]string, len(s.Columns))
	for i, c := range s.Columns {
		parts[i] = c.Name + " " + c.Type.String()
		for _, k := range s.Key {
			if k == i {
				parts[i] += " KEY"
			}
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// transient type-checks a SELECT statement (a pull or push query).
func (pl *planner) transient(s *parse.Query) {
	res := pl.selectQuery(s.Select, false)
	pl.plan.Transient = append(pl.plan.Transient, &Query{
		Query: ir.Query{Root: res.root}, Kind: res.kind, Props: maps.Clone(pl.plan.Props), SQL: parse.Print(s), Pos: s.Pos,
	})
}
