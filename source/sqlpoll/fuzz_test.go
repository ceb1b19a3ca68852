package sqlpoll

import (
	"bytes"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/event"
)

// FuzzParseTimestamp: never panics; what parses round-trips through the
// fast path and time.Parse alike.
func FuzzParseTimestamp(f *testing.F) {
	for _, s := range []string{"2024-02-29 13:14:15", "2024-02-29T13:14:15.123456", "2024-02-29 13:14:15+02:00", "2024-02-29", "0000-00-00 00:00:00", "2024-02-29 13:14:15."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseTimestamp(s)
		if fast, ok := fastTimestamp(s); ok {
			if err != nil || !fast.Equal(got) {
				t.Fatalf("%q: fast %v, parse %v %v", s, fast, got, err)
			}
			slow, err := time.Parse("2006-01-02 15:04:05.999999999", s)
			if s[10] == ' ' && (err != nil || !slow.Equal(fast)) {
				t.Fatalf("%q: fast %v, time.Parse %v %v", s, fast, slow, err)
			}
		}
	})
}

// FuzzParseClock never panics.
func FuzzParseClock(f *testing.F) {
	for _, s := range []string{"13:14:15", "-838:59:59.5", "00:00:00.000001", "1:2", "::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { _, _ = parseClock(s) })
}

// FuzzCheckpoint: any bytes either parse into a checkpoint whose values
// work as query parameters, or give an error; never a panic.
func FuzzCheckpoint(f *testing.F) {
	f.Add([]byte(`{"v":1,"mode":"incrementing","tables":{"users":{"id":{"int":"42"}}}}`))
	f.Add([]byte(`{"v":1,"mode":"timestamp","tables":{"u":{"ts":{"time":"2024-01-01T00:00:00Z"}}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, mode := range []string{ModeIncrementing, ModeTimestamp} {
			cp, err := parseCheckpoint(b, mode)
			if err != nil {
				continue
			}
			for _, wm := range cp.Tables {
				if wm == nil {
					continue
				}
				for _, v := range []*wmValue{wm.TS, wm.ID} {
					if v != nil {
						if _, err := v.arg(); err != nil {
							t.Fatalf("accepted %s with an unusable value: %v", b, err)
						}
					}
				}
			}
		}
	})
}

// FuzzDecodeDirect: whatever Go value a driver hands over (nil, int64,
// float64, []byte, string) for a column of any type decodeDirect reads,
// decodeDirect either leaves it to the cell or stores exactly the value
// the cell (cell.Scan, then rowReader.take) gives, kind, bits and text.
func FuzzDecodeDirect(f *testing.F) {
	f.Add(uint8(0), uint8(1), int64(-7), 0.0, []byte(nil))
	f.Add(uint8(3), uint8(2), int64(0), 1.5, []byte(nil))
	f.Add(uint8(4), uint8(3), int64(0), 0.0, []byte("héllo"))
	f.Add(uint8(8), uint8(4), int64(0), 0.0, []byte("12.340"))
	f.Add(uint8(9), uint8(4), int64(0), 0.0, []byte{})
	f.Add(uint8(7), uint8(0), int64(0), 0.0, []byte("x"))
	f.Fuzz(func(t *testing.T, typ, kind uint8, i int64, fl float64, b []byte) {
		types := []event.Type{event.TypeInt16, event.TypeInt32, event.TypeInt64, event.TypeFloat64,
			event.TypeString, event.TypeJSON, event.TypeUUID, event.TypeUnknown, event.TypeDecimal, event.TypeBytes}
		col := event.Column{Name: "c", Type: types[int(typ)%len(types)]}
		var src any
		switch kind % 5 {
		case 1:
			src = i
		case 2:
			src = fl
		case 3:
			src = b
		case 4:
			src = string(b)
		}
		s := &Source{}
		var got event.Value
		if !s.decodeDirect(&got, directDecodeOf(col.Type), src) {
			return // the cell reads it
		}
		if b, ok := src.([]byte); ok {
			// The driver's buffer is reused for the next row: the value
			// must not share it.
			b2 := bytes.Clone(b)
			for j := range b {
				b[j] ^= 0xff
			}
			defer func() { copy(b, b2) }()
			src = b2
		}
		c := cell{col: &col}
		if err := c.Scan(src); err != nil || c.err != nil {
			t.Fatalf("%T %v as %v: decodeDirect took a value the cell refuses (%v, %v)", src, src, col.Type, err, c.err)
		}
		var want event.Value
		(&rowReader{s: s}).take(&want, &c)
		if got.Kind != want.Kind || got.Num != want.Num || got.Str != want.Str {
			t.Fatalf("%T %v as %v: decodeDirect %d %#x %q, the cell %d %#x %q", src, src, col.Type, got.Kind, got.Num, got.Str, want.Kind, want.Num, want.Str)
		}
	})
}
