package format

import (
	"bytes"
	"errors"
	"testing"

	"github.com/sluice-dev/sluice/event"
)

// The parallel path must produce exactly the sequential bytes, in order.
func TestLineEncoderParallelKeepsOrder(t *testing.T) {
	events := make([]event.Event, 10007)
	for i := range events {
		e := *productEvent()
		e.After = typicalProduct(int64(i + 1))
		events[i] = e
	}
	encode := func(workers int, pieces *int) []byte {
		l, err := NewLineEncoder(Options{Format: Row, Unwrap: UnwrapOptions{DeleteHandling: "drop"}}, workers)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		for round := 0; round < 2; round++ { // buffers are reused across calls
			out.Reset()
			err := l.Encode(events, func(b []byte) error { *pieces++; out.Write(b); return nil })
			if err != nil {
				t.Fatal(err)
			}
		}
		return out.Bytes()
	}
	var p1, p3 int
	seq, par := encode(1, &p1), encode(3, &p3)
	if !bytes.Equal(seq, par) {
		t.Fatalf("parallel output differs from sequential (%d vs %d bytes)", len(par), len(seq))
	}
	if n := bytes.Count(seq, []byte("\n")); n != len(events) {
		t.Fatalf("%d lines for %d events", n, len(events))
	}
	if !bytes.HasPrefix(seq, []byte(`{"id":1,`)) || !bytes.Contains(seq, []byte("\n{\"id\":10007,")) {
		t.Fatalf("unexpected output start %q", seq[:40])
	}
}

func TestLineEncoderWriteError(t *testing.T) {
	l, _ := NewLineEncoder(DefaultOptions(), 2)
	events := make([]event.Event, 5000)
	for i := range events {
		events[i] = *productEvent()
	}
	boom := errors.New("disk full")
	if err := l.Encode(events, func([]byte) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
}

func typicalProduct(id int64) []event.Value {
	v := append([]event.Value(nil), productEvent().After...)
	v[0] = event.Int(id)
	return v
}

// The source-block cache must never serve one event's metadata to another.
func TestSourceBlockCache(t *testing.T) {
	a := *productEvent()
	b := a
	b.Source.LSN++
	c := b
	c.Source.Snapshot = event.SnapshotLast
	enc, _ := New(DefaultOptions())
	for _, e := range []*event.Event{&a, &b, &b, &c, &a} {
		got, _, err := enc.AppendValue(nil, e)
		if err != nil {
			t.Fatal(err)
		}
		fresh, _ := New(DefaultOptions())
		want, _, _ := fresh.AppendValue(nil, e)
		if !bytes.Equal(got, want) {
			t.Fatalf("cached encoder wrote\n%s\nfresh encoder wrote\n%s", got, want)
		}
	}
}
