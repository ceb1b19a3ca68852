package sqlpoll

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
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
