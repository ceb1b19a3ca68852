package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sluice-dev/sluice/topology"
)

// signalKeys are the yaml keys a source's configuration may name its
// Debezium signal table with (signal.data.collection in Debezium).
var signalKeys = []string{"signal_data_collection", "signal_table"}

// SignalTable returns the signal table (schema.table) a source's
// configuration names, or "" when it names none.
func SignalTable(cfg any) string {
	v, _, ok := signalField(cfg)
	if !ok {
		return ""
	}
	return v.String()
}

// SignalKey returns the yaml key under which a source's configuration
// names its signal table; ok is false when the source reads no signals.
func SignalKey(cfg any) (key string, ok bool) {
	_, key, ok = signalField(cfg)
	return key, ok
}

func signalField(cfg any) (reflect.Value, string, bool) {
	v := reflect.ValueOf(cfg)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return reflect.Value{}, "", false
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return reflect.Value{}, "", false
	}
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		for _, k := range signalKeys {
			if tag == k && f.Type.Kind() == reflect.String {
				return v.Field(i), k, true
			}
		}
	}
	return reflect.Value{}, "", false
}

// signaller inserts execute-snapshot signals.
type signaller struct {
	table string // schema.table (db.table for MySQL)
	seq   int
}

func newSignaller(src *topology.Node, override string) (*signaller, error) {
	t := override
	if t == "" {
		t = SignalTable(src.Config)
	}
	if t == "" {
		if key, ok := SignalKey(src.Config); ok {
			return nil, usagef("--repair: source %s names no signal table: set its %s (schema.table of a table with columns id, type, data, as Debezium's signal.data.collection), or pass --signal-table", src.Name, key)
		}
		return nil, usagef("--repair: source %s (type %s) reads no signal table, so nothing would run the snapshot; --signal-table schema.table inserts the signals anyway", src.Name, src.Type)
	}
	if _, _, ok := cutTable(t); !ok {
		return nil, usagef("--repair: signal table %q is not schema.table", t)
	}
	return &signaller{table: t}, nil
}

// maxSignalData is the size of the signal table's data column in
// Debezium's documented DDL (varchar(2048)): each signal stays within it.
const maxSignalData = 2048

// signalData is an execute-snapshot signal's data, members in Debezium's
// documented order.
type signalData struct {
	DataCollections      []string        `json:"data-collections"`
	Type                 string          `json:"type"`
	AdditionalConditions []signalFilters `json:"additional-conditions"`
}

type signalFilters struct {
	DataCollection string `json:"data-collection"`
	Filter         string `json:"filter"`
}

// Signal is one row for the signal table.
type Signal struct {
	ID   string
	Type string
	Data string
}

// Signals builds the execute-snapshot signals that re-snapshot exactly
// keys (their text forms, in keyCols order) of table (schema.table): a
// filter per signal, `"id" IN ('1', '2')` for a one-column key and
// `("a" = '1' AND "b" = 'x') OR ...` otherwise, cut so that each signal's
// data fits maxSignalData bytes. Ids are idPrefix-1, idPrefix-2, ...
// ident quotes an identifier and lit writes key column i's text as a
// literal, in the source's SQL dialect (nil: PostgreSQL's).
func Signals(table string, keyCols []string, keys [][]string, idPrefix string, ident func(string) string, lit func(i int, v string) string) ([]Signal, error) {
	if ident == nil {
		ident = func(s string) string { return pgx.Identifier{s}.Sanitize() }
	}
	if lit == nil {
		lit = func(_ int, v string) string { return quoteLit(v) }
	}
	var out []Signal
	data := func(filter string) (string, error) {
		b, err := marshalNoEscape(signalData{DataCollections: []string{table}, Type: "incremental",
			AdditionalConditions: []signalFilters{{DataCollection: table, Filter: filter}}})
		return string(b), err
	}
	cols := keyCols
	single := len(cols) == 1
	term := func(k []string) string {
		if single {
			return lit(0, k[0])
		}
		parts := make([]string, len(k))
		for i := range k {
			parts[i] = ident(cols[i]) + " = " + lit(i, k[i])
		}
		return "(" + strings.Join(parts, " AND ") + ")"
	}
	build := func(terms []string) string {
		if single {
			return ident(cols[0]) + " IN (" + strings.Join(terms, ", ") + ")"
		}
		return strings.Join(terms, " OR ")
	}
	var terms []string
	flush := func() error {
		if len(terms) == 0 {
			return nil
		}
		d, err := data(build(terms))
		if err != nil {
			return err
		}
		out = append(out, Signal{ID: fmt.Sprintf("%s-%d", idPrefix, len(out)+1), Type: "execute-snapshot", Data: d})
		terms = terms[:0]
		return nil
	}
	for _, k := range keys {
		t := term(k)
		if len(terms) > 0 {
			d, err := data(build(append(terms[:len(terms):len(terms)], t)))
			if err != nil {
				return nil, err
			}
			if len(d) > maxSignalData {
				if err := flush(); err != nil {
					return nil, err
				}
			}
		}
		terms = append(terms, t)
		if d, _ := data(build(terms)); len(d) > maxSignalData && len(terms) == 1 {
			return nil, fmt.Errorf("the key %s alone makes a signal over %d bytes", keyID(k), maxSignalData)
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

func quoteLit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// repair inserts the table's signals and says how to remove extra keys.
func (s *signaller) repair(ctx context.Context, src source, tr *TableReport, tt tableTarget) error {
	tr.Repair = &Repair{Keys: len(tr.repairKeys)}
	if len(tr.repairKeys) > 0 {
		s.seq++
		prefix := fmt.Sprintf("sluice-verify-%x-%d", time.Now().UnixNano(), s.seq)
		sigs, err := Signals(tr.Table, tr.st.keyColumns(), tr.repairKeys, prefix, src.quoteIdent, tr.st.keyLiteral)
		if err != nil {
			return err
		}
		for _, sg := range sigs {
			if err := src.insertSignal(ctx, s.table, sg); err != nil {
				return fmt.Errorf("insert into signal table %s: %w", s.table, err)
			}
			tr.Repair.Signals = append(tr.Repair.Signals, sg.ID)
		}
		if tr.repairCut {
			tr.Repair.Remove = append(tr.Repair.Remove, fmt.Sprintf("only the first %d differing keys were signalled: run verify --repair again after the snapshot", maxRepairKeys))
		}
	}
	if tr.Extra > 0 {
		if rm, ok := tt.(remover); ok {
			tr.Repair.Remove = append(tr.Repair.Remove, rm.removal(tr.extraIDs)...)
		}
	}
	return nil
}

// remover says how to remove extra keys from a sink: an incremental
// snapshot reads rows that exist, so it cannot delete what the source no
// longer has.
type remover interface {
	removal(ids []string) []string
}

func (p *pgTable) removal(ids []string) []string {
	if p.sk == nil {
		return nil
	}
	terms := make([]string, 0, len(ids))
	for _, id := range ids {
		k := splitKeyID(id, len(p.sk.Schema.KeyIdx))
		if k == nil {
			continue
		}
		terms = append(terms, "("+p.sk.KeyPredicate(k)+")")
	}
	return []string{fmt.Sprintf("%d extra rows cannot be removed by a snapshot (their keys are not in the source); remove them with: DELETE FROM %s WHERE %s;",
		len(ids), p.sk.Quoted(), strings.Join(terms, " OR "))}
}

func (s *searchTable) removal(ids []string) []string {
	out := []string{fmt.Sprintf("%d extra documents cannot be removed by a snapshot (their keys are not in the source); remove them with:", len(ids))}
	for _, id := range ids {
		out = append(out, fmt.Sprintf("  DELETE %s/%s/_doc/%s", hostNoUser(s.t.host), s.index, urlPathEscape(id)))
	}
	return out
}

func (f *fileTable) removal(ids []string) []string {
	return []string{fmt.Sprintf("%d extra keys (%s) cannot be removed from an append-only file by a snapshot: consumers that read the file to its end keep them; write the file anew (a new path, snapshot: initial) to drop them",
		len(ids), strings.Join(ids, ", "))}
}

func marshalNoEscape(v any) ([]byte, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // a filter's < and > stay readable
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return []byte(strings.TrimSuffix(b.String(), "\n")), nil
}

func urlPathEscape(s string) string { return url.PathEscape(s) }

// hostNoUser is a host URL without credentials, for messages.
func hostNoUser(h string) string {
	u, err := url.Parse(h)
	if err != nil {
		return "(the sink's host)"
	}
	u.User = nil
	return u.String()
}
