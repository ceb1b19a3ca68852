package postgres

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"
)

// TestCopyTextCuts: copyText hands out exactly the whole rows written, in
// order, whatever the pieces (a row split over writes, several rows in
// one, a row longer than every batch before it), and a string once handed
// out never changes while later batches are gathered: its bytes are the
// decoder's events' strings until every sink has written them, so a
// buffer reused after its cut would rewrite them.
func TestCopyTextCuts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var in strings.Builder
	for i := range 500 {
		n := 1 + rng.IntN(200)
		if i == 400 {
			n = 50_000 // longer than any batch so far
		}
		fmt.Fprintf(&in, "%d\t%s\n", i, strings.Repeat(string(rune('a'+i%26)), n))
	}
	input := in.String()

	var ct copyText
	if s, _ := ct.cut(); s != "" || ct.endsInsideRow() {
		t.Fatalf("empty copyText: cut %q, endsInsideRow %v", s, ct.endsInsideRow())
	}
	type handed struct{ s, copy string }
	var got []handed
	rest := input
	for len(rest) > 0 {
		n := min(len(rest), 1+rng.IntN(700))
		ct.write([]byte(rest[:n]))
		rest = rest[n:]
		if rng.IntN(3) == 0 {
			if s, _ := ct.cut(); s != "" {
				got = append(got, handed{s, strings.Clone(s)})
			}
		}
	}
	if ct.endsInsideRow() {
		t.Fatal("endsInsideRow after the whole input")
	}
	if s, _ := ct.cut(); s != "" {
		got = append(got, handed{s, strings.Clone(s)})
	}
	if ct.len() != 0 {
		t.Fatalf("%d bytes left after the last cut", ct.len())
	}
	var all strings.Builder
	for i, h := range got {
		if h.s != h.copy {
			t.Fatalf("batch %d changed after it was handed out:\n got %.80q\nwant %.80q", i, h.s, h.copy)
		}
		if !strings.HasSuffix(h.s, "\n") {
			t.Fatalf("batch %d does not end with a whole row: %.80q", i, h.s[max(0, len(h.s)-80):])
		}
		all.WriteString(h.s)
	}
	if all.String() != input {
		t.Fatalf("the batches' concatenation (%d bytes) is not the input (%d bytes)", all.Len(), len(input))
	}
	if len(got) < 50 {
		t.Fatalf("only %d batches: the test did not cut often", len(got))
	}
}

// TestCopyTextPartialRow: a cut keeps the partial row after the last
// newline for the next batch, and reports a text that ends inside a row.
func TestCopyTextPartialRow(t *testing.T) {
	var ct copyText
	ct.write([]byte("1\ta\n2\tb"))
	if !ct.endsInsideRow() {
		t.Fatal("endsInsideRow = false for \"1\\ta\\n2\\tb\"")
	}
	if s, _ := ct.cut(); s != "1\ta\n" {
		t.Fatalf("cut = %q, want %q", s, "1\ta\n")
	}
	if s, _ := ct.cut(); s != "" {
		t.Fatalf("cut of a partial row = %q, want \"\"", s)
	}
	ct.write([]byte("b\n3"))
	ct.write([]byte("\tc\n"))
	if ct.endsInsideRow() {
		t.Fatal("endsInsideRow = true after whole rows")
	}
	if s, _ := ct.cut(); s != "2\tbb\n3\tc\n" {
		t.Fatalf("cut = %q, want %q", s, "2\tbb\n3\tc\n")
	}
}

// TestCopyTextAliasesFullBatches: a batch that fills its buffer is handed
// out as the buffer's own bytes (no copy of the batch); one that fills
// less than half of it (a chunk's short last batch, after long ones) is
// copied, so the events do not keep the buffer's slack alive; and a
// buffer starts at the largest batch so far.
func TestCopyTextAliasesFullBatches(t *testing.T) {
	row := strings.Repeat("x", 999) + "\n"
	var ct copyText
	for range 3 {
		ct.write([]byte(row))
	}
	data := unsafe.SliceData(ct.b)
	if s, _ := ct.cut(); s != strings.Repeat(row, 3) || unsafe.StringData(s) != data {
		t.Fatalf("a full batch was copied (or changed): %d bytes, aliased %v", len(s), unsafe.StringData(s) == data)
	}
	ct.write([]byte(row))
	if c := cap(ct.b); c < 3000 {
		t.Fatalf("the next buffer has capacity %d, want at least the last batch's 3000", c)
	}
	ct.write([]byte(row))
	ct.write([]byte(row))
	data = unsafe.SliceData(ct.b)
	if s, _ := ct.cut(); s != strings.Repeat(row, 3) || unsafe.StringData(s) != data {
		t.Fatalf("a batch as long as the last was copied (or changed): %d bytes, aliased %v", len(s), unsafe.StringData(s) == data)
	}
	ct.write([]byte("1\tshort\n"))
	data = unsafe.SliceData(ct.b)
	if s, _ := ct.cut(); s != "1\tshort\n" || unsafe.StringData(s) == data {
		t.Fatalf("a batch using under half of its buffer was not copied (or changed): %q, aliased %v", s, unsafe.StringData(s) == data)
	}
}
