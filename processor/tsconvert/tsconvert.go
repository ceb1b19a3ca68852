// Package tsconvert is the timestamp_convert processor: Kafka Connect's
// TimestampConverter$Value on one column, as `sluice serve` translates
// transforms.X.type = org.apache.kafka.connect.transforms.TimestampConverter$Value.
//
//	processors:
//	  ts:
//	    type: timestamp_convert
//	    inputs: [unwrap]
//	    field: created_at
//	    target_type: string          # string | unix | Timestamp | Date | Time
//	    format: yyyy-MM-dd'T'HH:mm:ss.SSS
//
// The column's value is read as Connect sees the record Debezium wrote
// (what TimestampConverter gets): a timestamp column is a number — its
// milliseconds (io.debezium.time.Timestamp) up to precision 3, else its
// microseconds (MicroTimestamp) — read as a Unix time in unix_precision
// (default milliseconds, as Connect's; set microseconds for those columns);
// an integer column is a Unix time too; a string column (timestamptz is
// Debezium's ZonedTimestamp, a string) is parsed with format; a date or
// time column is Connect's error ("not a known timestamp type"). The
// result: string (format, UTC), unix (a number in unix_precision),
// Timestamp (milliseconds), Date (days; Connect requires midnight: the
// date of the instant, UTC), Time (the time of day). format is a Java
// SimpleDateFormat pattern: the letters y M d H h m s S a E Z X z and
// 'quoted text'. A value that does not convert is a record error of its
// event. Other columns, and events without the column, pass unchanged.
package tsconvert

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// Config is the processor's configuration.
type Config struct {
	// Field is the column converted.
	Field string `yaml:"field"`
	// TargetType is string, unix, Timestamp, Date or Time.
	TargetType string `yaml:"target_type"`
	// Format is a Java SimpleDateFormat pattern, for string inputs and the
	// string target.
	Format string `yaml:"format"`
	// UnixPrecision is the unit of Unix times read and written: seconds,
	// milliseconds (default), microseconds or nanoseconds.
	UnixPrecision string `yaml:"unix_precision"`

	layout string
	unit   time.Duration
}

// DefaultConfig returns the defaults.
func DefaultConfig() *Config { return &Config{UnixPrecision: "milliseconds"} }

// Validate implements component.Validator.
func (c *Config) Validate() []error {
	var errs []error
	add := func(field, msg, hint string) {
		errs = append(errs, &component.FieldError{Field: field, Msg: msg, Hint: hint})
	}
	if c.Field == "" {
		add("field", "is required", "the column to convert")
	}
	switch c.TargetType {
	case "string", "unix", "Timestamp", "Date", "Time":
	default:
		add("target_type", fmt.Sprintf("%q is not a target type", c.TargetType), "string, unix, Timestamp, Date or Time")
	}
	if c.TargetType == "string" && c.Format == "" {
		add("format", "is required for target_type string", "a SimpleDateFormat pattern, e.g. yyyy-MM-dd'T'HH:mm:ss")
	}
	if c.Format != "" {
		l, err := Layout(c.Format)
		if err != nil {
			add("format", err.Error(), "the letters y M d H h m s S a E Z X z and 'quoted text'")
		}
		c.layout = l
	}
	switch c.UnixPrecision {
	case "seconds":
		c.unit = time.Second
	case "milliseconds":
		c.unit = time.Millisecond
	case "microseconds":
		c.unit = time.Microsecond
	case "nanoseconds":
		c.unit = time.Nanosecond
	default:
		add("unix_precision", fmt.Sprintf("%q is not a precision", c.UnixPrecision), "seconds, milliseconds, microseconds or nanoseconds")
	}
	return errs
}

// Layout turns a SimpleDateFormat pattern into a Go time layout.
func Layout(p string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(p); {
		c := p[i]
		n := 1
		for i+n < len(p) && p[i+n] == c {
			n++
		}
		switch {
		case c == '\'':
			if n >= 2 && n%2 == 0 { // '' is a quote
				b.WriteString(strings.Repeat("'", n/2))
				i += n
				continue
			}
			end := strings.IndexByte(p[i+1:], '\'')
			if end < 0 {
				return "", fmt.Errorf("pattern %q: unterminated quote", p)
			}
			lit := p[i+1 : i+1+end]
			if strings.ContainsAny(lit, "0123456789") || strings.Contains(lit, "Jan") || strings.Contains(lit, "Mon") || strings.Contains(lit, "MST") || strings.Contains(lit, "PM") {
				return "", fmt.Errorf("pattern %q: the quoted text %q cannot be written in a Go layout", p, lit)
			}
			b.WriteString(lit)
			i += end + 2
			continue
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			var l string
			switch {
			case c == 'y' && n == 2:
				l = "06"
			case c == 'y':
				l = "2006"
			case c == 'M' && n == 1:
				l = "1"
			case c == 'M' && n == 2:
				l = "01"
			case c == 'M' && n == 3:
				l = "Jan"
			case c == 'M':
				l = "January"
			case c == 'd' && n == 1:
				l = "2"
			case c == 'd':
				l = "02"
			case c == 'H' && n <= 2:
				l = "15"
			case c == 'h' && n == 1:
				l = "3"
			case c == 'h':
				l = "03"
			case c == 'm' && n == 1:
				l = "4"
			case c == 'm':
				l = "04"
			case c == 's' && n == 1:
				l = "5"
			case c == 's':
				l = "05"
			case c == 'S' && n == 3:
				l = "000"
			case c == 'a':
				l = "PM"
			case c == 'E' && n <= 3:
				l = "Mon"
			case c == 'E':
				l = "Monday"
			case c == 'Z':
				l = "-0700"
			case c == 'X' && n == 1:
				l = "Z07"
			case c == 'X' && n == 2:
				l = "Z0700"
			case c == 'X':
				l = "Z07:00"
			case c == 'z':
				l = "MST"
			default:
				return "", fmt.Errorf("pattern %q: %s is not supported", p, strings.Repeat(string(c), n))
			}
			if c == 'S' {
				// Go writes fractions after a dot or comma only.
				if s := b.String(); !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, ",") {
					return "", fmt.Errorf("pattern %q: SSS must follow a . or a ,", p)
				}
			}
			b.WriteString(l)
			i += n
			continue
		case c >= '0' && c <= '9':
			return "", fmt.Errorf("pattern %q: digits cannot be written in a Go layout", p)
		}
		b.WriteString(p[i : i+n])
		i += n
	}
	return b.String(), nil
}

// Factory builds timestamp_convert processors.
var Factory = component.ProcessorFactory{
	Doc:    "converts a column between Unix times, strings and timestamp, date and time types, as Kafka Connect's TimestampConverter",
	Config: func() any { return DefaultConfig() },
	New: func(cfg any, env component.Env) (component.Processor, error) {
		c, ok := cfg.(*Config)
		if !ok {
			return nil, fmt.Errorf("timestamp_convert: config is %T, not *tsconvert.Config", cfg)
		}
		return New(c)
	},
}

// Converter is the processor.
type Converter struct {
	cfg     Config
	schemas map[*event.Schema]converted
}

type converted struct {
	out *event.Schema
	idx int // the column, -1 when the schema lacks it
	err error
}

var (
	_ component.Processor     = (*Converter)(nil)
	_ component.KeepsNoEvents = (*Converter)(nil)
)

// KeepsNoEvents implements component.KeepsNoEvents, so that a source may
// recycle a batch that passed through the converter: converted images are
// copies with the new value in place; the cache is keyed by
// *event.Schema; record errors are formatted when they happen.
func (c *Converter) KeepsNoEvents() bool { return true }

// New returns a converter for cfg (validated afresh, on a copy).
func New(cfg *Config) (*Converter, error) {
	c := *cfg
	if errs := c.Validate(); len(errs) > 0 {
		return nil, fmt.Errorf("timestamp_convert: %w", errs[0])
	}
	return &Converter{cfg: c, schemas: map[*event.Schema]converted{}}, nil
}

func (c *Converter) schema(s *event.Schema) converted {
	if cv, ok := c.schemas[s]; ok {
		return cv
	}
	cv := converted{idx: s.ColumnIndex(c.cfg.Field), out: s}
	if cv.idx >= 0 {
		col := s.Columns[cv.idx]
		switch col.Type {
		case event.TypeDate, event.TypeTime, event.TypeTimeTZ:
			cv.err = fmt.Errorf("column %s (%s) is not a known timestamp type for TimestampConverter (Connect sees Debezium's %s as an INT32 or a string it cannot read)", col.Name, col.Type, col.Type)
		}
		o := *s
		o.Columns = append([]event.Column(nil), s.Columns...)
		nc := event.Column{Name: col.Name, Optional: col.Optional, Key: col.Key}
		switch c.cfg.TargetType {
		case "string":
			nc.Type, nc.TypeName = event.TypeString, "string"
		case "unix":
			nc.Type, nc.TypeName = event.TypeInt64, "int64"
		case "Timestamp":
			nc.Type, nc.TypeName, nc.Precision = event.TypeTimestamp, "timestamp", 3
		case "Date":
			nc.Type, nc.TypeName = event.TypeDate, "date"
		case "Time":
			nc.Type, nc.TypeName, nc.Precision = event.TypeTime, "time", 3
		}
		o.Columns[cv.idx] = nc
		cv.out = &o
	}
	if len(c.schemas) > 1024 {
		clear(c.schemas)
	}
	c.schemas[s] = cv
	return cv
}

// instant reads a value as TimestampConverter gets it from Debezium's
// record: milliseconds since the epoch (Connect converts every input to a
// java.util.Date, so finer digits are lost, and Unix times are divided as
// Java divides, toward zero).
func (c *Converter) instant(connector string, col *event.Column, v event.Value) (int64, error) {
	fromUnix := func(n int64) int64 {
		switch c.cfg.unit {
		case time.Second:
			return n * 1000
		case time.Microsecond:
			return n / 1000
		case time.Nanosecond:
			return n / 1000_000
		}
		return n
	}
	switch col.Type {
	case event.TypeTimestamp:
		if v.Kind == event.KindInt {
			us := v.AsInt()
			n := floorDiv(us, 1000) // io.debezium.time.Timestamp: milliseconds
			// Precision 0 is PostgreSQL's default 6, MySQL's 0 (see
			// package format): MicroTimestamp otherwise.
			if col.Precision > 3 || col.Precision == 0 && connector != "mysql" {
				n = us
			}
			return fromUnix(n), nil
		}
	case event.TypeInt16, event.TypeInt32, event.TypeInt64:
		return fromUnix(v.AsInt()), nil
	}
	var s string
	switch {
	case v.Kind == event.KindString:
		s = v.Str
	case col.Type == event.TypeTimestampTZ && v.Kind == event.KindInt:
		// Debezium's ZonedTimestamp: an ISO string in UTC.
		s = time.UnixMicro(v.AsInt()).UTC().Format("2006-01-02T15:04:05.999999Z")
	default:
		return 0, fmt.Errorf("column %s (%s) is not a known timestamp type for TimestampConverter", col.Name, col.Type)
	}
	if c.cfg.layout == "" {
		return 0, fmt.Errorf("column %s is a string: TimestampConverter needs format to read it", col.Name)
	}
	t, err := time.Parse(c.cfg.layout, s)
	if err != nil {
		return 0, fmt.Errorf("Could not parse timestamp: value (%s) does not match pattern (%s)", s, c.cfg.Format)
	}
	return t.UnixMilli(), nil
}

func (c *Converter) convert(ms int64) event.Value {
	switch c.cfg.TargetType {
	case "string":
		return event.String(time.UnixMilli(ms).UTC().Format(c.cfg.layout))
	case "unix":
		switch c.cfg.unit {
		case time.Second:
			return event.Int(ms / 1000)
		case time.Microsecond:
			return event.Int(ms * 1000)
		case time.Nanosecond:
			return event.Int(ms * 1000_000)
		}
		return event.Int(ms)
	case "Timestamp":
		return event.Int(ms * 1000)
	case "Date":
		return event.Int(floorDiv(ms, 86400_000))
	}
	// Time: the time of day.
	return event.Int((ms - floorDiv(ms, 86400_000)*86400_000) * 1000)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Process implements component.Processor.
func (c *Converter) Process(_ context.Context, in []event.Event, out []event.Event) ([]event.Event, error) {
	var rejected component.RecordErrors
	for i := range in {
		e := in[i]
		cv := c.schema(e.Schema)
		if cv.idx < 0 {
			out = append(out, e)
			continue
		}
		if cv.err != nil {
			rejected = append(rejected, component.RecordError{Index: i, Err: cv.err})
			continue
		}
		col := &e.Schema.Columns[cv.idx]
		var err error
		img := func(row []event.Value) []event.Value {
			if row == nil || err != nil {
				return row
			}
			r := append([]event.Value(nil), row...)
			if r[cv.idx].IsNull() {
				return r
			}
			var ms int64
			if ms, err = c.instant(e.Schema.Connector, col, r[cv.idx]); err == nil {
				r[cv.idx] = c.convert(ms)
			}
			return r
		}
		e.Before, e.After = img(e.Before), img(e.After)
		if err != nil {
			rejected = append(rejected, component.RecordError{Index: i, Err: err})
			continue
		}
		e.Schema = cv.out
		out = append(out, e)
	}
	if len(rejected) > 0 {
		return out, rejected
	}
	return out, nil
}

// Close implements component.Processor.
func (c *Converter) Close() error { return nil }
