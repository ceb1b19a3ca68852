// Package unwrap is the unwrap processor: Debezium's ExtractNewRecordState
// (and MongoDB's ExtractNewDocumentState) at the level of events, so that
// what follows it — a topic, a sink, a SQL stream — sees the records those
// transforms hand on. `sluice serve` puts one in a connector's pipeline for
// transforms.X.type = io.debezium.transforms.ExtractNewRecordState.
//
//	processors:
//	  unwrap:
//	    type: unwrap
//	    inputs: [shop]
//	    delete_handling: rewrite      # drop | tombstone | rewrite | rewrite_with_tombstone
//	    add_fields: [op, table, source.ts_ms]
//
// Events stay events (a sink still upserts by key), so the transform's
// record-level choices become event-level ones:
//
//	create, update, read  the row (after image) passes on; under rewrite
//	                      it gains __deleted = "false"
//	delete, drop          nothing passes on
//	delete, tombstone     the delete passes on (a null-valued record: the
//	                      key's row goes away in sinks and tables)
//	delete, rewrite       an update whose row is the before image with
//	                      __deleted = "true" (a sink keeps the row, marked)
//	delete, rewrite_with_tombstone
//	                      that update, then the delete
//	truncate              nothing (the transform drops records without
//	                      images)
//
// __deleted is a string column, as ExtractNewRecordState's InsertField
// adds it; on MongoDB events (Schema.Connector "mongodb") it is a boolean,
// as ExtractNewDocumentState writes it. add_fields are appended after it,
// in order, named add_fields_prefix (default "__") + field, or
// prefix + struct_field for a qualified name ("source.ts_ms" →
// __source_ts_ms), or prefix + the name after ':' ("source.ts_ms:commit").
// Their values are those of the event's Debezium envelope — op and the
// envelope's ts_ms, ts_us, ts_ns; the transaction block's id, total_order,
// data_collection_order (null: sluice writes no transaction block); any
// other name from source — as the row format renders add_fields (package
// format: byte for byte what Debezium's transforms copy, checked against
// them). A field the source block lacks is a null column.
//
// Each input schema gets one output schema (the columns plus the added
// ones), cached; the images of events that gain no column are shared.
package unwrap

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
)

// Delete handling modes (Debezium's delete.tombstone.handling.mode, with
// '_' for '-').
const (
	Drop                 = "drop"
	Tombstone            = "tombstone"
	Rewrite              = "rewrite"
	RewriteWithTombstone = "rewrite_with_tombstone"
)

// Config is the unwrap processor's configuration.
type Config struct {
	// DeleteHandling is what a delete becomes: drop (nothing, the
	// default), tombstone (the delete passes on), rewrite (the row with
	// __deleted = "true"; other rows get "false") or
	// rewrite_with_tombstone (that row, then the delete).
	DeleteHandling string `yaml:"delete_handling"`
	// AddFields adds the envelope's metadata as columns: op, ts_ms (the
	// envelope's), source fields by name (table, db, lsn, source.ts_ms …),
	// "field:newname" to name the column.
	AddFields []string `yaml:"add_fields"`
	// AddFieldsPrefix prefixes the added columns' names (default "__").
	AddFieldsPrefix string `yaml:"add_fields_prefix"`

	fields []field
}

// field is one resolved add_fields entry.
type field struct {
	column string // the added column's name
	parent string // "" (envelope), "source" or "transaction"
	name   string
}

// DefaultConfig returns the defaults.
func DefaultConfig() *Config { return &Config{DeleteHandling: Drop, AddFieldsPrefix: "__"} }

// Validate implements component.Validator.
func (c *Config) Validate() []error {
	var errs []error
	switch c.DeleteHandling {
	case Drop, Tombstone, Rewrite, RewriteWithTombstone:
	default:
		errs = append(errs, &component.FieldError{Field: "delete_handling", Msg: fmt.Sprintf("%q is not a mode", c.DeleteHandling), Hint: "drop (the default), tombstone, rewrite or rewrite_with_tombstone"})
	}
	c.fields = c.fields[:0]
	seen := map[string]bool{}
	for _, spec := range c.AddFields {
		f, err := parseField(strings.TrimSpace(spec), c.AddFieldsPrefix)
		if err != nil {
			errs = append(errs, &component.FieldError{Field: "add_fields", Msg: err.Error(), Hint: "op, ts_ms, table, db, schema, lsn, txId, source.<field>, field:newname"})
			continue
		}
		if seen[f.column] {
			errs = append(errs, &component.FieldError{Field: "add_fields", Msg: fmt.Sprintf("%q adds the column %s twice", spec, f.column)})
			continue
		}
		seen[f.column] = true
		c.fields = append(c.fields, f)
	}
	return errs
}

// parseField resolves an add_fields entry as ExtractNewRecordState does:
// op and ts_ms/ts_us/ts_ns are the envelope's, id, total_order and
// data_collection_order the transaction block's, any other name source's;
// "struct.field" names the struct.
func parseField(spec, prefix string) (field, error) {
	name, rename, hasRename := strings.Cut(spec, ":")
	if name == "" || hasRename && (rename == "" || strings.Contains(rename, ":")) {
		return field{}, fmt.Errorf("%q is not a field (field, struct.field or field:newname)", spec)
	}
	st, fld, qualified := strings.Cut(name, ".")
	if !qualified {
		fld = st
		switch fld {
		case "op", "ts_ms", "ts_us", "ts_ns":
			st = ""
		case "id", "total_order", "data_collection_order":
			st = "transaction"
		default:
			st = "source"
		}
	}
	switch {
	case st == "" && fld != "op" && !strings.HasPrefix(fld, "ts_"),
		st != "" && st != "source" && st != "transaction",
		fld == "" || strings.ContainsAny(fld, "."):
		return field{}, fmt.Errorf("%q is not a field of the envelope, source or transaction", spec)
	}
	col := prefix + fld
	if qualified {
		col = prefix + st + "_" + fld
	}
	if hasRename {
		col = prefix + rename
	}
	return field{column: col, parent: st, name: fld}, nil
}

// Factory builds unwrap processors. Register it under "unwrap".
var Factory = component.ProcessorFactory{
	Doc:    "turns change events into the rows Debezium's ExtractNewRecordState hands on: deletes dropped, kept or rewritten with __deleted, metadata added as columns",
	Config: func() any { return DefaultConfig() },
	New: func(cfg any, env component.Env) (component.Processor, error) {
		c, ok := cfg.(*Config)
		if !ok {
			return nil, fmt.Errorf("unwrap: config is %T, not *unwrap.Config", cfg)
		}
		return New(c)
	},
}

// Unwrap is the unwrap processor. Process is called from one goroutine at
// a time, which owns the caches and the encoder.
type Unwrap struct {
	deletes string
	fields  []field
	schemas map[*event.Schema]*event.Schema
	enc     format.Encoder
	buf     []byte
}

var (
	_ component.Processor     = (*Unwrap)(nil)
	_ component.KeepsNoEvents = (*Unwrap)(nil)
)

// KeepsNoEvents implements component.KeepsNoEvents, so that a source may
// recycle a batch that passed through unwrap. Audit (keep it true when
// changing Process): outputs share the inputs' images or extend copies of
// them; added columns are new values (json.Unmarshal's strings); the
// source block is rendered into u.buf, bytes of the processor's own; the
// output schemas are cached per *event.Schema; record errors are
// formatted when they happen.
func (u *Unwrap) KeepsNoEvents() bool { return true }

// maxSchemas bounds the schema cache; past it the cache starts afresh.
const maxSchemas = 1024

// New returns an unwrap processor for cfg (validated afresh, on a copy).
func New(cfg *Config) (*Unwrap, error) {
	c := *cfg
	c.fields = nil
	if errs := c.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("unwrap: %w", errs[0])
	}
	u := &Unwrap{deletes: c.DeleteHandling, fields: c.fields, schemas: map[*event.Schema]*event.Schema{}}
	var specs []string
	seen := map[string]bool{}
	for _, f := range u.fields {
		if f.parent == "source" && !seen[f.name] {
			seen[f.name] = true
			specs = append(specs, "source."+f.name+":"+strings.TrimPrefix(sourceAlias(f.name), "__"))
		}
	}
	if len(specs) > 0 {
		enc, err := format.New(format.Options{Format: format.Row, Unwrap: format.UnwrapOptions{DeleteHandling: format.DeleteDrop, AddFields: specs}})
		if err != nil {
			return nil, fmt.Errorf("unwrap: %w", err)
		}
		u.enc = enc
	}
	return u, nil
}

func (u *Unwrap) rewrite() bool { return u.deletes == Rewrite || u.deletes == RewriteWithTombstone }

// Process implements component.Processor.
func (u *Unwrap) Process(_ context.Context, in []event.Event, out []event.Event) ([]event.Event, error) {
	var rejected component.RecordErrors
	for i := range in {
		e := &in[i]
		var err error
		switch e.Op {
		case event.OpTruncate:
		case event.OpDelete:
			switch u.deletes {
			case Drop:
			case Tombstone:
				out, err = u.emit(out, e, e.Op, nil, "")
			default:
				if e.Before == nil {
					err = fmt.Errorf("unwrap: %s: delete_handling %s needs the before image, and the delete has none", e, u.deletes)
					break
				}
				out, err = u.emit(out, e, event.OpUpdate, e.Before, "true")
				if err == nil && u.deletes == RewriteWithTombstone {
					out, err = u.emit(out, e, e.Op, nil, "true")
				}
			}
		default:
			if e.After == nil {
				err = fmt.Errorf("unwrap: %s: the event has no after image", e)
				break
			}
			deleted := ""
			if u.rewrite() {
				deleted = "false"
			}
			out, err = u.emit(out, e, e.Op, e.After, deleted)
		}
		if err != nil {
			rejected = append(rejected, component.RecordError{Index: i, Err: err})
		}
	}
	if len(rejected) > 0 {
		return out, rejected
	}
	return out, nil
}

// emit appends e as op with row as its after image (nil: a delete, whose
// before image is e's), adding __deleted (unless deleted is "") and the
// add_fields columns.
func (u *Unwrap) emit(out []event.Event, e *event.Event, op event.Op, row []event.Value, deleted string) ([]event.Event, error) {
	s := u.schema(e.Schema)
	o := *e
	o.Op = op
	if s == e.Schema {
		if row != nil {
			o.Before, o.After = nil, row
		} else {
			o.After = nil
		}
		return append(out, o), nil
	}
	o.Schema = s
	extra, err := u.extra(e, deleted)
	if err != nil {
		return out, err
	}
	if row != nil {
		o.Before, o.After = nil, extend(row, extra, len(e.Schema.Columns), len(s.Columns))
	} else {
		o.After = nil
		if e.Before != nil {
			o.Before = extend(e.Before, extra, len(e.Schema.Columns), len(s.Columns))
		}
	}
	return append(out, o), nil
}

// extend returns img (n values) followed by extra, padded with nulls to
// total values.
func extend(img, extra []event.Value, n, total int) []event.Value {
	row := make([]event.Value, total)
	copy(row, img[:n])
	copy(row[n:], extra)
	return row
}

// schema returns the output schema for s: s itself when nothing is added.
func (u *Unwrap) schema(s *event.Schema) *event.Schema {
	if !u.rewrite() && len(u.fields) == 0 {
		return s
	}
	if o, ok := u.schemas[s]; ok {
		return o
	}
	o := *s
	o.Columns = append(make([]event.Column, 0, len(s.Columns)+1+len(u.fields)), s.Columns...)
	if u.rewrite() {
		c := event.Column{Name: "__deleted", Type: event.TypeString, TypeName: "string", Optional: true}
		if s.Connector == "mongodb" {
			c.Type, c.TypeName = event.TypeBool, "bool"
		}
		o.Columns = append(o.Columns, c)
	}
	for _, f := range u.fields {
		c := event.Column{Name: f.column, Type: event.TypeString, TypeName: "string", Optional: true}
		if intField(f) {
			c.Type, c.TypeName = event.TypeInt64, "int64"
		}
		o.Columns = append(o.Columns, c)
	}
	if len(u.schemas) >= maxSchemas {
		clear(u.schemas)
	}
	u.schemas[s] = &o
	return &o
}

// intField tells the add_fields whose values are numbers in Debezium's
// envelopes (the others are strings, or null).
func intField(f field) bool {
	switch f.name {
	case "ts_ms", "ts_us", "ts_ns", "lsn", "txId", "xmin", "ord", "txnNumber", "wallTime",
		"pos", "row", "server_id", "thread", "total_order", "data_collection_order":
		return true
	}
	return false
}

// extra returns the values of the added columns for e.
func (u *Unwrap) extra(e *event.Event, deleted string) ([]event.Value, error) {
	var vals []event.Value
	if u.rewrite() {
		switch {
		case e.Schema.Connector == "mongodb":
			vals = append(vals, event.Bool(deleted == "true"))
		default:
			vals = append(vals, event.String(deleted))
		}
	}
	if len(u.fields) == 0 {
		return vals, nil
	}
	var src map[string]json.RawMessage
	for _, f := range u.fields {
		switch {
		case f.parent == "" && f.name == "op":
			vals = append(vals, event.String(e.Op.String()))
		case f.parent == "" && f.name == "ts_ms":
			vals = append(vals, event.Int(e.TsMs))
		case f.parent == "" && f.name == "ts_us":
			vals = append(vals, event.Int(e.TsMs*1000))
		case f.parent == "" && f.name == "ts_ns":
			vals = append(vals, event.Int(e.TsMs*1000_000))
		case f.parent == "source":
			if src == nil {
				var err error
				if src, err = u.source(e); err != nil {
					return nil, err
				}
			}
			v, err := jsonValue(src[f.name], intField(f))
			if err != nil {
				return nil, fmt.Errorf("unwrap: %s: add_fields %s: %w", e, f.name, err)
			}
			vals = append(vals, v)
		default: // the transaction block, which sluice does not write
			vals = append(vals, event.Value{})
		}
	}
	return vals, nil
}

// source returns the source fields add_fields names, as the row format's
// add_fields renders them (format: Debezium's ExtractNewRecordState and
// ExtractNewDocumentState views of the source block, which for MongoDB
// differ from its envelope's), by their names.
func (u *Unwrap) source(e *event.Event) (map[string]json.RawMessage, error) {
	// Render as an update of the row (a delete's source block is the
	// same) so that no delete handling hides it.
	c := *e
	if c.Op == event.OpDelete || c.Op == event.OpTruncate {
		c.Op = event.OpUpdate
		if c.After == nil {
			c.After = c.Before
		}
	}
	var err error
	var ok bool
	u.buf, ok, err = u.enc.AppendValue(u.buf[:0], &c)
	if err != nil {
		return nil, fmt.Errorf("unwrap: %s: %w", e, err)
	}
	out := map[string]json.RawMessage{}
	if !ok {
		return out, nil
	}
	var row map[string]json.RawMessage
	if err := json.Unmarshal(u.buf, &row); err != nil {
		return nil, fmt.Errorf("unwrap: %s: %w", e, err)
	}
	for _, f := range u.fields {
		if f.parent == "source" {
			if v, ok := row[sourceAlias(f.name)]; ok {
				out[f.name] = v
			}
		}
	}
	return out, nil
}

// sourceAlias names a source field in the rendered row.
func sourceAlias(name string) string { return "__sluice_source_" + name }

// jsonValue turns a JSON scalar into a value (absent or null: NULL).
func jsonValue(raw json.RawMessage, isInt bool) (event.Value, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return event.Value{}, nil
	}
	if isInt {
		var n int64
		if err := json.Unmarshal(raw, &n); err != nil {
			return event.Value{}, err
		}
		return event.Int(n), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return event.String(s), nil
	}
	// A number or boolean in a string column: its JSON text.
	return event.String(string(raw)), nil
}

// Close implements component.Processor.
func (u *Unwrap) Close() error { return nil }
