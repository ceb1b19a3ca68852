package topiclog

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/sluice-dev/sluice/internal/frame"
)

// Record is one record of a topic, as in Kafka.
type Record struct {
	// Offset is the record's offset in its topic (set by Append and by
	// readers; ignored when appending).
	Offset int64
	// Timestamp is in Unix milliseconds; Append sets a zero one to the time
	// of the append (Kafka's LogAppendTime). Retention by age goes by it.
	Timestamp int64
	// Key is nil for a null key.
	Key []byte
	// Value is nil for a null value (a tombstone).
	Value   []byte
	Headers []Header
}

// Header is a record header; a nil Value is a null value.
type Header struct {
	Key   string
	Value []byte
}

// recordFormat frames records in segment files: the meta bytes are the
// record's offset (u64) and timestamp (i64).
var recordFormat = frame.Format{Meta: 16, Max: maxRecordFormat}

// maxRecordFormat is the most payload bytes a record head may declare; a
// larger length is damage, and Append refuses a larger record
// (RecordTooLargeError). Writers cap records lower (sink/topiclog's
// max_record_bytes).
const maxRecordFormat = 1 << 30

// size is the record's payload size once encoded.
func (r *Record) size() int {
	n := uvarLen(r.Key) + uvarLen(r.Value) + varintLen(uint64(len(r.Headers)))
	for _, h := range r.Headers {
		n += varintLen(uint64(len(h.Key))) + len(h.Key) + uvarLen(h.Value)
	}
	return n
}

func varintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// uvarLen is the size of a nullable byte string: its length+1 (0 for nil)
// as a uvarint, then its bytes.
func uvarLen(b []byte) int {
	if b == nil {
		return 1
	}
	return varintLen(uint64(len(b))+1) + len(b)
}

func appendBytes(dst, b []byte) []byte {
	if b == nil {
		return append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(b))+1)
	return append(dst, b...)
}

// appendRecord appends r framed, with offset off and timestamp ts, to dst;
// scratch is a buffer for the payload, returned for reuse.
func appendRecord(dst, scratch []byte, r *Record, off, ts int64) (out, buf []byte) {
	p := scratch[:0]
	p = appendBytes(p, r.Key)
	p = appendBytes(p, r.Value)
	p = binary.AppendUvarint(p, uint64(len(r.Headers)))
	for _, h := range r.Headers {
		p = binary.AppendUvarint(p, uint64(len(h.Key)))
		p = append(p, h.Key...)
		p = appendBytes(p, h.Value)
	}
	var meta [16]byte
	binary.LittleEndian.PutUint64(meta[:], uint64(off))
	binary.LittleEndian.PutUint64(meta[8:], uint64(ts))
	return recordFormat.Append(dst, meta[:], p), p
}

// headMeta returns the offset and timestamp of a record head.
func headMeta(head []byte) (off, ts int64) {
	m := recordFormat.MetaOf(head)
	return int64(binary.LittleEndian.Uint64(m)), int64(binary.LittleEndian.Uint64(m[8:]))
}

var errPayload = errors.New("malformed")

// decodePayload fills r's key, value and headers from p (which r keeps:
// pass a slice of its own). A payload whose checksum holds but does not
// parse was written by something other than this package.
func decodePayload(p []byte, r *Record) error {
	var err error
	if r.Key, p, err = nullable(p); err != nil {
		return fmt.Errorf("its key is %w", err)
	}
	if r.Value, p, err = nullable(p); err != nil {
		return fmt.Errorf("its value is %w", err)
	}
	n, k := binary.Uvarint(p)
	// Each header takes two bytes at least: a count beyond that is not
	// allocated.
	if k <= 0 || n > uint64(len(p)-k)/2 {
		return fmt.Errorf("its header count is %w", errPayload)
	}
	p = p[k:]
	r.Headers = nil
	if n > 0 {
		r.Headers = make([]Header, n)
	}
	for i := range r.Headers {
		l, k := binary.Uvarint(p)
		if k <= 0 || l > uint64(len(p)-k) {
			return fmt.Errorf("the key of its header %d is %w", i, errPayload)
		}
		r.Headers[i].Key = string(p[k : k+int(l)])
		if r.Headers[i].Value, p, err = nullable(p[k+int(l):]); err != nil {
			return fmt.Errorf("the value of its header %d is %w", i, err)
		}
	}
	if len(p) != 0 {
		return fmt.Errorf("it has %d bytes after its headers", len(p))
	}
	return nil
}

func nullable(p []byte) (b, rest []byte, err error) {
	l, k := binary.Uvarint(p)
	switch {
	case k <= 0 || l > uint64(len(p)-k)+1:
		return nil, nil, errPayload
	case l == 0:
		return nil, p[k:], nil
	}
	end := k + int(l-1)
	return p[k:end:end], p[end:], nil
}

// ValidTopic reports whether name is a valid topic name, by Kafka's rules:
// 1 to 249 characters of a-z, A-Z, 0-9, '.', '_' and '-', and neither "."
// nor "..". It returns the reason otherwise.
func ValidTopic(name string) error {
	switch {
	case name == "":
		return errors.New("topic name is empty")
	case name == "." || name == "..":
		return fmt.Errorf("topic name %q is not allowed", name)
	case len(name) > 249:
		return fmt.Errorf("topic name %.40q… is %d characters long; the most is 249", name, len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("topic name %q has %q at byte %d; a topic name is made of a-z, A-Z, 0-9, '.', '_' and '-'", name, rune(c), i)
		}
	}
	return nil
}
