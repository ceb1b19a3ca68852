package postgres

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/event"
)

// The snapshot's fast paths (decodeInto, parseInt64, splitPlainLine) are
// checked against the general code on many generated inputs: same values,
// same errors.

// splitCopyLineRef is splitCopyLine before the plain-line fast path: every
// field checked for a backslash on its own.
func splitCopyLineRef(line string, dst []copyField) error {
	n := 0
	for {
		end := strings.IndexByte(line, '\t')
		field := line
		if end >= 0 {
			field = line[:end]
		}
		if n >= len(dst) {
			return errCopyColumns
		}
		switch {
		case len(field) == 2 && field[0] == '\\' && field[1] == 'N':
			dst[n] = copyField{null: true}
		case strings.IndexByte(field, '\\') >= 0:
			s, err := unescapeCopy(field)
			if err != nil {
				return err
			}
			dst[n] = copyField{s: s}
		default:
			dst[n] = copyField{s: field}
		}
		n++
		if end < 0 {
			break
		}
		line = line[end+1:]
	}
	if n != len(dst) {
		return errCopyColumns
	}
	return nil
}

// checkSplit compares splitCopyLine with splitCopyLineRef on one line.
func checkSplit(t testing.TB, line string, ncols int) {
	got, want := make([]copyField, ncols), make([]copyField, ncols)
	gerr, werr := splitCopyLine(line, got), splitCopyLineRef(line, want)
	if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
		t.Fatalf("%q into %d fields: error %v, want %v", line, ncols, gerr, werr)
	}
	if gerr != nil {
		return
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%q into %d fields: field %d = %+v, want %+v", line, ncols, i, got[i], want[i])
		}
	}
}

func TestSplitCopyLineDifferential(t *testing.T) {
	for _, line := range []string{"", "a", "\t", "a\tb", "a\tb\t", "\ta\tb", "a\t\\N\tc", `a\tb`, "\\", "1\t2\t3\t4"} {
		for n := 0; n <= 5; n++ {
			checkSplit(t, line, n)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "7", "\t", "\t", "\\", "N", "x", "4", "é", " "}
	for range 60_000 {
		var b strings.Builder
		for range r.IntN(24) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		checkSplit(t, b.String(), 1+r.IntN(6))
	}
}

// checkDecode compares decodeInto (into a zero Value) with decodeText.
func checkDecode(t testing.TB, ct *colType, s string) {
	want, werr := decodeText(ct, s)
	var got event.Value
	gerr := decodeInto(&got, ct, s)
	if (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
		t.Fatalf("decoder %d, %q: error %v, want %v", ct.dec, s, gerr, werr)
	}
	if gerr != nil {
		if got != (event.Value{}) {
			t.Fatalf("decoder %d, %q: failed decode wrote %#v", ct.dec, s, got)
		}
		return
	}
	if !got.Equal(want) || got.Kind != want.Kind || got.Num != want.Num || got.Str != want.Str {
		t.Fatalf("decoder %d, %q: %#v, want %#v", ct.dec, s, got, want)
	}
}

func TestDecodeIntoDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	ints := []string{"0", "-0", "+0", "+5", "-", "", " 1", "1 ", "1_000", "0x10", "00012", "-00012",
		"999999999999999999", "-999999999999999999", "1000000000000000000", "9223372036854775807",
		"9223372036854775808", "-9223372036854775808", "-9223372036854775809", "12a", "１"}
	for range 20_000 {
		n := r.Int64() >> r.IntN(64)
		if r.IntN(2) == 0 {
			n = -n
		}
		ints = append(ints, strconv.FormatInt(n, 10))
	}
	floats := []string{"NaN", "Infinity", "-Infinity", "1e308", "1e309", "-0", "0.1", "x", "", "1.7976931348623157e+308", "4.9e-324"}
	for range 20_000 {
		floats = append(floats, strconv.FormatFloat(r.NormFloat64()*1e6, 'g', -1, 64),
			strconv.FormatFloat(r.Float64(), 'g', 17, 64))
	}
	stamps := []string{"infinity", "-infinity", "2024-01-02 03:04:05", "2024-01-02 03:04:05.123456+05:30",
		"0001-01-01 00:00:00 BC", "2024-13-01 00:00:00", "2024-01-02", "10000-01-01 00:00:00+00"}
	for range 10_000 {
		tm := time.Unix(r.Int64N(1<<36)-1<<35, r.Int64N(1e9)).UTC()
		stamps = append(stamps, tm.Format("2006-01-02 15:04:05.999999"), tm.Format("2006-01-02 15:04:05.999999-07"))
	}
	nums := []string{"NaN", "Infinity", "-Infinity", "1.5", "-0.000", "+3", "1e5", ".", "", "12.3.4", "007"}
	for range 20_000 {
		nums = append(nums, fmt.Sprintf("%d.%d", r.Int64N(1e12)-5e11, r.IntN(1e6)))
	}
	bools := []string{"t", "f", "true", "false", "", "T", "TRUE", "yes", "1", "0", "t ", "tr"}
	dates := []string{"infinity", "-infinity", "2024-02-29", "2023-02-29", "0044-03-15 BC", "0001-01-01", "5874897-12-31",
		"2024-13-01", "2024-1-1", "", "x", "2024-01-02 03:04:05", "10000-01-01"}
	for range 10_000 {
		tm := time.Unix(r.Int64N(1<<37)-1<<36, 0).UTC()
		dates = append(dates, tm.Format("2006-01-02"))
	}
	cases := map[decoder][]string{decInt: ints, decFloat64: floats, decTimestamp: stamps, decTimestampTZ: stamps,
		decNumeric: nums, decString: {"", "abc", "\x00", "é"}, decBool: bools, decDate: dates}
	for dec, inputs := range cases {
		ct := &colType{dec: dec}
		for _, s := range inputs {
			checkDecode(t, ct, s)
		}
	}
	// Every other decoder takes decodeText's path: spot-check each.
	for _, ct := range fuzzTypes {
		for _, s := range []string{"1", "t", "", "{1,2}", "$1.00", `\x00`, "P1D", "12:00:00+01", "2024-01-01"} {
			checkDecode(t, ct, s)
		}
	}
}

// TestDecodeCopyRowsErrors: a malformed line and a bad value are reported
// with their row and column.
func TestDecodeCopyRowsErrors(t *testing.T) {
	tbl := productTable()
	_, _, _, err := decodeCopyRows(productLine(0)+"\n1\tx\n", tbl, event.Source{}, 0, "", nil)
	var re *copyRowError
	if !errors.As(err, &re) || re.row != 1 || re.col != -1 || !errors.Is(err, errCopyColumns) {
		t.Fatalf("short line: %v", err)
	}
	f := strings.Split(productLine(1), "\t")
	f[5] = "three"
	bad := strings.Join(f, "\t")
	_, _, _, err = decodeCopyRows(productLine(0)+"\n"+bad+"\n", tbl, event.Source{}, 0, "", nil)
	if !errors.As(err, &re) || re.row != 1 || re.col != 5 || !errors.Is(err, errSyntax) {
		t.Fatalf("bad quantity: %v", err)
	}
}

// productTable is the benchmark's product table (cmd/sluice-bench).
func productTable() *capturedTable {
	str := func(n string) event.Column { return event.Column{Name: n, Type: event.TypeString, Optional: true} }
	return &capturedTable{
		sch: &event.Schema{Stream: "bench.public.product", Connector: "postgresql", KeyIdx: []int{0}, Columns: []event.Column{
			{Name: "id", Type: event.TypeInt32}, str("name"), {Name: "price", Type: event.TypeFloat64, Optional: true},
			str("color"), str("category"), {Name: "quantity", Type: event.TypeInt32, Optional: true}, str("description"), str("internalId"),
		}},
		types: []*colType{{dec: decInt}, {dec: decString}, {dec: decFloat64}, {dec: decString}, {dec: decString},
			{dec: decInt}, {dec: decString}, {dec: decString}},
	}
}

// productLine is row g of the benchmark's table as COPY text (about 180
// bytes; cmd/sluice-bench's fillSQL).
func productLine(g int) string {
	adj := [...]string{"Ergonomic", "Rustic", "Sleek", "Small", "Intelligent", "Handcrafted", "Gorgeous", "Practical", "Refined", "Tasty"}
	mat := [...]string{"Steel", "Wooden", "Cotton", "Granite", "Plastic", "Rubber", "Frozen", "Fresh", "Bronze", "Marble"}
	thing := [...]string{"Chair", "Table", "Shoes", "Hat", "Gloves", "Keyboard", "Bike", "Lamp", "Towels", "Soap", "Cheese", "Sausages"}
	color := [...]string{"red", "green", "blue", "black", "white", "ivory", "salmon", "turquoise", "violet", "orchid"}
	cat := [...]string{"Books", "Games", "Garden", "Health", "Home", "Jewelery", "Kids", "Music", "Outdoors", "Sports", "Toys", "Tools"}
	style := [...]string{"slim", "sturdy", "classic", "modern", "compact", "deluxe"}
	return fmt.Sprintf("%d\t%s %s %s\t%d.%02d\t%s\t%s\t%d\tThe %s design for everyday use, batch %d; ref %032x, checked in hall %d and packed\tINT-%09d",
		g+1, adj[g%10], mat[g/10%10], thing[g/100%12], g*37%1000, g%100, color[g/7%10], cat[g/13%12], g%500,
		style[g/3%6], g%977, uint64(g)*0x9E3779B97F4A7C15, g%31, g+1)
}

// BenchmarkCopyRows decodes a batch of 2,048 rows of the benchmark's table
// the way the snapshot does (split, decode, events), allocation included.
// BenchmarkDecodeIntoBoolDate: decodeInto of a boolean and a date, the
// kinds it decodes in place beside numbers, timestamps and strings.
func BenchmarkDecodeIntoBoolDate(b *testing.B) {
	vals := make([]event.Value, 2048)
	cb, cd := &colType{dec: decBool}, &colType{dec: decDate}
	for b.Loop() {
		for i := 0; i < len(vals); i += 2 {
			vals[i], vals[i+1] = event.Value{}, event.Value{}
			if err := decodeInto(&vals[i], cb, "t"); err != nil {
				b.Fatal(err)
			}
			if err := decodeInto(&vals[i+1], cd, "2024-03-15"); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// productText is n rows of productTable as COPY text, one line each.
func productText(n int) string {
	var sb strings.Builder
	for g := range n {
		sb.WriteString(productLine(g))
		sb.WriteByte('\n')
	}
	return sb.String()
}

func BenchmarkCopyRows(b *testing.B) {
	tbl := productTable()
	text := productText(2048)
	src := event.Source{TsUs: 1, Snapshot: event.SnapshotTrue, HasLSN: true, LSN: 1}
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := decodeCopyRows(text, tbl, src, 1, "0/1", nil); err != nil {
			b.Fatal(err)
		}
	}
}

// TestDecodeCopyRows: events, values and the last key, for a table that
// fits the stack array and one wider than it (split into the heap), in a
// batch with a NULL and an escape and in one without a backslash.
func TestDecodeCopyRows(t *testing.T) {
	for _, c := range []struct {
		ncols   int
		escapes bool
	}{{3, true}, {3, false}, {maxStackFields, true}, {maxStackFields, false}, {maxStackFields + 5, true}, {maxStackFields + 5, false}} {
		ncols := c.ncols
		cols := make([]event.Column, ncols)
		types := make([]*colType, ncols)
		for i := range cols {
			cols[i] = event.Column{Name: fmt.Sprintf("c%d", i), Type: event.TypeString}
			types[i] = &colType{dec: decString}
		}
		cols[0].Type, types[0] = event.TypeInt64, &colType{dec: decInt}
		tbl := &capturedTable{sch: &event.Schema{Columns: cols, KeyIdx: []int{0, ncols - 1}}, types: types}
		escapes := c.escapes
		var text strings.Builder
		want := make([][]event.Value, 3)
		for r := range want {
			want[r] = make([]event.Value, ncols)
			for c := range ncols {
				if c > 0 {
					text.WriteByte('\t')
				}
				switch {
				case c == 0:
					fmt.Fprintf(&text, "%d", -r)
					want[r][c] = event.Int(int64(-r))
				case r == 1 && c == 1 && escapes:
					text.WriteString(`\N`)
				case r == 2 && c == 1 && escapes:
					text.WriteString(`a\tb`)
					want[r][c] = event.String("a\tb")
				default:
					fmt.Fprintf(&text, "r%dc%d", r, c)
					want[r][c] = event.String(fmt.Sprintf("r%dc%d", r, c))
				}
			}
			text.WriteByte('\n')
		}
		src := event.Source{TsUs: 7, Snapshot: event.SnapshotTrue, LSN: 9, HasLSN: true}
		evs, key, size, err := decodeCopyRows(text.String(), tbl, src, 5, "0/9", nil)
		if err != nil {
			t.Fatal(err)
		}
		// The size handed to the engine (component.SizedEmitter) is
		// event.Size summed, which the engine would take otherwise.
		var wantSize int64
		for i := range evs {
			wantSize += int64(evs[i].Size())
		}
		if size != wantSize || size == 0 {
			t.Errorf("%d columns: size %d, want %d (event.Size summed)", ncols, size, wantSize)
		}
		if len(evs) != len(want) {
			t.Fatalf("%d columns: %d events, want %d", ncols, len(evs), len(want))
		}
		for r, e := range evs {
			if e.Op != event.OpRead || e.Schema != tbl.sch || e.Source != src || e.TsMs != 5 || e.Position != "0/9" || e.Before != nil {
				t.Errorf("%d columns: event %d = %+v", ncols, r, e)
			}
			for c := range want[r] {
				if !e.After[c].Equal(want[r][c]) {
					t.Errorf("%d columns: event %d column %d = %#v, want %#v", ncols, r, c, e.After[c], want[r][c])
				}
			}
		}
		if wk := []string{"-2", fmt.Sprintf("r2c%d", ncols-1)}; len(key) != 2 || key[0] != wk[0] || key[1] != wk[1] {
			t.Errorf("%d columns: last key %q, want %q", ncols, key, wk)
		}
	}
}

// TestParseNumbersDifferential: parseInt64 and parseFloat64 give exactly
// what strconv gives (the same bits, -0 included), and fail where it fails.
func TestParseNumbersDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var inputs []string
	for _, s := range []string{"", "-", "+", ".", "-.", "0", "-0", "-0.0", "0.", ".5", "-.5", "1.", "+1", "1e5",
		"1..2", "1.2.3", "NaN", "Infinity", "-Infinity", "inf", "0x1p3", "1_0", " 1", "１",
		"999999999999999", "9999999999999999", "0.000000000000001", "123456789012345.", "1234567890123456",
		"9007199254740993", "0.1", "0.3", "123.45", "9223372036854775807", "-9223372036854775808", "9223372036854775808"} {
		inputs = append(inputs, s)
	}
	digits := "0123456789"
	for range 100_000 {
		var b strings.Builder
		if r.IntN(3) == 0 {
			b.WriteByte('-')
		}
		n := 1 + r.IntN(20)
		dot := r.IntN(n + 3)
		for i := range n {
			if i == dot {
				b.WriteByte('.')
			}
			b.WriteByte(digits[r.IntN(10)])
		}
		inputs = append(inputs, b.String())
	}
	for range 30_000 {
		f := math.Float64frombits(r.Uint64())
		g := r.NormFloat64() * math.Pow(10, float64(r.IntN(30)-12))
		inputs = append(inputs, strconv.FormatFloat(f, 'g', -1, 64), strconv.FormatFloat(g, 'g', -1, 64),
			strconv.FormatFloat(g, 'f', -1, 64), strconv.FormatFloat(math.Round(g*100)/100, 'f', -1, 64))
	}
	for _, s := range inputs {
		wf, werr := strconv.ParseFloat(s, 64)
		gf, ok := parseFloat64(s)
		if ok != (werr == nil) || (ok && math.Float64bits(gf) != math.Float64bits(wf)) {
			t.Fatalf("parseFloat64(%q) = %v, %v; strconv: %v, %v", s, gf, ok, wf, werr)
		}
		wi, werr := strconv.ParseInt(s, 10, 64)
		gi, ok := parseInt64(s)
		if ok != (werr == nil) || (ok && gi != wi) {
			t.Fatalf("parseInt64(%q) = %v, %v; strconv: %v, %v", s, gi, ok, wi, werr)
		}
	}
}

// FuzzFastPaths: the number parsers agree with strconv, decodeInto with
// decodeText, and splitCopyLine with the reference split, on any input.
func FuzzFastPaths(f *testing.F) {
	for _, s := range []string{"123.45", "-0", "1e5", "9007199254740993", "a\tb\t\\N", "2024-01-02 03:04:05+00"} {
		f.Add(uint8(3), s)
	}
	f.Fuzz(func(t *testing.T, n uint8, s string) {
		wf, werr := strconv.ParseFloat(s, 64)
		if gf, ok := parseFloat64(s); ok != (werr == nil) || (ok && math.Float64bits(gf) != math.Float64bits(wf)) {
			t.Fatalf("parseFloat64(%q) = %v, %v; strconv: %v, %v", s, gf, ok, wf, werr)
		}
		wi, werr := strconv.ParseInt(s, 10, 64)
		if gi, ok := parseInt64(s); ok != (werr == nil) || (ok && gi != wi) {
			t.Fatalf("parseInt64(%q) = %v, %v; strconv: %v, %v", s, gi, ok, wi, werr)
		}
		checkDecode(t, fuzzTypes[int(n)%len(fuzzTypes)], s)
		checkSplit(t, s, int(n%8))
	})
}

// TestDecodeCopyRowsSize: the size decodeCopyRows hands the engine
// (component.SizedEmitter) is exactly event.Size summed over its events,
// with NULLs, escapes, strings, and arrays (nested, of strings) among them.
func TestDecodeCopyRowsSize(t *testing.T) {
	cols := []event.Column{{Name: "id", Type: event.TypeInt64}, {Name: "s", Type: event.TypeString},
		{Name: "a", Type: event.TypeString}, {Name: "b", Type: event.TypeString}}
	types := []*colType{{dec: decInt}, {dec: decString},
		{dec: decArray, elem: &colType{dec: decInt}, delim: ','},
		{dec: decArray, elem: &colType{dec: decString}, delim: ','}}
	tbl := &capturedTable{sch: &event.Schema{Columns: cols, KeyIdx: []int{0}}, types: types}
	text := "1\tplain\t{1,2,3}\t{x,\"y z\"}\n" +
		"2\t\\N\t{{1,2},{3,4}}\t\\N\n" +
		"3\ta\\tb\t{}\t{\"\",NULL,long-enough-string}\n"
	evs, _, size, err := decodeCopyRows(text, tbl, event.Source{}, 1, "0/16B3748", nil)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	for i := range evs {
		want += int64(evs[i].Size())
	}
	if len(evs) != 3 || size != want {
		t.Fatalf("%d events, size %d; want 3 events of size %d (event.Size summed)", len(evs), size, want)
	}
	// Multidimensional arrays are flattened, as Debezium writes them.
	if n0, n1 := len(evs[0].After[2].Elems()), len(evs[1].After[2].Elems()); n0 != 3 || n1 != 4 {
		t.Fatalf("arrays of %d and %d elements, want 3 and 4", n0, n1)
	}
}
