package format

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/internal/eventtest"
)

// The encoder's fast paths (word-at-a-time escaping, the plain-range float
// text, the cached envelope tail) are checked byte for byte against the
// code they replace, kept here as the reference, on many generated values.

// appendEscapedRef is appendEscaped before the word-at-a-time scan.
func appendEscapedRef(dst []byte, s string, surrogates bool) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if !needsEscape[c] {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r >= 0x10000 && surrogates {
				dst = append(dst, s[start:i]...)
				r1, r2 := utf16.EncodeRune(r)
				dst = append(dst, '\\', 'u', hexUpper[r1>>12&0xF], hexUpper[r1>>8&0xF], hexUpper[r1>>4&0xF], hexUpper[r1&0xF])
				dst = append(dst, '\\', 'u', hexUpper[r2>>12&0xF], hexUpper[r2>>8&0xF], hexUpper[r2>>4&0xF], hexUpper[r2&0xF])
				i += size
				start = i
				continue
			}
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
			i++
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexUpper[c>>4], hexUpper[c&0xF])
		}
		i++
		start = i
	}
	return append(dst, s[start:]...)
}

// TestBytesNeedEscape: the word test agrees with the byte table for every
// byte value in every position of a word of otherwise plain bytes, and on
// random words.
func TestBytesNeedEscape(t *testing.T) {
	for pos := range 8 {
		for c := range 256 {
			w := []byte("abcdefgh")
			w[pos] = byte(c)
			if got, want := bytesNeedEscape(load64(string(w), 0)), needsEscape[c]; got != want {
				t.Fatalf("byte %#x at %d: %v, want %v", c, pos, got, want)
			}
		}
	}
	r := rand.New(rand.NewPCG(7, 8))
	for range 300_000 {
		w := r.Uint64()
		if r.IntN(2) == 0 {
			w &^= highs // ASCII only: the subtractions' borrows matter here
		}
		want := false
		for k := range 8 {
			want = want || needsEscape[byte(w>>(8*k))]
		}
		if got := bytesNeedEscape(w); got != want {
			t.Fatalf("word %#016x: %v, want %v", w, got, want)
		}
	}
	if got := load64("0123456789", 2); got != 0x3938373635343332 {
		t.Fatalf("load64 = %#x", got)
	}
}

func TestAppendEscapedDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	pieces := []string{"a", "bcdefgh", "plain text ", `"`, `\`, "/", "\x00", "\x1f", "\x7f", "\n", "\t", "é", "€",
		"\U0001F30D", "\xff", "\xe2\x82", "\xed\xa0\x80", " ", "0123456789"}
	for range 50_000 {
		var b strings.Builder
		for range r.IntN(12) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		s := b.String()
		for _, sur := range []bool{true, false} {
			got, want := appendEscaped([]byte("x"), s, sur), appendEscapedRef([]byte("x"), s, sur)
			if !bytes.Equal(got, want) {
				t.Fatalf("%q (surrogates %v): %q, want %q", s, sur, got, want)
			}
		}
	}
}

// appendJavaFloatRef is appendJavaFloat without the plain-range path.
func appendJavaFloatRef(dst []byte, f float64, bits int) []byte {
	if bits == 32 {
		f = float64(float32(f))
	}
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	case f == 0:
		if math.Signbit(f) {
			return append(dst, "-0.0"...)
		}
		return append(dst, "0.0"...)
	}
	var buf [40]byte
	b := strconv.AppendFloat(buf[:0], f, 'e', -1, bits)
	if b[1] == 'e' || (b[0] == '-' && b[2] == 'e') {
		b = strconv.AppendFloat(buf[:0], f, 'e', 1, bits)
	}
	if b[0] == '-' {
		dst = append(dst, '-')
		b = b[1:]
	}
	var digits [24]byte
	nd := 0
	i := 0
	for ; i < len(b) && b[i] != 'e'; i++ {
		if b[i] != '.' {
			digits[nd] = b[i]
			nd++
		}
	}
	exp := 0
	neg := b[i+1] == '-'
	for _, c := range b[i+2:] {
		exp = exp*10 + int(c-'0')
	}
	if neg {
		exp = -exp
	}
	for nd > 1 && digits[nd-1] == '0' {
		nd--
	}
	d := digits[:nd]
	if exp >= -3 && exp < 7 {
		if exp < 0 {
			dst = append(dst, '0', '.')
			for k := -1; k > exp; k-- {
				dst = append(dst, '0')
			}
			return append(dst, d...)
		}
		if nd > exp+1 {
			dst = append(dst, d[:exp+1]...)
			dst = append(dst, '.')
			return append(dst, d[exp+1:]...)
		}
		dst = append(dst, d...)
		for k := nd; k < exp+1; k++ {
			dst = append(dst, '0')
		}
		return append(dst, '.', '0')
	}
	dst = append(dst, d[0], '.')
	if nd > 1 {
		dst = append(dst, d[1:]...)
	} else {
		dst = append(dst, '0')
	}
	dst = append(dst, 'E')
	return strconv.AppendInt(dst, int64(exp), 10)
}

func TestAppendJavaFloatDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	vals := []float64{0, math.Copysign(0, -1), 1, -1, 1e-3, -1e-3, math.Nextafter(1e-3, 0), math.Nextafter(1e-3, 1),
		1e7, -1e7, math.Nextafter(1e7, 0), math.Nextafter(1e7, 2e7), 9999999, 9999999.5, 0.1, 0.2, 0.3, 100, 123.45,
		float64(float32(1e-3)), float64(math.Nextafter32(1e-3, 0)), float64(math.Nextafter32(1e7, 0)),
		math.MaxFloat64, math.SmallestNonzeroFloat64, math.MaxFloat32, math.SmallestNonzeroFloat32,
		math.Inf(1), math.Inf(-1), math.NaN(), 4.35, 1e23, 5e-324,
		0.01, -0.01, 0.1, 0.05, 0.005, 0.0051, 9999999.99, -9999999.99, 9999999.995, 1234567.8, 0.3 + 0.6, 1.1 * 3}
	for range 30_000 {
		vals = append(vals, math.Float64frombits(r.Uint64()),
			r.NormFloat64()*math.Pow(10, float64(r.IntN(24)-10)),
			math.Round(r.Float64()*1e6)/100, float64(r.IntN(20_000_000)),
			// amounts with at most two decimals (appendCents), either sign,
			// up to and past the plain range's ends
			float64(r.Int64N(2_000_000_000)-1_000_000_000)/100, float64(r.IntN(200))/100,
			float64(r.Int64N(2_000_000_000))/10)
	}
	for _, f := range vals {
		for _, bits := range []int{64, 32} {
			got, want := appendJavaFloat([]byte("x"), f, bits), appendJavaFloatRef([]byte("x"), f, bits)
			if !bytes.Equal(got, want) {
				t.Fatalf("%v (%d bits): %s, want %s", f, bits, got, want)
			}
		}
	}
}

// TestEnvelopeTailCache: one encoder fed events whose op and processing
// time change (and repeat) writes what a fresh encoder writes for each.
func TestEnvelopeTailCache(t *testing.T) {
	for _, f := range []string{Debezium, DebeziumSchema} {
		enc, err := New(Options{Format: f})
		if err != nil {
			t.Fatal(err)
		}
		for i, step := range []struct {
			op event.Op
			ms int64
		}{{event.OpRead, 5}, {event.OpRead, 5}, {event.OpRead, 6}, {event.OpCreate, 6}, {event.OpUpdate, 6},
			{event.OpUpdate, 0}, {event.OpDelete, -1}, {event.OpDelete, 1 << 62}, {event.OpRead, 5}} {
			e := eventtest.ProductEvent()
			e.Op, e.TsMs = step.op, step.ms
			if step.op == event.OpDelete {
				e.Before, e.After = e.After, nil
			}
			fresh, err := New(Options{Format: f})
			if err != nil {
				t.Fatal(err)
			}
			got, _, err1 := enc.AppendValue(nil, e)
			want, _, err2 := fresh.AppendValue(nil, e)
			if err1 != nil || err2 != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s step %d: %s (%v)\nwant %s (%v)", f, i, got, err1, want, err2)
			}
			if !bytes.Contains(got, []byte(`"op":"`+string(rune(step.op))+`","ts_ms":`+strconv.FormatInt(step.ms, 10)+`,`)) {
				t.Fatalf("%s step %d: op or ts_ms missing in %s", f, i, got)
			}
		}
	}
}

// BenchmarkAppendEscaped escapes the benchmark table's description text.
func BenchmarkAppendEscaped(b *testing.B) {
	s := "The sturdy design for everyday use, batch 512; ref 0f3ad1c2b4e5968778695a4b3c2d1e0f, checked in hall 17 and packed"
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		buf = appendEscaped(buf[:0], s, true)
	}
}

// BenchmarkAppendJavaFloat writes a price as Jackson writes a double.
func BenchmarkAppendJavaFloat(b *testing.B) {
	buf := make([]byte, 0, 64)
	for b.Loop() {
		buf = appendJavaFloat(buf[:0], 123.45, 64)
	}
}

// FuzzFastPaths: the escaper and the float writer agree with their
// references on any input.
func FuzzFastPaths(f *testing.F) {
	f.Add("plain text, long enough for words", uint64(0x405edccccccccccd))
	f.Add("q\"b\\c\x01é\U0001F30D\xff", math.Float64bits(1e-3))
	f.Fuzz(func(t *testing.T, s string, bits uint64) {
		for _, sur := range []bool{true, false} {
			if got, want := appendEscaped(nil, s, sur), appendEscapedRef(nil, s, sur); !bytes.Equal(got, want) {
				t.Fatalf("%q (surrogates %v): %q, want %q", s, sur, got, want)
			}
		}
		v := math.Float64frombits(bits)
		for _, b := range []int{64, 32} {
			if got, want := appendJavaFloat(nil, v, b), appendJavaFloatRef(nil, v, b); !bytes.Equal(got, want) {
				t.Fatalf("%v (%d bits): %s, want %s", v, b, got, want)
			}
		}
	})
}

// TestPostgresSourceLSNCache: one encoder fed changes whose sources differ
// in the LSN only (a transaction), then in any other field, writes what a
// fresh encoder writes for each (postgresSource's cache around the LSN).
func TestPostgresSourceLSNCache(t *testing.T) {
	steps := []func(s *event.Source){
		func(s *event.Source) {},
		func(s *event.Source) { s.LSN++ },
		func(s *event.Source) { s.LSN += 1000 },
		func(s *event.Source) { s.LSN = 1 << 63 }, // written as Java's negative long
		func(s *event.Source) { s.TxID++ },
		func(s *event.Source) { s.TsUs += 1001 },
		func(s *event.Source) { s.LastCommitLSN = 0 },
		func(s *event.Source) { s.LastCommitLSN = s.LSN - 5 },
		func(s *event.Source) { s.HasTxID = false },
		func(s *event.Source) { s.HasLSN = false },
		func(s *event.Source) { s.HasLSN = true },
		func(s *event.Source) { s.Snapshot = event.SnapshotTrue },
		func(s *event.Source) { s.Snapshot = event.SnapshotLast },
		func(s *event.Source) { s.Xmin, s.HasXmin = 77, true },
		func(s *event.Source) { s.CommitLSN = 9 },
		func(s *event.Source) { s.TsUs = 999 },
		func(s *event.Source) { s.LSN = 0 },
	}
	for _, f := range []string{Debezium, DebeziumSchema} {
		enc, err := New(Options{Format: f})
		if err != nil {
			t.Fatal(err)
		}
		src := eventtest.ProductEvent().Source
		for i, step := range steps {
			step(&src)
			e := eventtest.ProductEvent()
			e.Source = src
			fresh, err := New(Options{Format: f})
			if err != nil {
				t.Fatal(err)
			}
			got, _, err1 := enc.AppendValue(nil, e)
			want, _, err2 := fresh.AppendValue(nil, e)
			if err1 != nil || err2 != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s step %d: %s (%v)\nwant %s (%v)", f, i, got, err1, want, err2)
			}
			// The reference: the block written field by field.
			p := newPostgresSource(e.Schema).(*postgresSource)
			ref := string(p.appendAll(nil, e))
			if !strings.Contains(string(got), `,"source":`+ref+`,"transaction":`) {
				t.Fatalf("%s step %d: source block is not %s in\n%s", f, i, ref, got)
			}
		}
	}
	// The first two steps' block, byte for byte.
	e := eventtest.ProductEvent()
	e.Source.LSN++
	p := newPostgresSource(e.Schema).(*postgresSource)
	p.appendPayload(nil, eventtest.ProductEvent())
	got := string(p.appendPayload(nil, e))
	want := `{"version":"` + DebeziumVersion + `","connector":"postgresql","name":"` + e.Schema.Source + `","ts_ms":1641025283281,"snapshot":"false","db":"` + e.Schema.Database +
		`","sequence":"[\"23982504\",\"23982505\"]","ts_us":1641025283281000,"ts_ns":1641025283281000000,"schema":"` + e.Schema.Namespace + `","table":"` + e.Schema.Table +
		`","txId":622,"lsn":23982505,"xmin":null}`
	if got != want {
		t.Fatalf("block\n%s\nwant\n%s", got, want)
	}
}
