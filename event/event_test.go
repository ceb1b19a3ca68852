package event

import (
	"fmt"
	"testing"
	"unsafe"
)

func TestWhere(t *testing.T) {
	sch := &Schema{Stream: "pg.public.t"}
	cases := []struct {
		e    Event
		want string
	}{
		{Event{Op: OpCreate, Schema: sch, Source: Source{LSN: 0x16B3748, HasLSN: true}}, "c pg.public.t at lsn 0/16B3748"},
		{Event{Op: OpUpdate, Schema: sch, Source: Source{LSN: 0x1_0000_00FF, HasLSN: true}}, "u pg.public.t at lsn 1/FF"},
		{Event{Op: OpDelete, Schema: sch, Source: Source{TxID: 42, HasTxID: true}}, "d pg.public.t at tx 42"},
		{Event{Op: OpRead, Schema: sch, Position: "gen 7", Source: Source{LSN: 1, HasLSN: true}}, "r pg.public.t at gen 7"},
		{Event{Op: OpRead, Schema: sch}, "r pg.public.t at unknown position"},
	}
	for _, c := range cases {
		if got := c.e.String(); got != c.want {
			t.Errorf("got %q want %q", got, c.want)
		}
	}
}

func TestKey(t *testing.T) {
	sch := &Schema{Columns: []Column{{Name: "a"}, {Name: "b"}}, KeyIdx: []int{1}}
	e := Event{Schema: sch, Before: []Value{Int(1), String("k")}}
	if k := e.Key(); len(k) != 1 || !k[0].Equal(String("k")) {
		t.Fatalf("key %v", k)
	}
	if (&Event{Schema: &Schema{}}).Key() != nil {
		t.Fatal("keyless table has a key")
	}
}

func TestValueSize(t *testing.T) {
	if n := unsafe.Sizeof(Value{}); n != 40 {
		t.Fatalf("event.Value is %d bytes; rows are slices of it, keep it at 40", n)
	}
	a := Array([]Value{Int(1), Null})
	if len(a.Elems()) != 2 || !a.Equal(Array([]Value{Int(1), Null})) || a.Equal(Array([]Value{Int(1)})) || Int(1).Elems() != nil {
		t.Fatal("array accessors")
	}
}

func TestEventSize(t *testing.T) {
	if n := unsafe.Sizeof(Event{}); n != 152 {
		t.Fatalf("event.Event is %d bytes; keep the flags packed (152)", n)
	}
}

func TestSeqMongoDBOrdersChangesOfOneTransaction(t *testing.T) {
	s := &Schema{Connector: "mongodb", SeqByRow: true}
	ct := uint64(1700000000)<<32 | 7
	a := Event{Schema: s, Source: Source{CommitLSN: ct, LSN: ct, HasLSN: true, Row: 0}}
	b := Event{Schema: s, Source: Source{CommitLSN: ct, LSN: ct, HasLSN: true, Row: 1}}
	if got := a.Seq().Compare(b.Seq()); got != -1 {
		t.Fatalf("first change of a transaction compares %d to the second, want -1", got)
	}
	if got, want := b.Seq(), (Seq{Hi: ct, Lo: 1}); got != want {
		t.Fatalf("Seq = %+v, want %+v", got, want)
	}
	if v, ok := a.Version(); !ok || v != int64(ct) {
		t.Fatalf("Version = %d, %v; want the cluster time %d", v, ok, ct)
	}
}

// TestVersionIncrementalSnapshot: snapshot rows are version 1, below any
// change, except incremental snapshot rows whose source vouches for a
// position (CommitLSN), which replace an outdated copy; Seq stays zero.
func TestVersionIncrementalSnapshot(t *testing.T) {
	for _, tc := range []struct {
		src  Source
		want int64
	}{
		{Source{Snapshot: SnapshotTrue, LSN: 500, HasLSN: true}, 1},
		{Source{Snapshot: SnapshotIncremental, LSN: 500, HasLSN: true}, 1},
		{Source{Snapshot: SnapshotIncremental, LSN: 500, CommitLSN: 400, HasLSN: true}, 400},
		{Source{Snapshot: SnapshotLast, LSN: 500, CommitLSN: 400, HasLSN: true}, 1},
		{Source{LSN: 500, CommitLSN: 600, HasLSN: true}, 500},
	} {
		e := Event{Schema: &Schema{}, Source: tc.src}
		if v, ok := e.Version(); !ok || v != tc.want {
			t.Errorf("%+v: Version = %d, %v; want %d", tc.src, v, ok, tc.want)
		}
		if tc.src.Snapshot != SnapshotFalse && !e.Seq().IsZero() {
			t.Errorf("%+v: Seq = %+v, want zero", tc.src, e.Seq())
		}
	}
}

// AppendWhere writes, without fmt, exactly what Where wrote with it.
func TestAppendWhere(t *testing.T) {
	sprintf := func(e *Event) string { // Where before AppendWhere
		switch {
		case e.Position != "":
			return e.Position
		case e.Source.Binlog != nil:
			return fmt.Sprintf("binlog %s:%d row %d", e.Source.Binlog.File, e.Source.Binlog.Pos, e.Source.Row)
		case e.Source.HasLSN:
			return fmt.Sprintf("lsn %X/%X", e.Source.LSN>>32, uint32(e.Source.LSN))
		case e.Source.HasTxID:
			return fmt.Sprintf("tx %d", e.Source.TxID)
		}
		return "unknown position"
	}
	events := []Event{
		{Source: Source{LSN: 0, HasLSN: true}},
		{Source: Source{LSN: 0x16B3748, HasLSN: true}},
		{Source: Source{LSN: 0xFFFF_FFFF_FFFF_FFFF, HasLSN: true}},
		{Source: Source{LSN: 0xABCDEF01_00000A0B, HasLSN: true, TxID: 9, HasTxID: true}},
		{Source: Source{TxID: 42, HasTxID: true}},
		{Source: Source{TxID: -7, HasTxID: true}},
		{Source: Source{Binlog: &Binlog{File: "mysql-bin.000003", Pos: 18446744073709551615}, Row: -2}},
		{Source: Source{Binlog: &Binlog{File: "b.1", Pos: 4}, Row: 2147483647, LSN: 5, HasLSN: true}},
		{Position: "gen 7", Source: Source{LSN: 1, HasLSN: true}},
		{},
	}
	for i := range events {
		e := &events[i]
		want := sprintf(e)
		if got := string(e.AppendWhere([]byte("x"))); got != "x"+want {
			t.Errorf("AppendWhere %q, want %q", got, "x"+want)
		}
		if got := e.Where(); got != want {
			t.Errorf("Where %q, want %q", got, want)
		}
	}
}
