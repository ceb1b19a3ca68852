package main

import (
	"bytes"
	"testing"
)

// counts feeds text to a rowCounter in the given chunks.
func counts(chunks ...string) [3]int {
	var w rowCounter
	for _, c := range chunks {
		if n, err := w.Write([]byte(c)); n != len(c) || err != nil {
			panic("rowCounter.Write must take everything")
		}
	}
	return w.n
}

const binlogSample = `# at 4
#241121 19:40:51 server id 1  end_log_pos 256 CRC32 0x1 	Write_rows: table id 20 flags: STMT_END_F
### INSERT INTO ` + "`sluice_test`.`product`" + `
### SET
###   @1=1
### UPDATE ` + "`sluice_test`.`product`" + `
### WHERE
###   @1=1
### SET
###   @1=1
### DELETE FROM ` + "`sluice_test`.`product`" + `
### WHERE
###   @1=1
### INSERT INTO ` + "`sluice_test`.`product`" + `
# ### INSERT INTO is not at the start of a line
`

func TestRowCounter(t *testing.T) {
	want := [3]int{2, 1, 1}
	if got := counts(binlogSample); got != want {
		t.Fatalf("one write: %v, want %v", got, want)
	}
	// Split at every byte: a line cut between writes counts once.
	for i := range len(binlogSample) + 1 {
		if got := counts(binlogSample[:i], binlogSample[i:]); got != want {
			t.Fatalf("split at %d (%q): %v, want %v", i, binlogSample[:i], got, want)
		}
	}
	// A last line without a newline is not counted: the tool ends every line.
	if got := counts("### INSERT INTO `a`.`b`"); got != [3]int{} {
		t.Fatalf("unterminated line counted: %v", got)
	}
}

// FuzzRowCounter: any split of any input counts what one write counts, and
// the carried partial line never exceeds the longest line.
func FuzzRowCounter(f *testing.F) {
	f.Add([]byte(binlogSample), 10)
	f.Add([]byte("### UPDATE x\n### DELETE FROM y\n"), 5)
	f.Add([]byte("\n\n### \n"), 0)
	f.Fuzz(func(t *testing.T, in []byte, cut int) {
		if cut < 0 || cut > len(in) {
			cut = len(in) / 2
		}
		whole := counts(string(in))
		if got := counts(string(in[:cut]), string(in[cut:])); got != whole {
			t.Fatalf("split at %d: %v, one write: %v", cut, got, whole)
		}
		var w rowCounter
		w.Write(in)
		longest := 0
		for line := range bytes.Lines(in) {
			longest = max(longest, len(line))
		}
		if len(w.partial) > longest {
			t.Fatalf("partial holds %d bytes, longest line %d", len(w.partial), longest)
		}
	})
}
