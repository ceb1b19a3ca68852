package javatime

import (
	"testing"
)

// FuzzPattern compiles random patterns and formats and parses random
// texts with them: never a panic; what a pattern formats, it parses back
// to an instant or fails with an error.
func FuzzPattern(f *testing.F) {
	for _, p := range diffPatterns {
		f.Add(p, "2020-04-03T11:20:00", int64(1585912800000000))
	}
	f.Add("yyyyMMddHHmmssSSS", "20200403112000123", int64(-1))
	f.Add("[[[yyyy]]]'", "", int64(0))
	f.Fuzz(func(t *testing.T, pattern, text string, micros int64) {
		p, err := Compile(pattern)
		if err != nil {
			return
		}
		for _, z := range []*Zone{UTC, mustZone("America/Los_Angeles"), mustZone("+05:30")} {
			if s, err := p.FormatInstant(micros, z); err == nil {
				_, _ = p.ParseTimestamp(s, z)
			}
			_, _ = p.ParseTimestamp(text, z)
		}
		_, _ = p.FormatDate(micros / 86400_000_000)
		_, _ = p.FormatTime(micros)
		_, _ = p.ParseDate(text, English)
		_, _ = p.ParseTime(text, Root)
	})
}
