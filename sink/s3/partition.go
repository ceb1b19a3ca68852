package s3

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/event"
)

// partitionNames are the placeholders a partition template may use.
var partitionNames = []string{"stream", "source", "database", "schema", "table", "date", "year", "month", "day", "hour", "minute"}

// partition is a compiled partition template: literal text and ${name}
// placeholders ($$ is a literal $).
type partition struct {
	parts []ppart
}

type ppart struct{ lit, name string }

func parsePartition(s string) (*partition, error) {
	p := &partition{}
	var lit strings.Builder
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$$"):
			lit.WriteByte('$')
			i += 2
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("template %q: unclosed ${ at offset %d", s, i)
			}
			name := strings.TrimSpace(s[i+2 : i+end])
			if !contains(partitionNames, name) {
				return nil, fmt.Errorf("template %q: unknown placeholder ${%s}; use ${%s}", s, name, strings.Join(partitionNames, "}, ${"))
			}
			if lit.Len() > 0 {
				p.parts = append(p.parts, ppart{lit: lit.String()})
				lit.Reset()
			}
			p.parts = append(p.parts, ppart{name: name})
			i += end + 1
		default:
			lit.WriteByte(s[i])
			i++
		}
	}
	if lit.Len() > 0 {
		p.parts = append(p.parts, ppart{lit: lit.String()})
	}
	if strings.Contains(s, "..") || strings.HasPrefix(s, "/") {
		return nil, fmt.Errorf("template %q: no leading slash or .. in object keys", s)
	}
	return p, nil
}

// eventTime is the time that places an event in a partition and drives
// event-time rotation: the source's commit time, which a replay repeats, or
// sluice's processing time for sources that have none.
func eventTime(e *event.Event) int64 {
	if e.Source.TsUs != 0 {
		return e.Source.TsMs()
	}
	return e.TsMs
}

// render appends the partition directory of e (no trailing slash).
func (p *partition) render(dst []byte, e *event.Event) []byte {
	t := time.UnixMilli(eventTime(e)).UTC()
	for _, pt := range p.parts {
		switch pt.name {
		case "":
			dst = append(dst, pt.lit...)
		case "stream":
			dst = appendSafe(dst, e.Schema.Stream)
		case "source":
			dst = appendSafe(dst, e.Schema.Source)
		case "database":
			dst = appendSafe(dst, e.Schema.Database)
		case "schema":
			dst = appendSafe(dst, e.Schema.Namespace)
		case "table":
			dst = appendSafe(dst, e.Schema.Table)
		case "date":
			dst = t.AppendFormat(dst, "2006-01-02")
		case "year":
			dst = strconv.AppendInt(dst, int64(t.Year()), 10)
		case "month":
			dst = pad2(dst, int(t.Month()))
		case "day":
			dst = pad2(dst, t.Day())
		case "hour":
			dst = pad2(dst, t.Hour())
		case "minute":
			dst = pad2(dst, t.Minute())
		}
	}
	return dst
}

func pad2(dst []byte, n int) []byte {
	if n < 10 {
		dst = append(dst, '0')
	}
	return strconv.AppendInt(dst, int64(n), 10)
}

// appendSafe appends a name for use inside an object key: '/' and control
// characters become '_', so a value never adds a directory level.
func appendSafe(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, '_')
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '/' || c < 0x20 || c == 0x7f {
			c = '_'
		}
		dst = append(dst, c)
	}
	return dst
}

// pos is a record's position in an object name: a source Seq, or for events
// without one (snapshot rows) the sink's own ordinal of such events in
// their stream.
type pos struct {
	snap   bool
	hi, lo uint64
}

// String renders the position for an object name: "<hi>-<lo>" as 16 hex
// digits each (so names sort in source order), or "s<ordinal>" with 12
// decimal digits.
func (p pos) String() string {
	if p.snap {
		return fmt.Sprintf("s%012d", p.lo)
	}
	return fmt.Sprintf("%016x-%016x", p.hi, p.lo)
}

// objectKey names the object holding a stream's records first..last in dir.
func objectKey(prefix, dir, stream string, first, last pos, ext string) string {
	var b strings.Builder
	if prefix = strings.Trim(prefix, "/"); prefix != "" {
		b.WriteString(prefix)
		b.WriteByte('/')
	}
	if dir = strings.Trim(dir, "/"); dir != "" {
		b.WriteString(dir)
		b.WriteByte('/')
	}
	b.Write(appendSafe(nil, stream))
	b.WriteByte('+')
	b.WriteString(first.String())
	b.WriteByte('+')
	b.WriteString(last.String())
	b.WriteByte('.')
	b.WriteString(ext)
	return b.String()
}
