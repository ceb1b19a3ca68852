package topiclog

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// openLog opens a log in dir and closes it at the end of the test.
func openLog(t *testing.T, dir string, opts Options) *Log {
	t.Helper()
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// smallTopic is a config whose segments hold a few records each.
func smallTopic(segment int64) TopicConfig {
	return TopicConfig{SegmentBytes: segment}
}

func create(t *testing.T, l *Log, name string, cfg TopicConfig) *Topic {
	t.Helper()
	tp, err := l.CreateTopic(name, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// rec is record i of a test: key k<i>, value v<i> padded to pad bytes,
// two headers; every 7th is a tombstone, every 5th has a null key.
func rec(i, pad int) Record {
	r := Record{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d-%s", i, bytes.Repeat([]byte("x"), pad)),
		Headers: []Header{{Key: "h", Value: fmt.Appendf(nil, "%d", i)}, {Key: "null", Value: nil}}, Timestamp: int64(1000 + i)}
	if i%7 == 6 {
		r.Value = nil
	}
	if i%5 == 4 {
		r.Key = nil
	}
	return r
}

func recs(from, n, pad int) []Record {
	out := make([]Record, n)
	for i := range out {
		out[i] = rec(from+i, pad)
	}
	return out
}

func appendT(t *testing.T, tp *Topic, rs []Record) int64 {
	t.Helper()
	first, err := tp.Append(rs)
	if err != nil {
		t.Fatal(err)
	}
	return first
}

// readAll reads tp from offset to its end.
func readAll(t *testing.T, tp *Topic, from int64) []Record {
	t.Helper()
	out, err := readAllErr(tp, from)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readAllErr(tp *Topic, from int64) ([]Record, error) {
	r := tp.NewReader(from)
	defer r.Close()
	_, end, err := tp.Offsets()
	if err != nil {
		return nil, err
	}
	var out []Record
	for r.Offset() < end {
		n := len(out)
		if out, err = r.Read(out, 13, 1<<20); err != nil {
			return out, err
		}
		if len(out) == n {
			return out, fmt.Errorf("no progress at offset %d of %d", r.Offset(), end)
		}
	}
	return out, nil
}

// checkRecords fails unless got are records from..from+len(got)-1 of the
// test, with their offsets.
func checkRecords(t *testing.T, got []Record, from, want, pad int) {
	t.Helper()
	if len(got) != want {
		t.Fatalf("%d records, want %d", len(got), want)
	}
	for i, g := range got {
		w := rec(from+i, pad)
		if g.Offset != int64(from+i) || !equalRecord(g, w) {
			t.Fatalf("record %d: got offset %d %s, want %d %s", i, g.Offset, show(g), from+i, show(w))
		}
	}
}

func equalRecord(a, b Record) bool {
	if a.Timestamp != b.Timestamp || (a.Key == nil) != (b.Key == nil) || (a.Value == nil) != (b.Value == nil) ||
		!bytes.Equal(a.Key, b.Key) || !bytes.Equal(a.Value, b.Value) || len(a.Headers) != len(b.Headers) {
		return false
	}
	for i := range a.Headers {
		x, y := a.Headers[i], b.Headers[i]
		if x.Key != y.Key || (x.Value == nil) != (y.Value == nil) || !bytes.Equal(x.Value, y.Value) {
			return false
		}
	}
	return true
}

func show(r Record) string {
	v := fmt.Sprintf("%.20q", r.Value)
	if r.Value == nil {
		v = "null"
	}
	return fmt.Sprintf("{ts %d key %q value %s headers %d}", r.Timestamp, r.Key, v, len(r.Headers))
}

// segments lists the topic's segment files.
func segments(t *testing.T, tp *Topic) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(tp.dir, "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// reopen closes l and opens its directory again (a restart).
func reopen(t *testing.T, l *Log, opts Options) *Log {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return openLog(t, l.Dir(), opts)
}

// clock is a settable clock.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }
