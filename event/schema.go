package event

// Type is sluice's logical column type. Encoders map it to their own type
// systems (Debezium's schema types and semantic names, Parquet, SQL DDL).
type Type uint8

// Logical types. The comment says which Value kind carries it.
const (
	TypeUnknown     Type = iota // KindString: text form, Column.TypeName names the source type
	TypeBool                    // KindBool
	TypeInt16                   // KindInt
	TypeInt32                   // KindInt
	TypeInt64                   // KindInt
	TypeFloat32                 // KindFloat: the stored float32 widened exactly (1.1 → 1.100000023841858)
	TypeFloat64                 // KindFloat
	TypeDecimal                 // KindDecimal; Column.Precision/Scale (see Column)
	TypeString                  // KindString
	TypeBytes                   // KindBytes
	TypeUUID                    // KindString, canonical text
	TypeJSON                    // KindString, JSON text (Column.TypeName tells json/jsonb)
	TypeDate                    // KindInt: days since 1970-01-01
	TypeTime                    // KindInt: microseconds since midnight
	TypeTimeTZ                  // KindString: "HH:MM:SS[.ffffff]Z" normalised to UTC
	TypeTimestamp               // KindInt: microseconds since epoch, no zone
	TypeTimestampTZ             // KindInt: microseconds since epoch, UTC
	TypeInterval                // KindInterval
	TypeEnum                    // KindString; Column.EnumValues
	TypeArray                   // KindArray; Column.Elem describes elements
	TypeMoney                   // KindDecimal, scale 2
	TypeXML                     // KindString
	TypeInet                    // KindString (inet, cidr, macaddr)
)

var typeNames = [...]string{
	TypeUnknown: "unknown", TypeBool: "bool", TypeInt16: "int16", TypeInt32: "int32",
	TypeInt64: "int64", TypeFloat32: "float32", TypeFloat64: "float64", TypeDecimal: "decimal",
	TypeString: "string", TypeBytes: "bytes", TypeUUID: "uuid", TypeJSON: "json", TypeDate: "date",
	TypeTime: "time", TypeTimeTZ: "timetz", TypeTimestamp: "timestamp", TypeTimestampTZ: "timestamptz",
	TypeInterval: "interval", TypeEnum: "enum", TypeArray: "array", TypeMoney: "money", TypeXML: "xml",
	TypeInet: "inet",
}

// String names the type.
func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "type(?)"
}

// Column describes one column of a table.
type Column struct {
	Name     string
	Type     Type
	TypeName string // the source's own name, e.g. "int4", "varchar", "product_status"
	TypeOID  uint32 // PostgreSQL type OID (0 for other sources)
	Optional bool   // nullable
	Key      bool   // part of the primary (replica identity) key
	// Length is the declared length (varchar(n), char(n), bit(n)); 0 if none.
	Length int
	// Precision and Scale for decimals. Scale < 0 with Precision 0 is an
	// unconstrained decimal (variable scale); Scale < 0 with Precision > 0
	// is PostgreSQL 15's negative scale (values rounded to 10^-Scale).
	Precision, Scale int
	// Default is the column default as a Value when it is a constant the
	// source could parse; Kind == KindNull with HasDefault false means none.
	Default    Value
	HasDefault bool
	EnumValues []string // for TypeEnum, in declaration order
	Elem       *Column  // for TypeArray: the element type (Name empty)
}

// Schema is one version of a table's shape. It is immutable once published.
type Schema struct {
	// Stream is the stream name: "<source>.<schema>.<table>".
	Stream    string
	Source    string // the source's name in the pipeline (Debezium's topic prefix / source.name)
	Connector string // "postgresql", "mysql", "mongodb", "generator"
	Database  string
	Namespace string // schema (PostgreSQL) — empty where the source has none
	Table     string
	Version   int
	Columns   []Column
	KeyIdx    []int // indexes of key columns in Columns, in key order
	// SeqPerStream says that the source orders its events' Seqs per
	// stream only: it emits the streams' events interleaved in no common
	// order (sql_poll polls its tables one after another, each by its own
	// watermark). A sink that stores a position to recognise replays keeps
	// one per stream for such events, not one per source. See Event.Seq.
	SeqPerStream bool
	// SeqByRow says that the second word of the events' Seqs is
	// Source.Row, the change's ordinal among the changes that share its
	// CommitLSN, rather than Source.LSN (MongoDB: the changes of one
	// transaction share their cluster time). See Event.Seq.
	SeqByRow bool
}

// ColumnIndex returns the index of the named column, or -1.
func (s *Schema) ColumnIndex(name string) int {
	for i := range s.Columns {
		if s.Columns[i].Name == name {
			return i
		}
	}
	return -1
}
