package format

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/event"
)

// Decoder turns Debezium JSON change events (JsonConverter output with or
// without schemas) into sluice events. It caches one *event.Schema per
// distinct table shape, so events of one table share their schema. A
// Decoder is used by one goroutine.
type Decoder struct {
	// StreamFromTopic names every event's stream after the topic it was
	// read from instead of its envelope (prefix.schema.table): a Kafka
	// Connect sink connector knows records by topic only (its table,
	// index and object names are ${topic}), and a topic is not always
	// named as its envelope (a JDBC source's topic.prefix, RegexRouter).
	StreamFromTopic bool

	schemas  map[string]*event.Schema
	parsed   map[string]*envSchema
	versions map[string]int
	mongo    mongoState
}

// NewDecoder returns an empty Decoder.
func NewDecoder() *Decoder {
	return &Decoder{schemas: map[string]*event.Schema{}, parsed: map[string]*envSchema{}, versions: map[string]int{}}
}

// maxCached bounds each cache; past it the cache starts over.
const maxCached = 4096

// maxScale bounds decimal scales so that a hostile message cannot make the
// decoder allocate more than its own size many times over.
const maxScale = 1000

// ErrTombstone is returned by Decoder.Decode for a null value (a Kafka
// tombstone after a delete): there is no event to decode.
var ErrTombstone = errors.New("tombstone")

// cschema is a Kafka Connect schema as JsonConverter writes it.
type cschema struct {
	Type       string            `json:"type"`
	Optional   bool              `json:"optional"`
	Name       string            `json:"name"`
	Parameters map[string]string `json:"parameters"`
	Default    json.RawMessage   `json:"default"`
	Field      string            `json:"field"`
	Fields     []cschema         `json:"fields"`
	Items      *cschema          `json:"items"`
}

// envSchema is what the decoder keeps of a parsed envelope schema.
type envSchema struct {
	stream string // from the envelope's (or row struct's) name
	cols   []event.Column
	tz     []int // indexes of ZonedTimestamp columns
	// widths are the fraction widths last seen in values of the tz
	// columns, for messages where they are null (the width is the
	// column's precision: a NULL says nothing about it).
	widths []int
	// shapes are the schemas built from this envelope schema, by key
	// columns, timestamp widths and source identity.
	shapes map[string]*event.Schema
}

type jsonMember struct {
	name string
	raw  json.RawMessage
}

func isNull(raw []byte) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

type payload struct {
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
	Source json.RawMessage `json:"source"`
	Op     string          `json:"op"`
	TsMs   *json.Number    `json:"ts_ms"`
}

type sourceInfo struct {
	Connector string          `json:"connector"`
	Name      string          `json:"name"`
	TsMs      *json.Number    `json:"ts_ms"`
	TsUs      *json.Number    `json:"ts_us"`
	Snapshot  json.RawMessage `json:"snapshot"`
	DB        string          `json:"db"`
	Sequence  *string         `json:"sequence"`
	Schema    *string         `json:"schema"`
	Table     *string         `json:"table"`
	TxID      *json.Number    `json:"txId"`
	LSN       *json.Number    `json:"lsn"`
	Xmin      *json.Number    `json:"xmin"`
}

// Decode decodes one record. topic names the stream when the message has
// no source block. A null value returns ErrTombstone.
func (d *Decoder) Decode(topic string, key, value []byte) (event.Event, error) {
	var e event.Event
	if isNull(value) {
		return e, ErrTombstone
	}
	// The scanner checks structure; every value is then parsed strictly
	// (the schema by encoding/json when first seen), and JSON text kept as
	// a value is validated, so the whole message need not be validated
	// up front (that was a third of the decode).
	top, err := members(value)
	if err != nil {
		return e, fmt.Errorf("value is not a JSON object: %w", err)
	}
	var schemaRaw, body []byte
	if len(top) == 2 && top[0].name == "schema" && top[1].name == "payload" {
		if isNull(top[1].raw) {
			return e, ErrTombstone
		}
		schemaRaw, body = top[0].raw, top[1].raw
		if top, err = members(body); err != nil {
			return e, fmt.Errorf("payload: %w", err)
		}
	}
	withSchema := schemaRaw != nil
	var p payload
	for _, m := range top {
		switch m.name {
		case "before":
			p.Before = m.raw
		case "after":
			p.After = m.raw
		case "source":
			p.Source = m.raw
		case "op":
			if !isNull(m.raw) {
				if p.Op, err = jsonString(m.raw); err != nil {
					return e, fmt.Errorf("op: %w", err)
				}
			}
		case "ts_ms":
			if !isNull(m.raw) {
				n := json.Number(m.raw)
				p.TsMs = &n
			}
		}
	}
	switch event.Op(firstByte(p.Op)) {
	case event.OpRead, event.OpCreate, event.OpUpdate, event.OpDelete, event.OpTruncate:
		if len(p.Op) != 1 {
			return e, fmt.Errorf("unknown op %q", p.Op)
		}
		e.Op = event.Op(p.Op[0])
	default:
		if p.Op == "" {
			return e, errors.New(`no "op": not a Debezium change event (is the format row/unwrapped?)`)
		}
		return e, fmt.Errorf("unknown op %q", p.Op)
	}
	if p.TsMs != nil {
		n, err := p.TsMs.Int64()
		if err != nil {
			return e, fmt.Errorf("ts_ms: %w", err)
		}
		e.TsMs = n
	}
	var src sourceInfo
	if !isNull(p.Source) {
		if err := json.Unmarshal(p.Source, &src); err != nil {
			return e, fmt.Errorf("source: %w", err)
		}
	}
	if src.Connector == "mongodb" {
		return d.decodeMongo(e, topic, key, &p)
	}
	if e.Source, err = eventSource(&src); err != nil {
		return e, err
	}
	var before, after []jsonMember
	if !isNull(p.Before) {
		if before, err = members(p.Before); err != nil {
			return e, fmt.Errorf("before: %w", err)
		}
	}
	if !isNull(p.After) {
		if after, err = members(p.After); err != nil {
			return e, fmt.Errorf("after: %w", err)
		}
	}
	keyNames, err := keyColumns(key)
	if err != nil {
		return e, fmt.Errorf("key: %w", err)
	}
	if withSchema {
		e.Schema, err = d.schemaFromConnect(schemaRaw, &src, topic, keyNames, before, after)
	} else {
		e.Schema, err = d.schemaInferred(&src, topic, keyNames, before, after)
	}
	if err != nil {
		return e, err
	}
	if !isNull(p.Before) {
		if e.Before, err = decodeRow(e.Schema, before); err != nil {
			return e, fmt.Errorf("before: %w", err)
		}
	}
	if !isNull(p.After) {
		if e.After, err = decodeRow(e.Schema, after); err != nil {
			return e, fmt.Errorf("after: %w", err)
		}
	}
	return e, nil
}

func firstByte(s string) byte {
	if s == "" {
		return 0
	}
	return s[0]
}

func optInt(n *json.Number, field string) (int64, bool, error) {
	if n == nil {
		return 0, false, nil
	}
	v, err := n.Int64()
	if err != nil {
		return 0, false, fmt.Errorf("source.%s: %w", field, err)
	}
	return v, true, nil
}

func eventSource(s *sourceInfo) (event.Source, error) {
	var out event.Source
	var err error
	// ts_us (Debezium 2.x) keeps the source's microseconds; messages of
	// Debezium 1.x have ts_ms only.
	var us, ms int64
	var hasUs bool
	if us, hasUs, err = optInt(s.TsUs, "ts_us"); err != nil {
		return out, err
	}
	if ms, _, err = optInt(s.TsMs, "ts_ms"); err != nil {
		return out, err
	}
	out.TsUs = us
	if !hasUs {
		out.TsUs = event.UsFromMs(ms)
	}
	if out.TxID, out.HasTxID, err = optInt(s.TxID, "txId"); err != nil {
		return out, err
	}
	var lsn int64
	if lsn, out.HasLSN, err = optInt(s.LSN, "lsn"); err != nil {
		return out, err
	}
	out.LSN = uint64(lsn)
	if out.Xmin, out.HasXmin, err = optInt(s.Xmin, "xmin"); err != nil {
		return out, err
	}
	if !isNull(s.Snapshot) {
		var str string
		var b bool
		switch {
		case json.Unmarshal(s.Snapshot, &str) == nil:
		case json.Unmarshal(s.Snapshot, &b) == nil: // Debezium 1.x MySQL wrote a boolean
			str = strconv.FormatBool(b)
		default:
			return out, fmt.Errorf("source.snapshot: %.40s is neither a string nor a boolean", s.Snapshot)
		}
		switch str {
		case "true":
			out.Snapshot = event.SnapshotTrue
		case "first_in_data_collection":
			out.Snapshot = event.SnapshotFirstInTable
		case "last_in_data_collection":
			out.Snapshot = event.SnapshotLastInTable
		case "last":
			out.Snapshot = event.SnapshotLast
		case "first":
			out.Snapshot = event.SnapshotFirst
		case "incremental":
			out.Snapshot = event.SnapshotIncremental
		case "false", "":
		default:
			return out, fmt.Errorf("source.snapshot: unknown value %q", str)
		}
	}
	if s.Sequence != nil {
		// "[\"lastCommitLsn\",\"lsn\"]" (PostgreSQL); other connectors
		// write other shapes, which carry nothing sluice keeps.
		var seq []*string
		if json.Unmarshal([]byte(*s.Sequence), &seq) == nil && len(seq) == 2 && seq[0] != nil {
			if v, err := strconv.ParseInt(*seq[0], 10, 64); err == nil {
				out.LastCommitLSN = uint64(v)
			}
		}
	}
	return out, nil
}

// keyColumns returns the key's member names (schema part or not), nil for
// a null or non-object key.
func keyColumns(key []byte) ([]string, error) {
	if isNull(key) || bytes.TrimSpace(key)[0] != '{' {
		return nil, nil
	}
	ms, err := members(key)
	if err != nil {
		return nil, err
	}
	if len(ms) == 2 && ms[0].name == "schema" && ms[1].name == "payload" && !isNull(ms[1].raw) {
		if ms, err = members(ms[1].raw); err != nil {
			return nil, err
		}
	}
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.name
	}
	return names, nil
}

// stream is the stream name a message's schema takes: the topic with
// StreamFromTopic, else the envelope's (empty: from the source block).
func (d *Decoder) stream(topic, envelope string) string {
	if d.StreamFromTopic {
		return topic
	}
	return envelope
}

// identity fills a schema's names from the source block, falling back to
// the topic.
func identity(s *event.Schema, src *sourceInfo, topic, stream string) {
	s.Source, s.Connector, s.Database = src.Name, src.Connector, src.DB
	if src.Schema != nil {
		s.Namespace = *src.Schema
	}
	if src.Table != nil {
		s.Table = *src.Table
	}
	switch {
	case stream != "":
		s.Stream = stream
	case src.Name != "" && s.Table != "" && s.Namespace != "":
		s.Stream = src.Name + "." + s.Namespace + "." + s.Table
	case src.Name != "" && s.Table != "":
		s.Stream = src.Name + "." + s.Table
	default:
		s.Stream = topic
	}
	if s.Source == "" {
		s.Source, _, _ = strings.Cut(s.Stream, ".")
	}
}

func (d *Decoder) intern(cacheKey string, s *event.Schema, keyNames []string) *event.Schema {
	if got, ok := d.schemas[cacheKey]; ok {
		return got
	}
	for _, k := range keyNames {
		if i := s.ColumnIndex(k); i >= 0 {
			s.KeyIdx = append(s.KeyIdx, i)
			s.Columns[i].Key = true
		}
	}
	d.versions[s.Stream]++
	s.Version = d.versions[s.Stream]
	if len(d.schemas) >= maxCached {
		d.schemas = map[string]*event.Schema{}
	}
	d.schemas[cacheKey] = s
	return s
}

func sourceKey(src *sourceInfo, topic string) string {
	var b strings.Builder
	for _, s := range []string{topic, src.Name, src.Connector, src.DB} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	if src.Schema != nil {
		b.WriteString(*src.Schema)
	}
	b.WriteByte(0)
	if src.Table != nil {
		b.WriteString(*src.Table)
	}
	b.WriteByte(0)
	return b.String()
}

// schemaFromConnect builds the schema from the envelope's Connect schema.
func (d *Decoder) schemaFromConnect(raw json.RawMessage, src *sourceInfo, topic string, keyNames []string, before, after []jsonMember) (*event.Schema, error) {
	env, ok := d.parsed[string(raw)] // no copy: the compiler looks up []byte keys in place
	if !ok {
		var err error
		if env, err = parseEnvelope(raw); err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
		if len(d.parsed) >= maxCached {
			d.parsed = map[string]*envSchema{}
		}
		d.parsed[string(raw)] = env
	}
	// ZonedTimestamp columns: the fraction width Debezium wrote is the
	// column's precision, which the Connect schema does not carry. A
	// column that is NULL in this message keeps the width seen last, so
	// that NULLs do not give the table another schema.
	if env.widths == nil {
		env.widths = make([]int, len(env.tz))
	}
	widths := make([]byte, len(env.tz))
	for i, c := range env.tz {
		if w := zonedWidth(env.cols[c].Name, after, before); w >= 0 {
			env.widths[i] = w
		}
		widths[i] = byte(env.widths[i])
	}
	ck := strings.Join(keyNames, "\x00") + "\x00" + string(widths) + "\x00" + sourceKey(src, topic)
	if s, ok := env.shapes[ck]; ok {
		return s, nil
	}
	s := &event.Schema{Columns: append([]event.Column(nil), env.cols...)}
	for i, c := range env.tz {
		s.Columns[c].Precision = int(widths[i])
	}
	identity(s, src, topic, d.stream(topic, env.stream))
	s = d.intern(string(raw)+"\x01"+ck, s, keyNames)
	if len(env.shapes) >= maxCached {
		env.shapes = map[string]*event.Schema{}
	}
	env.shapes[ck] = s
	return s, nil
}

// zonedWidth returns the number of fraction digits of the named column's
// ZonedTimestamp value, -1 when there is none to look at (NULL, or an
// unchanged TOAST placeholder).
func zonedWidth(name string, imgs ...[]jsonMember) int {
	for _, img := range imgs {
		for _, m := range img {
			if m.name != name {
				continue
			}
			var s string
			if isNull(m.raw) || json.Unmarshal(m.raw, &s) != nil || s == UnavailableValuePlaceholder {
				continue
			}
			dot := strings.IndexByte(s, '.')
			if dot < 0 {
				return 0
			}
			n := 0
			for _, c := range s[dot+1:] {
				if c < '0' || c > '9' {
					break
				}
				n++
			}
			return min(n, 9)
		}
	}
	return -1
}

func parseEnvelope(raw json.RawMessage) (*envSchema, error) {
	var root cschema
	if err := json.Unmarshal(raw, &root); err != nil {
		return nil, err
	}
	if root.Type != "struct" {
		return nil, fmt.Errorf("envelope schema has type %q, want struct", root.Type)
	}
	env := &envSchema{stream: strings.TrimSuffix(root.Name, ".Envelope"), shapes: map[string]*event.Schema{}}
	if env.stream == root.Name {
		env.stream = ""
	}
	var row *cschema
	for i := range root.Fields {
		f := &root.Fields[i]
		if (f.Field == "after" || f.Field == "before") && (row == nil || f.Field == "after") {
			row = f
		}
	}
	if row == nil {
		return nil, errors.New(`envelope schema has no "before"/"after" struct`)
	}
	if env.stream == "" && strings.HasSuffix(row.Name, ".Value") {
		env.stream = strings.TrimSuffix(row.Name, ".Value")
	}
	for i := range row.Fields {
		c, err := columnFromConnect(&row.Fields[i], 0)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", row.Fields[i].Field, err)
		}
		c.Name = row.Fields[i].Field
		if c.Type == event.TypeTimestampTZ {
			env.tz = append(env.tz, i)
		}
		env.cols = append(env.cols, c)
	}
	return env, nil
}

// columnFromConnect maps a Connect field schema back to a column: the
// inverse of the encoder's mapping (package format), semantic names first.
func columnFromConnect(f *cschema, depth int) (event.Column, error) {
	if depth > 32 {
		return event.Column{}, errors.New("arrays nest too deep")
	}
	c := event.Column{Optional: f.Optional}
	switch f.Name {
	case "org.apache.kafka.connect.data.Decimal":
		c.Type = event.TypeDecimal
		scale, err := strconv.Atoi(f.Parameters["scale"])
		if err != nil || scale < -maxScale || scale > maxScale {
			return c, fmt.Errorf("Decimal scale %q", f.Parameters["scale"])
		}
		c.Scale = scale
		if p := f.Parameters["connect.decimal.precision"]; p != "" {
			if c.Precision, err = strconv.Atoi(p); err != nil {
				return c, fmt.Errorf("Decimal precision %q", p)
			}
		}
	case "io.debezium.data.VariableScaleDecimal":
		c.Type, c.Scale = event.TypeDecimal, -1
	case "io.debezium.data.Uuid":
		c.Type = event.TypeUUID
	case "io.debezium.data.Json":
		c.Type = event.TypeJSON
	case "io.debezium.data.Xml":
		c.Type = event.TypeXML
	case "io.debezium.data.Enum", "io.debezium.data.EnumSet":
		c.Type = event.TypeEnum
		c.EnumValues = strings.Split(f.Parameters["allowed"], ",")
	case "io.debezium.time.Date", "org.apache.kafka.connect.data.Date":
		c.Type = event.TypeDate
	// Temporal precision says the unit: 3 milliseconds, 6 microseconds,
	// 9 nanoseconds (the encoder writes Precision above 6 as micros).
	case "io.debezium.time.Time", "org.apache.kafka.connect.data.Time":
		c.Type, c.Precision = event.TypeTime, 3
	case "io.debezium.time.MicroTime":
		c.Type, c.Precision = event.TypeTime, 6
	case "io.debezium.time.NanoTime":
		c.Type, c.Precision = event.TypeTime, 9
	case "io.debezium.time.ZonedTime":
		c.Type = event.TypeTimeTZ
	case "io.debezium.time.Timestamp", "org.apache.kafka.connect.data.Timestamp":
		c.Type, c.Precision = event.TypeTimestamp, 3
	case "io.debezium.time.MicroTimestamp":
		c.Type, c.Precision = event.TypeTimestamp, 6
	case "io.debezium.time.NanoTimestamp":
		c.Type, c.Precision = event.TypeTimestamp, 9
	case "io.debezium.time.ZonedTimestamp":
		c.Type = event.TypeTimestampTZ
	case "io.debezium.time.MicroDuration":
		c.Type = event.TypeInterval
	default:
		switch f.Type {
		case "boolean":
			c.Type = event.TypeBool
		case "int8", "int16":
			c.Type = event.TypeInt16
		case "int32":
			c.Type = event.TypeInt32
		case "int64":
			c.Type = event.TypeInt64
		case "float":
			c.Type = event.TypeFloat32
		case "double":
			c.Type = event.TypeFloat64
		case "string":
			c.Type = event.TypeString
		case "bytes":
			c.Type = event.TypeBytes
		case "array":
			if f.Items == nil {
				return c, errors.New("array schema without items")
			}
			elem, err := columnFromConnect(f.Items, depth+1)
			if err != nil {
				return c, err
			}
			c.Type, c.Elem = event.TypeArray, &elem
		case "struct", "map":
			// Geometries and other structs: kept as their JSON text.
			c.Type = event.TypeJSON
		default:
			return c, fmt.Errorf("unknown Connect type %q", f.Type)
		}
	}
	if !isNull(f.Default) {
		v, err := decodeValue(&c, f.Default, 0)
		if err != nil {
			return c, fmt.Errorf("default: %w", err)
		}
		c.Default, c.HasDefault = v, true
	}
	return c, nil
}

// schemaInferred builds a schema for a message without a schema part: the
// columns are the row's members in order, typed from their JSON values
// (integers int64, other numbers float64, strings string, booleans bool,
// {"scale","value"} objects VariableScaleDecimal, arrays by their first
// element, other objects JSON text). Every column is optional.
func (d *Decoder) schemaInferred(src *sourceInfo, topic string, keyNames []string, before, after []jsonMember) (*event.Schema, error) {
	img := after
	if img == nil {
		img = before
	}
	cols := make([]event.Column, len(img))
	var sig strings.Builder
	sig.WriteString(sourceKey(src, topic))
	var beforeIdx map[string]int
	if before != nil && after != nil {
		beforeIdx = make(map[string]int, len(before))
		for i, o := range before {
			beforeIdx[o.name] = i
		}
	}
	for i, m := range img {
		t := inferType(m.raw)
		if j, ok := beforeIdx[m.name]; ok {
			if o := before[j]; !isNull(o.raw) {
				ot := inferType(o.raw)
				switch {
				case isNull(m.raw):
					t = ot
				case ot.Type == t.Type:
				case t.Type == event.TypeFloat64 && ot.Type == event.TypeString && nonFinite(o.raw),
					ot.Type == event.TypeFloat64 && t.Type == event.TypeString && nonFinite(m.raw):
					t = event.Column{Type: event.TypeFloat64}
				default:
					return nil, fmt.Errorf("column %q has a %s in the before image and a %s in the after image; a message without schema must be consistent (write debezium+schema)", m.name, ot.Type, t.Type)
				}
			}
		}
		t.Name, t.Optional = m.name, true
		cols[i] = t
		sig.WriteString(m.name)
		sig.WriteByte(0)
		sig.WriteByte(byte(t.Type))
		if t.Elem != nil {
			sig.WriteByte(byte(t.Elem.Type))
		}
	}
	sig.WriteByte(1)
	sig.WriteString(strings.Join(keyNames, "\x00"))
	ck := sig.String()
	if s, ok := d.schemas[ck]; ok {
		return s, nil
	}
	s := &event.Schema{Columns: cols}
	identity(s, src, topic, d.stream(topic, ""))
	return d.intern(ck, s, keyNames), nil
}

// nonFinite reports whether raw is one of the strings JsonConverter writes
// for a non-finite float or double.
func nonFinite(raw json.RawMessage) bool {
	switch string(bytes.TrimSpace(raw)) {
	case `"NaN"`, `"Infinity"`, `"-Infinity"`:
		return true
	}
	return false
}

func inferType(raw json.RawMessage) event.Column {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return event.Column{Type: event.TypeString}
	}
	switch raw[0] {
	case 't', 'f':
		return event.Column{Type: event.TypeBool}
	case '"', 'n':
		return event.Column{Type: event.TypeString}
	case '[':
		elem := event.Column{Type: event.TypeString}
		if elems, err := elements(raw); err == nil {
			for _, e := range elems {
				if !isNull(e) {
					if e = bytes.TrimSpace(e); e[0] != '[' && e[0] != '{' {
						elem = inferType(e)
					}
					break
				}
			}
		}
		return event.Column{Type: event.TypeArray, Elem: &elem}
	case '{':
		if ms, err := members(raw); err == nil && len(ms) == 2 && ms[0].name == "scale" && ms[1].name == "value" {
			return event.Column{Type: event.TypeDecimal, Scale: -1}
		}
		return event.Column{Type: event.TypeJSON}
	}
	if bytes.ContainsAny(raw, ".eE") {
		return event.Column{Type: event.TypeFloat64}
	}
	return event.Column{Type: event.TypeInt64}
}

// decodeRow decodes an image in column order; a column the message lacks is
// NULL, a member the schema lacks is an error.
func decodeRow(s *event.Schema, img []jsonMember) ([]event.Value, error) {
	row := make([]event.Value, len(s.Columns))
	var index map[string]int // for wide rows, so that time stays linear
	if len(img) > 32 {
		index = make(map[string]int, len(s.Columns))
		for i := range s.Columns {
			index[s.Columns[i].Name] = i
		}
	}
	for k, m := range img {
		i := -1
		switch {
		case k < len(s.Columns) && s.Columns[k].Name == m.name: // the usual case: same order
			i = k
		case index != nil:
			if j, ok := index[m.name]; ok {
				i = j
			}
		default:
			i = s.ColumnIndex(m.name)
		}
		if i < 0 {
			return nil, fmt.Errorf("member %q is not in the schema", m.name)
		}
		c := &s.Columns[i]
		v, err := decodeValue(c, m.raw, 0)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", m.name, err)
		}
		row[i] = v
	}
	return row, nil
}

func jsonInt(raw []byte) (int64, error) {
	n, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("want an integer, got %.30s", raw)
	}
	return n, nil
}

// decodeValue decodes one JSON value of column c.
func decodeValue(c *event.Column, raw []byte, depth int) (event.Value, error) {
	if isNull(raw) {
		return event.Null, nil
	}
	switch c.Type {
	case event.TypeBool:
		switch string(bytes.TrimSpace(raw)) {
		case "true":
			return event.Bool(true), nil
		case "false":
			return event.Bool(false), nil
		}
		return event.Null, fmt.Errorf("want a boolean, got %.30s", raw)
	case event.TypeInt16, event.TypeInt32, event.TypeInt64, event.TypeDate:
		n, err := jsonInt(raw)
		return event.Int(n), err
	case event.TypeFloat32, event.TypeFloat64:
		bits := 64
		if c.Type == event.TypeFloat32 {
			bits = 32
		}
		txt := string(bytes.TrimSpace(raw))
		if txt[0] == '"' { // "NaN", "Infinity", "-Infinity"
			s, err := jsonString(raw)
			if err != nil {
				return event.Null, err
			}
			switch s {
			case "NaN":
				return event.Float(math.NaN()), nil
			case "Infinity":
				return event.Float(math.Inf(1)), nil
			case "-Infinity":
				return event.Float(math.Inf(-1)), nil
			}
			return event.Null, fmt.Errorf("want a number, got %q", s)
		}
		f, err := strconv.ParseFloat(txt, bits)
		if err != nil {
			return event.Null, fmt.Errorf("want a number, got %.30s", raw)
		}
		return event.Float(f), nil
	case event.TypeDecimal, event.TypeMoney:
		if c.Scale < 0 {
			return varDecimal(raw)
		}
		s, err := jsonString(raw)
		if err != nil {
			return event.Null, err
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return event.Null, fmt.Errorf("Decimal: %w", err)
		}
		return event.Decimal(unscaledText(b, c.Scale)), nil
	case event.TypeBytes:
		s, err := jsonString(raw)
		if err != nil {
			return event.Null, err
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return event.Null, fmt.Errorf("bytes: %w", err)
		}
		if string(b) == UnavailableValuePlaceholder {
			return event.Unchanged, nil
		}
		return event.Bytes(b), nil
	case event.TypeTime, event.TypeTimestamp:
		n, err := jsonInt(raw)
		if err != nil {
			return event.Null, err
		}
		switch c.Precision {
		case 3:
			n *= 1000
		case 9:
			n /= 1000
		}
		return event.Int(n), nil
	case event.TypeTimestampTZ:
		s, err := jsonString(raw)
		if err != nil {
			return event.Null, err
		}
		switch s {
		case UnavailableValuePlaceholder:
			return event.Unchanged, nil
		case "infinity", "-infinity":
			return event.String(s), nil
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return event.Null, fmt.Errorf("ZonedTimestamp %q: %w", s, err)
		}
		return event.Int(t.UnixMicro()), nil
	case event.TypeInterval:
		n, err := jsonInt(raw)
		return event.Interval(n, isoDuration(n)), err
	case event.TypeArray:
		return decodeArray(c, raw, depth)
	case event.TypeJSON:
		if t := bytes.TrimSpace(raw); t[0] == '{' || t[0] == '[' {
			if !json.Valid(t) {
				return event.Null, errors.New("invalid JSON")
			}
			return event.String(string(t)), nil // a struct kept as JSON text
		}
	}
	// String-typed: string, uuid, json, xml, enum, timetz, unknown.
	s, err := jsonString(raw)
	if err != nil {
		return event.Null, err
	}
	if s == UnavailableValuePlaceholder {
		return event.Unchanged, nil
	}
	return event.String(s), nil
}

func decodeArray(c *event.Column, raw []byte, depth int) (event.Value, error) {
	if depth > 32 {
		return event.Null, errors.New("arrays nest too deep")
	}
	elems, err := elements(raw)
	if err != nil {
		return event.Null, err
	}
	elem := c.Elem
	if elem == nil {
		elem = &event.Column{Type: event.TypeString}
	}
	out := make([]event.Value, len(elems))
	for i, e := range elems {
		var err error
		if t := bytes.TrimSpace(e); len(t) > 0 && t[0] == '[' && elem.Type != event.TypeArray {
			out[i], err = decodeArray(c, t, depth+1) // a multi-dimensional array
		} else {
			out[i], err = decodeValue(elem, e, depth+1)
		}
		if err != nil {
			return event.Null, fmt.Errorf("element %d: %w", i, err)
		}
	}
	return event.Array(out), nil
}

func varDecimal(raw []byte) (event.Value, error) {
	var v struct {
		Scale *int    `json:"scale"`
		Value *string `json:"value"`
	}
	if err := json.Unmarshal(raw, &v); err != nil || v.Scale == nil || v.Value == nil {
		return event.Null, fmt.Errorf(`VariableScaleDecimal: want {"scale":n,"value":"base64"}, got %.40s`, raw)
	}
	if *v.Scale < -maxScale || *v.Scale > maxScale {
		return event.Null, fmt.Errorf("VariableScaleDecimal: scale %d out of range", *v.Scale)
	}
	b, err := base64.StdEncoding.DecodeString(*v.Value)
	if err != nil {
		return event.Null, fmt.Errorf("VariableScaleDecimal: %w", err)
	}
	return event.Decimal(unscaledText(b, *v.Scale)), nil
}

// unscaledText renders a big-endian two's-complement unscaled value at scale
// as decimal text ("-12.50").
func unscaledText(b []byte, scale int) string {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(b))*8))
	}
	digits := n.String()
	neg := strings.HasPrefix(digits, "-")
	digits = strings.TrimPrefix(digits, "-")
	switch {
	case scale < 0:
		if digits != "0" {
			digits += strings.Repeat("0", -scale)
		}
	case scale > 0:
		if len(digits) <= scale {
			digits = strings.Repeat("0", scale-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-scale] + "." + digits[len(digits)-scale:]
	}
	if neg {
		return "-" + digits
	}
	return digits
}

// isoDuration writes microseconds as an ISO 8601 duration in days, hours,
// minutes and seconds (months and years are not recoverable from
// Debezium's MicroDuration).
func isoDuration(us int64) string {
	if us == 0 {
		return "PT0S"
	}
	var b strings.Builder
	neg := us < 0
	u := uint64(us)
	if neg {
		u = -u
		b.WriteByte('-')
	}
	b.WriteByte('P')
	days, rem := u/86_400_000_000, u%86_400_000_000
	if days > 0 {
		b.WriteString(strconv.FormatUint(days, 10))
		b.WriteByte('D')
	}
	if rem == 0 {
		return b.String()
	}
	b.WriteByte('T')
	h, m := rem/3_600_000_000, rem/60_000_000%60
	s, frac := rem/1_000_000%60, rem%1_000_000
	if h > 0 {
		b.WriteString(strconv.FormatUint(h, 10) + "H")
	}
	if m > 0 {
		b.WriteString(strconv.FormatUint(m, 10) + "M")
	}
	if s > 0 || frac > 0 {
		b.WriteString(strconv.FormatUint(s, 10))
		if frac > 0 {
			b.WriteString(strings.TrimRight(fmt.Sprintf(".%06d", frac), "0"))
		}
		b.WriteByte('S')
	}
	return b.String()
}
