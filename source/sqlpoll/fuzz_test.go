package sqlpoll

import (
	"testing"
	"time"
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
