package postgres

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/event"
)

// tableRef names a captured table.
type tableRef struct {
	oid    uint32
	schema string
	name   string
}

func (t tableRef) String() string { return t.schema + "." + t.name }

// quoted is the table's SQL name, each part quoted.
func (t tableRef) quoted() string { return pgx.Identifier{t.schema, t.name}.Sanitize() }

// resolveTables expands the configured patterns against the catalog. Every
// pattern must match at least one ordinary or partitioned table.
func resolveTables(ctx context.Context, conn *pgx.Conn, patterns []string) ([]tableRef, error) {
	rows, err := conn.Query(ctx, `SELECT c.oid, n.nspname, c.relname
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%'
		  AND n.nspname NOT LIKE 'pg\_temp%'
		ORDER BY n.nspname, c.relname`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	var all []tableRef
	for rows.Next() {
		var t tableRef
		if err := rows.Scan(&t.oid, &t.schema, &t.name); err != nil {
			return nil, fmt.Errorf("list tables: %w", err)
		}
		all = append(all, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	seen := map[uint32]bool{}
	var out []tableRef
	for _, p := range patterns {
		ps, pt, _ := strings.Cut(p, ".")
		matched := false
		for _, t := range all {
			ms, _ := path.Match(ps, t.schema)
			mt, _ := path.Match(pt, t.name)
			if ms && mt {
				matched = true
				if !seen[t.oid] {
					seen[t.oid] = true
					out = append(out, t)
				}
			}
		}
		if !matched {
			return nil, fmt.Errorf("tables: pattern %q matches no table in the database", p)
		}
	}
	return out, nil
}

// typeInfo is a resolved PostgreSQL type.
type typeInfo struct {
	oid     uint32
	name    string // pg_type.typname of the base type
	evType  event.Type
	ct      *colType
	enum    []string
	elem    *typeInfo // arrays
	typmod  int32     // domains: the base type's typmod
	unknown bool
}

// builtinTypes maps built-in type OIDs to logical types and decoders.
var builtinTypes = map[uint32]struct {
	t   event.Type
	dec decoder
}{
	16: {event.TypeBool, decBool}, 17: {event.TypeBytes, decBytea}, 18: {event.TypeString, decString},
	19: {event.TypeString, decString}, 20: {event.TypeInt64, decInt}, 21: {event.TypeInt16, decInt},
	23: {event.TypeInt32, decInt}, 25: {event.TypeString, decString}, 26: {event.TypeInt64, decInt},
	114: {event.TypeJSON, decString}, 142: {event.TypeXML, decString}, 650: {event.TypeInet, decString},
	700: {event.TypeFloat32, decFloat32}, 701: {event.TypeFloat64, decFloat64},
	774: {event.TypeInet, decString}, 790: {event.TypeMoney, decMoney}, 829: {event.TypeInet, decString},
	869: {event.TypeInet, decString}, 1042: {event.TypeString, decString}, 1043: {event.TypeString, decString},
	1082: {event.TypeDate, decDate}, 1083: {event.TypeTime, decTime}, 1114: {event.TypeTimestamp, decTimestamp},
	1184: {event.TypeTimestampTZ, decTimestampTZ}, 1186: {event.TypeInterval, decInterval},
	1266: {event.TypeTimeTZ, decTimeTZ}, 1700: {event.TypeDecimal, decNumeric}, 2950: {event.TypeUUID, decString},
	3802: {event.TypeJSON, decString},
}

// catalog looks up columns and types, caching types by OID. It is used by
// one goroutine at a time (its owner holds the connection).
type catalog struct {
	conn  *pgx.Conn
	types map[uint32]*typeInfo
}

func newCatalog(conn *pgx.Conn) *catalog {
	return &catalog{conn: conn, types: map[uint32]*typeInfo{}}
}

// typeByOID resolves a type: domains to their base type, arrays to their
// element type, enums to their labels.
func (c *catalog) typeByOID(ctx context.Context, oid uint32) (*typeInfo, error) {
	return c.resolve(ctx, oid, 0)
}

func (c *catalog) resolve(ctx context.Context, oid uint32, depth int) (*typeInfo, error) {
	if ti, ok := c.types[oid]; ok {
		return ti, nil
	}
	if depth > 10 {
		return nil, fmt.Errorf("type %d: domains or arrays nested too deeply", oid)
	}
	var (
		name, typtype, category, delim string
		base, elem                     uint32
		typmod                         int32
		labels                         []string
	)
	err := c.conn.QueryRow(ctx, `SELECT t.typname, t.typtype::text, t.typbasetype, t.typtypmod, t.typelem,
			t.typcategory::text, t.typdelim::text,
			COALESCE((SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '{}')
		FROM pg_type t WHERE t.oid = $1`, oid).Scan(&name, &typtype, &base, &typmod, &elem, &category, &delim, &labels)
	if err != nil {
		return nil, fmt.Errorf("look up type %d: %w", oid, err)
	}
	var ti *typeInfo
	switch {
	case typtype == "d":
		b, err := c.resolve(ctx, base, depth+1)
		if err != nil {
			return nil, err
		}
		cp := *b
		cp.oid = oid
		if typmod >= 0 {
			cp.typmod = typmod
		}
		ti = &cp
	case typtype == "e":
		ti = &typeInfo{oid: oid, name: name, evType: event.TypeEnum, ct: &colType{dec: decString}, enum: labels}
	case category == "A" && elem != 0:
		e, err := c.resolve(ctx, elem, depth+1)
		if err != nil {
			return nil, err
		}
		d := byte(',')
		if len(delim) == 1 {
			d = delim[0]
		}
		ti = &typeInfo{oid: oid, name: name, evType: event.TypeArray, elem: e, typmod: -1,
			ct: &colType{dec: decArray, elem: e.ct, delim: d}}
	default:
		if b, ok := builtinTypes[oid]; ok {
			ti = &typeInfo{oid: oid, name: name, evType: b.t, ct: &colType{dec: b.dec}, typmod: -1}
		} else {
			ti = &typeInfo{oid: oid, name: name, evType: event.TypeUnknown, ct: &colType{dec: decString}, typmod: -1, unknown: true}
		}
	}
	if typtype != "d" {
		ti.typmod = -1
	}
	c.types[oid] = ti
	return ti, nil
}

// catalogColumn is a column as the catalog describes it.
type catalogColumn struct {
	name      string
	typeOID   uint32
	typmod    int32
	notNull   bool
	defExpr   string
	hasDef    bool
	generated bool
}

// tableInfo is what the source knows about a captured table.
type tableInfo struct {
	ref       tableRef
	cols      []catalogColumn // in attnum order, generated columns excluded
	key       []string        // primary key (or replica identity index) column names, in key order
	replIdent byte            // d(efault), f(ull), i(ndex), n(othing)
}

// loadTable reads a table's columns, key and replica identity.
func (c *catalog) loadTable(ctx context.Context, ref tableRef) (*tableInfo, error) {
	ti := &tableInfo{ref: ref}
	var ident string
	if err := c.conn.QueryRow(ctx, `SELECT relreplident::text FROM pg_class WHERE oid = $1`, ref.oid).Scan(&ident); err != nil {
		return nil, fmt.Errorf("table %s: look up replica identity: %w", ref, err)
	}
	if ident != "" {
		ti.replIdent = ident[0]
	}
	rows, err := c.conn.Query(ctx, `SELECT a.attname, a.atttypid, a.atttypmod, a.attnotnull,
			COALESCE(pg_get_expr(d.adbin, d.adrelid), ''), d.adbin IS NOT NULL, a.attgenerated <> ''
		FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, ref.oid)
	if err != nil {
		return nil, fmt.Errorf("table %s: look up columns: %w", ref, err)
	}
	for rows.Next() {
		var col catalogColumn
		if err := rows.Scan(&col.name, &col.typeOID, &col.typmod, &col.notNull, &col.defExpr, &col.hasDef, &col.generated); err != nil {
			rows.Close()
			return nil, fmt.Errorf("table %s: look up columns: %w", ref, err)
		}
		if col.generated {
			// pgoutput does not send generated columns; neither does the
			// snapshot, so both paths share one schema.
			continue
		}
		ti.cols = append(ti.cols, col)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("table %s: look up columns: %w", ref, err)
	}
	if len(ti.cols) == 0 {
		return nil, fmt.Errorf("table %s has no columns", ref)
	}
	var keys []string
	err = c.conn.QueryRow(ctx, `SELECT COALESCE(array_agg(a.attname::text ORDER BY k.ord), '{}')
		FROM (SELECT i.indkey FROM pg_index i WHERE i.indrelid = $1 AND (i.indisprimary OR i.indisreplident)
		      ORDER BY i.indisprimary DESC LIMIT 1) x,
		     unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
		JOIN pg_attribute a ON a.attrelid = $1 AND a.attnum = k.attnum`, ref.oid).Scan(&keys)
	if err != nil {
		return nil, fmt.Errorf("table %s: look up primary key: %w", ref, err)
	}
	ti.key = keys
	return ti, nil
}

// column builds an event.Column from a type and typmod.
func (c *catalog) column(ctx context.Context, name string, oid uint32, typmod int32) (event.Column, *colType, error) {
	ti, err := c.typeByOID(ctx, oid)
	if err != nil {
		return event.Column{}, nil, fmt.Errorf("column %s: %w", name, err)
	}
	if typmod < 0 {
		typmod = ti.typmod
	}
	col := event.Column{Name: name, Type: ti.evType, TypeName: ti.name, TypeOID: oid, Optional: true, EnumValues: ti.enum}
	applyTypmod(&col, ti, typmod)
	if ti.elem != nil {
		e := event.Column{Type: ti.elem.evType, TypeName: ti.elem.name, TypeOID: ti.elem.oid, Optional: true, EnumValues: ti.elem.enum}
		applyTypmod(&e, ti.elem, typmod)
		col.Elem = &e
	}
	return col, ti.ct, nil
}

// applyTypmod sets length, precision and scale from a type modifier.
func applyTypmod(col *event.Column, ti *typeInfo, typmod int32) {
	switch {
	case ti.evType == event.TypeDecimal:
		if typmod >= 4 {
			col.Precision = int((typmod - 4) >> 16 & 0xffff)
			s := int((typmod - 4) & 0x7ff)
			if s&0x400 != 0 { // PostgreSQL 15 allows negative scales
				s -= 0x800
			}
			col.Scale = s
		} else {
			col.Scale = -1
		}
	case ti.evType == event.TypeMoney:
		col.Scale = 2
	case ti.evType == event.TypeTime || ti.evType == event.TypeTimeTZ ||
		ti.evType == event.TypeTimestamp || ti.evType == event.TypeTimestampTZ:
		// Declared fractional-second digits pick Debezium's adaptive
		// encoding (≤ 3: milliseconds). Undeclared stays 0, which encoders
		// read as PostgreSQL's default of 6; an explicit (0) is read the
		// same way, a known difference from Debezium's millisecond type.
		if typmod >= 1 && typmod <= 6 {
			col.Precision = int(typmod)
		}
	case ti.name == "varchar" || ti.name == "bpchar":
		if typmod >= 4 {
			col.Length = int(typmod - 4)
		}
	case ti.name == "bit" || ti.name == "varbit":
		if typmod > 0 {
			col.Length = int(typmod)
		}
	}
}

// buildSchema builds a table's schema from catalog columns (snapshot) or a
// Relation message's columns (stream; rel != nil), with the catalog filling
// in nullability and defaults by column name.
func (c *catalog) buildSchema(ctx context.Context, base event.Schema, ti *tableInfo, rel *relationMsg) (*event.Schema, []*colType, error) {
	sch := base
	byName := map[string]*catalogColumn{}
	if ti != nil {
		for i := range ti.cols {
			byName[ti.cols[i].name] = &ti.cols[i]
		}
	}
	var cols []relationCol
	if rel != nil {
		cols = rel.cols
	} else {
		for _, cc := range ti.cols {
			cols = append(cols, relationCol{name: cc.name, typeOID: cc.typeOID, typmod: cc.typmod})
		}
	}
	types := make([]*colType, len(cols))
	sch.Columns = make([]event.Column, len(cols))
	for i, rc := range cols {
		col, ct, err := c.column(ctx, rc.name, rc.typeOID, rc.typmod)
		if err != nil {
			return nil, nil, fmt.Errorf("table %s.%s: %w", sch.Namespace, sch.Table, err)
		}
		if cc := byName[rc.name]; cc != nil && cc.typeOID == rc.typeOID {
			col.Optional = !cc.notNull
			if cc.hasDef {
				if v, ok := parseDefault(ct, cc.defExpr); ok {
					col.Default, col.HasDefault = v, true
				}
			}
		}
		sch.Columns[i] = col
		types[i] = ct
	}
	// The key: the catalog's primary key (or replica identity index). A
	// Relation message flags every column of a REPLICA IDENTITY FULL table,
	// which is not the row's key.
	var key []string
	if ti != nil {
		key = ti.key
	}
	if len(key) == 0 && rel != nil && rel.replIdent == 'i' {
		for _, rc := range rel.cols {
			if rc.key {
				key = append(key, rc.name)
			}
		}
	}
	sch.KeyIdx = nil
	for _, k := range key {
		if i := sch.ColumnIndex(k); i >= 0 {
			sch.Columns[i].Key = true
			sch.KeyIdx = append(sch.KeyIdx, i)
		}
	}
	if len(sch.KeyIdx) != len(key) {
		sch.KeyIdx = nil // a key column is missing from this version: no usable key
		for i := range sch.Columns {
			sch.Columns[i].Key = false
		}
	}
	return &sch, types, nil
}

// parseDefault turns a constant default expression into a Value: a bare
// number or boolean, or a quoted literal with a cast ('abc'::text). Anything
// else (now(), expressions) is not a constant: ok is false. A sequence
// default (serial, nextval()) on an integer column is reported as 0,
// because that is what Debezium's schema says for it ("default": 0 in seed
// 001 and in Debezium 2.7 output), and consumers may rely on it.
func parseDefault(ct *colType, expr string) (event.Value, bool) {
	expr = strings.TrimSpace(expr)
	if expr == "" {
		return event.Null, false
	}
	if strings.HasPrefix(expr, "nextval(") {
		if v, err := decodeText(ct, "0"); err == nil && v.Kind == event.KindInt {
			return v, true
		}
		return event.Null, false
	}
	lit := expr
	if expr[0] == '\'' {
		var b strings.Builder
		i := 1
		for ; i < len(expr); i++ {
			if expr[i] == '\'' {
				if i+1 < len(expr) && expr[i+1] == '\'' {
					b.WriteByte('\'')
					i++
					continue
				}
				break
			}
			b.WriteByte(expr[i])
		}
		if i >= len(expr) {
			return event.Null, false
		}
		rest := expr[i+1:]
		if rest != "" && (!strings.HasPrefix(rest, "::") || strings.ContainsAny(rest, "()+-*/|'")) {
			return event.Null, false
		}
		lit = b.String()
	} else {
		if strings.HasPrefix(lit, "(") && strings.HasSuffix(lit, ")") {
			lit = lit[1 : len(lit)-1]
		}
		if strings.ContainsAny(lit, "(): '") {
			return event.Null, false
		}
	}
	v, err := decodeText(ct, lit)
	if err != nil {
		return event.Null, false
	}
	return v, true
}

// sameShape reports whether two schemas have the same columns and key, so a
// repeated Relation message does not bump the version.
func sameShape(a, b *event.Schema) bool {
	if len(a.Columns) != len(b.Columns) || len(a.KeyIdx) != len(b.KeyIdx) {
		return false
	}
	for i := range a.KeyIdx {
		if a.KeyIdx[i] != b.KeyIdx[i] {
			return false
		}
	}
	for i := range a.Columns {
		x, y := &a.Columns[i], &b.Columns[i]
		if x.Name != y.Name || x.Type != y.Type || x.TypeOID != y.TypeOID || x.TypeName != y.TypeName ||
			x.Optional != y.Optional || x.Length != y.Length || x.Precision != y.Precision || x.Scale != y.Scale ||
			x.HasDefault != y.HasDefault || !x.Default.Equal(y.Default) || len(x.EnumValues) != len(y.EnumValues) {
			return false
		}
		if (x.Elem == nil) != (y.Elem == nil) || (x.Elem != nil && x.Elem.TypeOID != y.Elem.TypeOID) {
			return false
		}
	}
	return true
}

// sortedNames returns the refs' names, sorted, for messages.
func sortedNames(refs []tableRef) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.String()
	}
	sort.Strings(out)
	return out
}
