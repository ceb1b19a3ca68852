package sqlpoll

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// TestTextArena: every string the arena hands out keeps its text after the
// caller's buffer is overwritten and after later strings fill the chunk and
// the next ones, empty text is "", and a value past arenaMax is a copy of
// its own.
func TestTextArena(t *testing.T) {
	var a textArena
	src := make([]byte, 0, arenaMax+1) // one buffer, reused as a driver does
	var got, want []string
	for i := 0; len(want) < 3*arenaChunk/10; i++ {
		src = append(src[:0], "value "+strconv.Itoa(i)...)
		got = append(got, a.str(src))
		want = append(want, "value "+strconv.Itoa(i))
		for j := range src {
			src[j] = '#'
		}
	}
	src = append(src[:0], bytes.Repeat([]byte{'x'}, arenaMax+1)...)
	big := a.str(src)
	src[0] = '#'
	if big != strings.Repeat("x", arenaMax+1) {
		t.Errorf("a value past arenaMax changed with its source buffer")
	}
	if s := a.str(src[:0]); s != "" {
		t.Errorf("empty text = %q", s)
	}
	got = append(got, a.str([]byte("after")))
	want = append(want, "after")
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("string %d = %q, want %q", i, got[i], want[i])
		}
	}
	if n := testing.AllocsPerRun(100, func() { a.str([]byte("some text of a row")) }); n > 0.01 {
		t.Errorf("%.2f allocations per value, want one per chunk", n)
	}
}

// put must leave in a NULL exactly the value a whole copy leaves: the row
// images are built with it.
func TestPutIsCopy(t *testing.T) {
	for _, v := range []event.Value{
		event.Null, event.Int(-7), event.Int(0), event.Float(1.5), event.Bool(true), event.Bool(false),
		event.String(""), event.String("héllo"), event.Decimal("12.30"), event.Bytes([]byte{0, 1}),
		event.Array([]event.Value{event.Int(1), event.String("x")}), event.Interval(5, "PT0.000005S"),
	} {
		var got event.Value
		put(&got, v)
		if !got.Equal(v) || got.Kind != v.Kind || len(got.Elems()) != len(v.Elems()) {
			t.Errorf("put(%#v) left %#v", v, got)
		}
	}
}
