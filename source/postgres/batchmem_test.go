package postgres

import (
	"reflect"
	"strings"
	"testing"
	"unsafe"

	"github.com/sluice-dev/sluice/event"
)

// recycleTable has an int key, a string, and arrays (whose elements are
// allocated apart from the slabs).
func recycleTable() *capturedTable {
	cols := []event.Column{{Name: "id", Type: event.TypeInt64}, {Name: "s", Type: event.TypeString},
		{Name: "a", Type: event.TypeString}, {Name: "b", Type: event.TypeString}}
	types := []*colType{{dec: decInt}, {dec: decString},
		{dec: decArray, elem: &colType{dec: decInt}, delim: ','},
		{dec: decArray, elem: &colType{dec: decString}, delim: ','}}
	return &capturedTable{sch: &event.Schema{Columns: cols, KeyIdx: []int{0}}, types: types}
}

// poison fills a released batch's memory with garbage, as a next batch's
// writes would: the text bytes, every event and every value of its slabs.
func poison(m *batchMem) {
	for i := range m.text[:cap(m.text)] {
		m.text[:cap(m.text)][i] = 0xFF
	}
	junk := []event.Value{event.String("junk"), event.Int(-7)}
	for i := range m.evs {
		m.evs[i] = event.Event{Op: 'x', Before: junk, After: junk, Position: "junk", TsMs: -1}
	}
	for _, s := range m.slabs {
		for i := range s[:cap(s)] {
			s[:cap(s)][i] = event.String("junk")
		}
	}
}

// decodeRecycled decodes text as the copyBatcher does, in memory from the
// pool, and returns the batch's memory with the results.
func decodeRecycled(p *batchPool, text string, tbl *capturedTable) (*batchMem, []event.Event, []string, int64, error) {
	m := p.mem()
	m.text = append(p.text(len(text)), text...)
	s := ""
	if len(m.text) > 0 {
		s = unsafe.String(&m.text[0], len(m.text))
	}
	evs, key, size, err := decodeCopyRows(s, tbl, event.Source{TsUs: 3, LSN: 5, HasLSN: true}, 2, "lsn 0/5", m)
	return m, evs, key, size, err
}

// checkRecycled decodes a, poisons and releases its memory, decodes b in
// the recycled memory, and compares with b decoded in fresh memory: the
// same events, key, size and error, and a's key unchanged by the reuse.
func checkRecycled(t testing.TB, a, b string) {
	tbl := recycleTable()
	p := newBatchPool()
	m, _, keyA, _, err := decodeRecycled(p, a, tbl)
	if err != nil {
		return
	}
	keyA0 := strings.Clone(strings.Join(keyA, "\x00"))
	poison(m)
	m.release()
	m2, got, gotKey, gotSize, gotErr := decodeRecycled(p, b, tbl)
	want, wantKey, wantSize, wantErr := decodeCopyRows(b, tbl, event.Source{TsUs: 3, LSN: 5, HasLSN: true}, 2, "lsn 0/5", nil)
	if m2 != m {
		t.Fatal("the released batchMem was not reused")
	}
	if (gotErr == nil) != (wantErr == nil) || (gotErr != nil && gotErr.Error() != wantErr.Error()) {
		t.Fatalf("recycled decode of %q: error %v, fresh %v", b, gotErr, wantErr)
	}
	if gotErr != nil {
		return
	}
	if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotKey, wantKey) || gotSize != wantSize {
		t.Fatalf("recycled decode of %q:\n got %+v key %q size %d\nwant %+v key %q size %d", b, got, gotKey, gotSize, want, wantKey, wantSize)
	}
	if strings.Join(keyA, "\x00") != keyA0 {
		t.Fatalf("the first batch's key %q changed when its text was reused", keyA)
	}
}

// TestDecodeRecycled: a batch decoded in released, poisoned memory is the
// batch decoded in fresh memory (decodeInto needs zero values, so a slab
// that is not cleared leaves the poison in NULL columns), and the key kept
// for the checkpoint is a copy (it would read the poison otherwise).
func TestDecodeRecycled(t *testing.T) {
	a := "1\tplain\t{1,2,3}\t{x,\"y z\"}\n2\t\\N\t{{1,2},{3,4}}\t\\N\n3\ta\\tb\t{}\t{\"\",NULL,s}\n"
	b := "4\t\\N\t\\N\t\\N\n5\tfive\t{5}\t{v}\n"
	checkRecycled(t, a, b)
	checkRecycled(t, b, a)
	checkRecycled(t, strings.Repeat(a, 200), b) // several slabs, then one
	checkRecycled(t, b, strings.Repeat(a, 200))
}

// FuzzDecodeRecycled: decoding in recycled memory gives what decoding in
// fresh memory gives, on any pair of inputs.
func FuzzDecodeRecycled(f *testing.F) {
	f.Add("1\tx\t{1}\t{a}\n", "2\t\\N\t\\N\t\\N\n")
	f.Add("1\tx\t{1}\t{a}\n2\ty\t{}\t{}\n", "3\tz\\n\t{1,2}\t{\"b c\"}\n")
	f.Fuzz(func(t *testing.T, a, b string) {
		if !strings.HasSuffix(a, "\n") || !strings.HasSuffix(b, "\n") {
			return // the batcher hands over whole lines only
		}
		checkRecycled(t, a, b)
	})
}

// TestCopyTextRecycles: a buffer handed out with a batch is not reused
// until the batch is released; a released one is; and the buffer of a
// batch handed out as a copy goes back to the pool at once.
func TestCopyTextRecycles(t *testing.T) {
	row := strings.Repeat("x", 999) + "\n"
	ct := copyText{pool: newBatchPool()}
	for range 3 {
		ct.write([]byte(row))
	}
	s1, b1 := ct.cut()
	if b1 == nil || unsafe.StringData(s1) != unsafe.SliceData(b1) {
		t.Fatal("a full batch was not handed out with its buffer")
	}
	for range 3 {
		ct.write([]byte(row))
	}
	s2, b2 := ct.cut()
	if unsafe.SliceData(b2) == unsafe.SliceData(b1) {
		t.Fatal("a buffer was reused while its batch was not released")
	}
	if s1 != strings.Repeat(row, 3) || s2 != s1 {
		t.Fatal("batches changed")
	}
	ct.pool.putText(b1) // the engine released batch 1
	for range 3 {
		ct.write([]byte(row))
	}
	_, b3 := ct.cut()
	if unsafe.SliceData(b3) != unsafe.SliceData(b1) {
		t.Fatal("the released buffer was not reused")
	}
	ct.write([]byte("1\tshort\n"))
	bShort := unsafe.SliceData(ct.b)
	s4, b4 := ct.cut()
	if b4 != nil || s4 != "1\tshort\n" {
		t.Fatalf("a short batch: %q, buffer %v; want a copy", s4, b4 != nil)
	}
	ct.write([]byte(row))
	if unsafe.SliceData(ct.b) != bShort {
		t.Fatal("the buffer of a batch handed out as a copy did not go back to the pool")
	}
}

// BenchmarkCopyRowsRecycled is BenchmarkCopyRows with each batch's memory
// released and reused, as the engine's release lets the snapshot do.
func BenchmarkCopyRowsRecycled(b *testing.B) {
	tbl := productTable()
	text := productText(2048)
	src := event.Source{TsUs: 1, Snapshot: event.SnapshotTrue, HasLSN: true, LSN: 1}
	p := newBatchPool()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		m := p.mem()
		if _, _, _, err := decodeCopyRows(text, tbl, src, 1, "0/1", m); err != nil {
			b.Fatal(err)
		}
		m.release()
	}
}

// A released batch goes to the pool zeroed: its events and every value of
// its slabs (which would otherwise point at the old rows' text while they
// wait on the free list), and the next batch decodes into that memory as
// into fresh memory (checkRecycled). A batch released into a full pool is
// left as it is, for the garbage collector.
func TestReleaseZeroes(t *testing.T) {
	p := newBatchPool()
	m, evs, _, _, err := decodeRecycled(p, "1\tone\t{1,2}\t{a,b}\n2\ttwo\t{3}\t{c}\n", recycleTable())
	if err != nil || len(evs) != 2 {
		t.Fatalf("decode: %d events, %v", len(evs), err)
	}
	m.release()
	for i, e := range m.evs[:cap(m.evs)] {
		if !reflect.ValueOf(e).IsZero() {
			t.Fatalf("released event %d is not zero: %+v", i, e)
		}
	}
	if len(m.slabs) == 0 {
		t.Fatal("the batch used no slab")
	}
	for _, s := range m.slabs {
		for i, v := range s[:cap(s)] {
			if v != (event.Value{}) {
				t.Fatalf("released value %d is not zero: %+v", i, v)
			}
		}
	}
	for len(p.mems) < cap(p.mems) {
		p.mems <- &batchMem{pool: p}
	}
	m2, _, _, _, err := decodeRecycled(newBatchPool(), "3\tthree\t{4}\t{d}\n", recycleTable())
	if err != nil {
		t.Fatal(err)
	}
	m2.pool = p
	m2.release()
	if m2.evs[0].After == nil {
		t.Fatal("a batch released into a full pool was zeroed")
	}
}
