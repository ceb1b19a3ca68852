package format

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// fuzzReader hands out values from fuzz input; past the end it yields zeros.
type fuzzReader struct{ b []byte }

func (r *fuzzReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *fuzzReader) u64() uint64 {
	var buf [8]byte
	n := copy(buf[:], r.b)
	r.b = r.b[n:]
	return binary.LittleEndian.Uint64(buf[:])
}

func (r *fuzzReader) str() string {
	n := int(r.byte() % 24)
	if n > len(r.b) {
		n = len(r.b)
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

var fuzzDecimals = []string{"0", "-1.5", "1e3", "NaN", "12345678901234567890.123", "-0.000", "x", "", "1e9999999", "9.99e-5"}

func (r *fuzzReader) column(depth int) event.Column {
	c := event.Column{
		Name:      r.str(),
		Type:      event.Type(r.byte() % 24),
		Optional:  r.byte()&1 == 1,
		Precision: int(int8(r.byte())) % 12,
		Scale:     int(int8(r.byte())) % 8,
	}
	if c.Type == event.TypeEnum {
		c.EnumValues = []string{r.str(), r.str()}
	}
	if c.Type == event.TypeArray && depth < 3 {
		e := r.column(depth + 1)
		c.Elem = &e
	}
	if r.byte()&3 == 0 {
		c.HasDefault = true
		c.Default = r.value(0)
	}
	return c
}

func (r *fuzzReader) value(depth int) event.Value {
	switch k := event.Kind(r.byte() % 10); k {
	case event.KindNull, event.KindUnchanged:
		return event.Value{Kind: k}
	case event.KindBool:
		return event.Bool(r.byte()&1 == 1)
	case event.KindInt:
		return event.Int(int64(r.u64()))
	case event.KindFloat:
		return event.Float(math.Float64frombits(r.u64()))
	case event.KindDecimal:
		if b := r.byte(); b < 128 {
			return event.Decimal(fuzzDecimals[int(b)%len(fuzzDecimals)])
		}
		return event.Decimal(r.str())
	case event.KindString:
		return event.String(r.str())
	case event.KindBytes:
		return event.Value{Kind: event.KindBytes, Str: r.str()}
	case event.KindInterval:
		return event.Interval(int64(r.u64()), "")
	default:
		n := int(r.byte() % 4)
		if depth > 3 {
			n = 0
		}
		var elems []event.Value
		for i := 0; i < n; i++ {
			elems = append(elems, r.value(depth+1))
		}
		return event.Array(elems)
	}
}

// FuzzEncode builds a schema and an event from fuzz bytes and runs every
// encoder: none may panic, every output must be valid JSON, and an error
// must leave dst as it was.
func FuzzEncode(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x03id\x03\x00\x00\x00\x01\x02v\x08\x01\x00\x00\x01c\x03\x01\x00\x00\x00\x00\x00\x00\x00"))
	f.Add(bytes.Repeat([]byte{7, 1, 'a', 19, 1, 5, 2, 0, 9, 3, 5, 'x'}, 20))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &fuzzReader{b: data}
		s := &event.Schema{Stream: r.str(), Source: r.str(), Connector: []string{"postgresql", "generator", ""}[r.byte()%3],
			Database: r.str(), Namespace: r.str(), Table: r.str()}
		ncol := int(r.byte() % 8)
		for i := 0; i < ncol; i++ {
			s.Columns = append(s.Columns, r.column(0))
		}
		if ncol > 0 && r.byte()&1 == 1 {
			s.KeyIdx = []int{int(r.byte()) % ncol}
		}
		e := &event.Event{Op: event.Op("rcudtx"[r.byte()%6]), Schema: s, TsMs: int64(r.u64()),
			Source: event.Source{TsUs: int64(r.u64()), Snapshot: event.SnapshotMark(r.byte() % 8), LSN: r.u64(), HasLSN: true,
				LastCommitLSN: r.u64(), TxID: int64(r.u64()), HasTxID: r.byte()&1 == 1}}
		img := func() []event.Value {
			if r.byte()%4 == 0 {
				return nil
			}
			v := make([]event.Value, ncol)
			for i := range v {
				v[i] = r.value(0)
			}
			return v
		}
		e.Before, e.After = img(), img()
		for _, o := range []Options{
			{Format: Debezium}, {Format: DebeziumSchema},
			{Format: Row, Unwrap: UnwrapOptions{DeleteHandling: "rewrite", AddFields: []string{"op", "lsn", "table", "source.ts_ms"}}},
			{Format: Row, Unwrap: UnwrapOptions{DeleteHandling: "tombstone"}},
		} {
			enc, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // the second run uses the cached codec
				out, ok, err := enc.AppendValue([]byte("x"), e)
				if err != nil || !ok {
					if string(out) != "x" {
						t.Fatalf("%s: %v/%v changed dst to %q", o.Format, ok, err, out)
					}
				} else if !json.Valid(out[1:]) {
					t.Fatalf("%s: invalid JSON %q", o.Format, out[1:])
				}
				if k := enc.AppendKey(nil, e); !json.Valid(k) {
					t.Fatalf("%s: invalid key JSON %q", o.Format, k)
				}
			}
		}
	})
}

// FuzzDecimal checks the Decimal encoding against math/big: the base64
// bytes must be BigInteger.toByteArray of the value times 10^scale.
func FuzzDecimal(f *testing.F) {
	for _, s := range []string{"0", "-1.5", "1e3", "123456789012345678901234567890.5", "-.001", "+7", "1.", "-9223372036854775809"} {
		f.Add(s, uint8(2))
	}
	f.Fuzz(func(t *testing.T, s string, scale uint8) {
		sc := int(scale % 20)
		col := newColCodec(&event.Column{Name: "d", Type: event.TypeDecimal, Scale: sc}, false, nil)
		got, err := col.appendValue(nil, new(event.Decimal(s)))
		var rat big.Rat
		if _, ok := rat.SetString(s); !ok || strings.ContainsAny(s, "/_xXpPbBoO") || len(s) > 200 {
			return // big.Rat accepts forms PostgreSQL never writes
		}
		rat.Mul(&rat, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(sc)), nil)))
		if !rat.IsInt() {
			if err == nil {
				t.Fatalf("%q scale %d: %s, want a rescale error", s, sc, got)
			}
			return
		}
		if err != nil {
			if strings.Contains(err.Error(), "too large") {
				return
			}
			t.Fatalf("%q scale %d: %v", s, sc, err)
		}
		want := strconv.Quote(b64std(string(refUnscaled(rat.Num()))))
		if string(got) != want {
			t.Fatalf("%q scale %d: %s, want %s", s, sc, got, want)
		}
	})
}
