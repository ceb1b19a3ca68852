package format

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/event"
)

// Delete handling modes of the row format.
const (
	DeleteDrop      = "drop"
	DeleteRewrite   = "rewrite"
	DeleteTombstone = "tombstone"
)

// addField is one resolved add_fields entry.
type addField struct {
	key    []byte // `"__name":`
	parent string // "" (envelope), "source" or "transaction"
	field  string
}

// rowEncoder is ExtractNewRecordState followed by JsonConverter without
// schemas: the after image as a flat object, add_fields appended as "__"
// fields, deletes dropped, rewritten or turned into tombstones.
type rowEncoder struct {
	codecs
	deletes     string
	fields      []addField
	replaceNull bool
	skip        opSet
}

var _ Encoder = (*rowEncoder)(nil)

// addFieldNames are the unqualified names add_fields accepts: the
// envelope's op and timestamps, the transaction block's fields, and the
// source fields of the PostgreSQL source block (other connectors' fields
// are accepted as "source.<field>").
var addFieldNames = []string{
	"op", "ts_ms", "ts_us", "ts_ns",
	"version", "connector", "name", "snapshot", "db", "sequence", "schema", "table", "txId", "lsn", "xmin",
	"collection", "ord", "lsid", "txnNumber", "wallTime",
	"id", "total_order", "data_collection_order",
}

func newRow(o UnwrapOptions) (Encoder, error) {
	r := &rowEncoder{replaceNull: true}
	switch o.DeleteHandling {
	case "", DeleteDrop:
		r.deletes = DeleteDrop
	case DeleteRewrite:
		r.deletes = DeleteRewrite
	case DeleteTombstone, "none":
		r.deletes = DeleteTombstone
	default:
		return nil, fmt.Errorf("unwrap.delete_handling: unknown mode %q (use drop, rewrite or tombstone)", o.DeleteHandling)
	}
	seen := map[string]bool{}
	for _, spec := range o.AddFields {
		f, err := parseAddField(strings.TrimSpace(spec))
		if err != nil {
			return nil, err
		}
		name := string(f.key)
		if seen[name] {
			return nil, fmt.Errorf("unwrap.add_fields: %q adds %s twice", spec, name[:len(name)-1])
		}
		seen[name] = true
		r.fields = append(r.fields, f)
	}
	return r, nil
}

// parseAddField resolves an add_fields entry the way ExtractNewRecordState
// does: "op", "ts_ms" (and ts_us, ts_ns) come from the envelope, "id",
// "total_order", "data_collection_order" from the transaction block, any
// other name from source; "struct.field" names the struct explicitly; the
// new field is "__" + field, or "__parentfield" when qualified, or the name
// after a ':' ("source.ts_ms:commit_ms" → "__commit_ms").
func parseAddField(spec string) (addField, error) {
	var f addField
	name, rename, hasRename := strings.Cut(spec, ":")
	if hasRename && (rename == "" || strings.Contains(rename, ":")) {
		return f, fmt.Errorf("unwrap.add_fields: %q: bad new field name", spec)
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
	known := false
	switch st {
	case "":
		known = fld == "op" || fld == "ts_ms" || fld == "ts_us" || fld == "ts_ns"
	case "transaction":
		known = fld == "id" || fld == "total_order" || fld == "data_collection_order"
	case "source":
		known = fld != "" && !strings.ContainsAny(fld, ".:")
		if !qualified {
			known = false
			for _, n := range addFieldNames {
				if n == fld {
					known = true
				}
			}
		}
	}
	if !known {
		return f, fmt.Errorf("unwrap.add_fields: unknown field %q (use %s, or source.<field>)", spec, strings.Join(addFieldNames, ", "))
	}
	out := "__" + fld
	if qualified {
		out = "__" + st + "_" + fld
	}
	if hasRename {
		out = "__" + rename
	}
	f.parent, f.field = st, fld
	f.key = appendString(nil, out)
	f.key = append(f.key, ':')
	return f, nil
}

func (r *rowEncoder) setReplaceNullWithDefault(b bool) { r.replaceNull = b }

func (r *rowEncoder) setSkipped(s opSet) { r.skip = s }

// AppendValue implements Encoder. Truncate events produce no output, as
// ExtractNewRecordState drops records with neither image.
func (r *rowEncoder) AppendValue(dst []byte, e *event.Event) ([]byte, bool, error) {
	t, err := r.get(e.Schema)
	if err != nil {
		return dst, false, err
	}
	if r.skip.has(e.Op) {
		return dst, false, nil
	}
	if t.mongo != nil {
		return r.appendMongoRow(dst, t, e)
	}
	img, deleted := e.After, ""
	switch e.Op {
	case event.OpTruncate:
		return dst, false, nil
	case event.OpDelete:
		switch r.deletes {
		case DeleteDrop:
			return dst, false, nil
		case DeleteTombstone:
			return append(dst, "null"...), true, nil
		}
		img, deleted = e.Before, "true"
		if img == nil {
			return dst, false, fmt.Errorf("format: %s: delete_handling rewrite needs the before image, and the event has none", e)
		}
	case event.OpRead, event.OpCreate, event.OpUpdate:
		if img == nil {
			return dst, false, fmt.Errorf("format: %s: event has no after image", e)
		}
		if r.deletes == DeleteRewrite {
			deleted = "false"
		}
	default:
		return dst, false, fmt.Errorf("format: %s: unknown operation %q", e.Schema.Stream, byte(e.Op))
	}
	start := len(dst)
	dst = append(dst, '{')
	cols, _ := t.colsFor(e)
	if dst, err = t.appendMembers(dst, cols, img, r.replaceNull); err != nil {
		return dst[:start], false, fmt.Errorf("format: %s: %w", e, err)
	}
	comma := len(t.cols) > 0
	// Debezium 2.x's ExtractNewRecordState adds __deleted before the
	// add.fields (1.x added it after them).
	if deleted != "" {
		if comma {
			dst = append(dst, ',')
		}
		dst = append(dst, `"__deleted":"`...)
		dst = append(dst, deleted...)
		dst = append(dst, '"')
		comma = true
	}
	for i := range r.fields {
		f := &r.fields[i]
		mark := len(dst)
		if comma {
			dst = append(dst, ',')
		}
		dst = append(dst, f.key...)
		var ok bool
		if dst, ok = r.appendAddField(dst, t, f, e); !ok {
			dst = dst[:mark] // the connector has no such field: nothing added
			continue
		}
		comma = true
	}
	return append(dst, '}'), true, nil
}

func (r *rowEncoder) appendAddField(dst []byte, t *tableCodec, f *addField, e *event.Event) ([]byte, bool) {
	switch f.parent {
	case "":
		switch f.field {
		case "op":
			return append(dst, '"', byte(e.Op), '"'), true
		case "ts_ms":
			return strconv.AppendInt(dst, e.TsMs, 10), true
		case "ts_us":
			return strconv.AppendInt(dst, e.TsMs*1000, 10), true
		case "ts_ns":
			return strconv.AppendInt(dst, e.TsMs*1000_000, 10), true
		}
	case "transaction":
		// sluice writes no transaction block (null), so its fields are null.
		return append(dst, "null"...), true
	case "source":
		return t.src.appendField(dst, f.field, e)
	}
	return dst, false
}

// AppendKey implements Encoder: ExtractNewRecordState leaves the key alone,
// so it is Debezium's key without schema.
func (r *rowEncoder) AppendKey(dst []byte, e *event.Event) []byte {
	t, err := r.get(e.Schema)
	if err != nil || e.Op == event.OpTruncate {
		return append(dst, "null"...)
	}
	if t.mongo != nil {
		return r.appendMongoRowKey(dst, t, e)
	}
	return t.appendKeyPayload(dst, e, r.replaceNull)
}
