package postgres

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/event"
)

// scriptConn is a net.Conn whose reads return the scripted chunks and
// errors in order, then io.EOF.
type scriptConn struct {
	net.Conn // nil: only Read is used
	steps    []scriptRead
	reads    int // calls of Read
}

type scriptRead struct {
	data string
	err  error
}

func (c *scriptConn) Read(p []byte) (int, error) {
	c.reads++
	if len(c.steps) == 0 {
		return 0, io.EOF
	}
	s := c.steps[0]
	n := copy(p, s.data)
	if n < len(s.data) {
		c.steps[0].data = s.data[n:]
		return n, nil
	}
	c.steps = c.steps[1:]
	return n, s.err
}

// TestReadConn: reads of any size get the bytes in order, one network read
// serves reads until its bytes are used up, an error that came with data
// is returned once those bytes are read, and a timeout without data goes
// straight to the caller and the connection stays usable.
func TestReadConn(t *testing.T) {
	timeout := os.ErrDeadlineExceeded
	broken := errors.New("connection reset")
	sc := &scriptConn{steps: []scriptRead{
		{data: "abcdefghij"},
		{err: timeout},
		{data: "klm", err: broken},
		{data: "nop"},
	}}
	c := newReadConn(sc)
	var got []string
	read := func(n int) {
		t.Helper()
		p := make([]byte, n)
		k, err := c.Read(p)
		s := string(p[:k])
		if err != nil {
			s += "|" + err.Error()
		}
		got = append(got, s)
	}
	read(4)
	read(4)
	if sc.reads != 1 || c.reads.Load() != 1 {
		t.Fatalf("after two reads from the buffer: %d network reads, counted %d; want 1", sc.reads, c.reads.Load())
	}
	read(4) // "ij": the rest of the first network read
	read(4) // the timeout
	read(2) // "kl"
	read(2) // "m": the error is not returned with the data
	read(2) // the error
	read(8) // "nop"
	read(8) // EOF
	read(0)
	want := []string{"abcd", "efgh", "ij", "|" + timeout.Error(), "kl", "m", "|connection reset", "nop", "|EOF", ""}
	if len(got) != len(want) {
		t.Fatalf("reads %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("reads %q, want %q", got, want)
		}
	}
	if sc.reads != 5 || c.reads.Load() != 5 {
		t.Fatalf("%d network reads, counted %d; want 5", sc.reads, c.reads.Load())
	}
	// A network read is as large as the buffer, whatever the caller asks.
	big := bytes.Repeat([]byte("x"), readBufSize+10)
	sc2 := &scriptConn{steps: []scriptRead{{data: string(big)}}}
	c2 := newReadConn(sc2)
	p := make([]byte, 8192)
	var total int
	for total < len(big) {
		n, err := c2.Read(p)
		if err != nil {
			t.Fatalf("after %d bytes: %v", total, err)
		}
		total += n
	}
	if sc2.reads != 2 || c2.reads.Load() != 2 {
		t.Fatalf("%d bytes in reads of 8 KiB: %d network reads, counted %d; want 2", total, sc2.reads, c2.reads.Load())
	}
}

// TestReadConnOf: the readConn is found under TLS, and not invented for
// another connection.
func TestReadConnOf(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	rc := newReadConn(a)
	if readConnOf(rc) != rc {
		t.Fatal("readConnOf(readConn) is not the readConn")
	}
	if got := readConnOf(tls.Client(rc, &tls.Config{InsecureSkipVerify: true})); got != rc {
		t.Fatalf("under tls.Conn: %p, want %p", got, rc)
	}
	if got := readConnOf(b); got != nil {
		t.Fatalf("plain net.Conn: %p, want nil", got)
	}
	if got := readConnOf(tls.Client(b, &tls.Config{InsecureSkipVerify: true})); got != nil {
		t.Fatalf("tls.Conn over a plain net.Conn: %p, want nil", got)
	}
}

// eventsEmitter keeps what it is handed.
type eventsEmitter struct{ evs []event.Event }

func (e *eventsEmitter) Emit(_ context.Context, evs []event.Event, _ []byte) error {
	e.evs = append(e.evs, evs...)
	return nil
}

// TestStreamClockPerRead: the envelope's ts_ms is the clock read after the
// network read that brought the change: once per read, not per change.
func TestStreamClockPerRead(t *testing.T) {
	s := &Source{cfg: *DefaultConfig(), log: slog.New(slog.DiscardHandler), kick: make(chan struct{}, 1)}
	out := &eventsEmitter{}
	cp := &checkpoint{Version: 1, Slot: "s", Phase: phaseStream}
	d := newStreamDecoder(s, out, serverInfo{version: 150000, database: "db"}, nil, nil, cp, 0x100)
	clock := time.UnixMilli(1000)
	clockReads := 0
	d.clock = func() time.Time {
		clockReads++
		clock = clock.Add(time.Millisecond)
		return clock
	}
	m := sampleMessages()
	rel, begin, ins, commit, beat := m[0], m[1], m[2], m[6], m[7]
	rc := newReadConn(&scriptConn{})
	// Network reads: the relation, begin and two inserts; then two inserts
	// and the commit; then the heartbeat.
	for i, read := range [][][]byte{{rel, begin, ins, ins}, {ins, ins, commit}, {beat}} {
		rc.reads.Add(1)
		for _, msg := range read {
			d.readClock(rc)
			if err := d.handle(context.Background(), uint64(0x200+i), string(msg)); err != nil {
				t.Fatalf("read %d, message %c: %v", i, msg[0], err)
			}
		}
	}
	if clockReads != 3 {
		t.Fatalf("clock read %d times for 3 network reads, want 3", clockReads)
	}
	var got []int64
	for _, e := range out.evs {
		got = append(got, e.TsMs)
	}
	want := []int64{1001, 1001, 1002, 1002}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || got[3] != want[3] {
		t.Fatalf("ts_ms %v, want %v", got, want)
	}
	// Without a readConn (a connection made elsewhere), per message.
	d.readClock(nil)
	d.readClock(nil)
	if clockReads != 5 || d.nowMs != 1005 {
		t.Fatalf("without a readConn: %d clock reads, ts_ms %d; want 5, 1005", clockReads, d.nowMs)
	}
}

// sizedEmitter checks that every batch comes with its event.Size sum.
type sizedEmitter struct {
	t             *testing.T
	sized, plain  int
	events, bytes int64
}

func (e *sizedEmitter) Emit(_ context.Context, evs []event.Event, _ []byte) error {
	e.plain++
	return nil
}

func (e *sizedEmitter) EmitSized(_ context.Context, evs []event.Event, _ []byte, size int64) error {
	e.t.Helper()
	var want int64
	for i := range evs {
		want += int64(evs[i].Size())
	}
	if size != want {
		e.t.Fatalf("batch %d of %d events: size %d, want %d", e.sized, len(evs), size, want)
	}
	e.sized++
	e.events += int64(len(evs))
	return nil
}

// TestStreamBatchSizes: the stream hands the engine each batch's size
// (component.EmitSized), right when a full batch is cut inside a
// transaction, when complete transactions go out and the open one stays,
// and after a reconnect.
func TestStreamBatchSizes(t *testing.T) {
	s := &Source{cfg: *DefaultConfig(), log: slog.New(slog.DiscardHandler), kick: make(chan struct{}, 1)}
	s.cfg.BatchSize = 3
	out := &sizedEmitter{t: t}
	cp := &checkpoint{Version: 1, Slot: "s", Phase: phaseStream}
	d := newStreamDecoder(s, out, serverInfo{version: 150000, database: "db"}, nil, nil, cp, 0x100)
	m := sampleMessages()
	rel, ins, upd, del, beat := m[0], m[2], m[3], m[4], m[7]
	tx := func(final uint64, rows ...[]byte) [][]byte {
		b := [][]byte{msgBuilder{'B'}.u64(final).u64(1).u32(7)}
		b = append(b, rows...)
		return append(b, msgBuilder{'C'}.u8(0).u64(final).u64(final+0x10).u64(1))
	}
	var msgs [][]byte
	msgs = append(msgs, rel)
	msgs = append(msgs, tx(0x1000, ins, upd)...)
	msgs = append(msgs, tx(0x2000, ins, upd, del, ins, upd)...) // a batch is cut inside
	msgs = append(msgs, tx(0x3000, del)...)
	open := tx(0x4000, ins, upd)
	msgs = append(msgs, open[:2]...) // begin, insert: open at the flush below
	lsn := uint64(0x200)
	for i, msg := range msgs {
		lsn++
		if err := d.handle(context.Background(), lsn, string(msg)); err != nil {
			t.Fatalf("message %d (%c): %v", i, msg[0], err)
		}
	}
	if err := d.flush(context.Background(), false); err != nil { // linger: complete ones go
		t.Fatal(err)
	}
	for _, msg := range append(open[2:], beat) {
		lsn++
		if err := d.handle(context.Background(), lsn, string(msg)); err != nil {
			t.Fatalf("message %c: %v", msg[0], err)
		}
	}
	if out.plain != 0 || out.events != 10 {
		t.Fatalf("%d sized batches with %d events, %d without a size; want 10 events, all sized", out.sized, out.events, out.plain)
	}
	// A reconnect drops the open transaction's events and their size.
	msgs = append(tx(0x5000, ins, upd)[:3:3], rel)
	for _, msg := range msgs {
		lsn++
		if err := d.handle(context.Background(), lsn, string(msg)); err != nil {
			t.Fatalf("message %c: %v", msg[0], err)
		}
	}
	d.reset()
	for _, msg := range append(tx(0x6000, ins), beat) {
		lsn++
		if err := d.handle(context.Background(), lsn, string(msg)); err != nil {
			t.Fatalf("message %c: %v", msg[0], err)
		}
	}
	if out.events != 11 {
		t.Fatalf("after the reconnect: %d events, want 11", out.events)
	}
}

// markConn is a net.Conn that models a socket's low-water mark: a read
// returns once mark bytes are queued, or at the read deadline with
// os.ErrDeadlineExceeded; queued is what has arrived.
type markConn struct {
	net.Conn // nil: only what is below is used
	queued   string
	mark     int
	deadline time.Time
	log      []string
}

func (c *markConn) setLowWater(n int) error {
	c.mark = n
	c.log = append(c.log, "mark "+strconv.Itoa(n))
	return nil
}

func (c *markConn) SetReadDeadline(t time.Time) error {
	c.deadline = t
	if t.IsZero() {
		c.log = append(c.log, "deadline none")
	} else {
		c.log = append(c.log, "deadline "+strconv.FormatInt(t.UnixMilli(), 10))
	}
	return nil
}

func (c *markConn) Read(p []byte) (int, error) {
	if len(c.queued) < max(c.mark, 1) {
		c.log = append(c.log, "read timeout")
		return 0, os.ErrDeadlineExceeded // the test never blocks: the deadline has passed
	}
	n := copy(p, c.queued)
	c.queued = c.queued[n:]
	c.log = append(c.log, "read "+strconv.Itoa(n))
	return n, nil
}

// TestReadConnCoalesce: inside a large transaction a network read waits
// for coalesceBytes (the low-water mark) or coalesceWait, then takes what
// there is; the caller's earlier deadline is kept and its timeout
// returned; out of it the mark goes back to 1 byte.
func TestReadConnCoalesce(t *testing.T) {
	mc := &markConn{mark: 1}
	c := newReadConn(mc)
	c.lw = mc
	c.now = func() time.Time { return time.UnixMilli(5000) }
	p := make([]byte, readBufSize)
	step := func(queued string, want string) {
		t.Helper()
		mc.queued += queued
		mc.log = nil
		n, err := c.Read(p)
		got := string(p[:n])
		if err != nil {
			got += "|" + err.Error()
		}
		if got != want {
			t.Fatalf("read %q, want %q (%q)", got, want, mc.log)
		}
	}
	expect := func(log ...string) {
		t.Helper()
		if len(log) != len(mc.log) {
			t.Fatalf("calls %q, want %q", mc.log, log)
		}
		for i := range log {
			if log[i] != mc.log[i] {
				t.Fatalf("calls %q, want %q", mc.log, log)
			}
		}
	}
	step("ab", "ab") // not coalescing: the mark stays 1
	expect("read 2")

	c.coalesce.Store(true)
	big := string(bytes.Repeat([]byte("x"), coalesceBytes))
	step(big, big) // the mark is reached
	expect("mark 16384", "deadline 5001", "read 16384", "deadline none")
	step("cd", "cd") // not reached in coalesceWait: what there is
	expect("deadline 5001", "read timeout", "deadline none", "mark 1", "read 2")

	// The caller's deadline, later than coalesceWait: restored after.
	if err := c.SetReadDeadline(time.UnixMilli(9000)); err != nil {
		t.Fatal(err)
	}
	step(big, big)
	expect("mark 16384", "deadline 5001", "read 16384", "deadline 9000")
	// Earlier than coalesceWait: the caller's timeout is the caller's.
	if err := c.SetReadDeadline(time.UnixMilli(5000)); err != nil {
		t.Fatal(err)
	}
	step("ef", "|"+os.ErrDeadlineExceeded.Error())
	expect("read timeout")
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	mc.queued = ""

	c.coalesce.Store(false)
	step("gh", "gh")
	expect("mark 1", "read 2")
	step("ij", "ij")
	expect("read 2")
	if c.reads.Load() != 7 {
		t.Fatalf("%d network reads counted, want 7", c.reads.Load())
	}
}

// TestStreamCoalescesLargeTransactions: the decoder asks for coalesced
// reads inside a transaction from its coalesceAfterRows-th row, or from
// its Begin when its WAL spans coalesceAfterWAL, and never outside one.
func TestStreamCoalescesLargeTransactions(t *testing.T) {
	s := &Source{cfg: *DefaultConfig(), log: slog.New(slog.DiscardHandler), kick: make(chan struct{}, 1)}
	d := newStreamDecoder(s, &discardEmitter{}, serverInfo{version: 150000, database: "db"}, nil, nil,
		&checkpoint{Version: 1, Slot: "s", Phase: phaseStream}, 0x100)
	rc := newReadConn(&scriptConn{})
	d.net = rc
	m := sampleMessages()
	ins := m[2]
	handle := func(lsn uint64, msg []byte) {
		t.Helper()
		if err := d.handle(context.Background(), lsn, string(msg)); err != nil {
			t.Fatalf("message %c: %v", msg[0], err)
		}
	}
	handle(0x100, m[0])
	tx := func(first, final uint64, rows int, wantAt int) {
		t.Helper()
		handle(first, msgBuilder{'B'}.u64(final).u64(1).u32(7))
		at := -1
		if rc.coalesce.Load() {
			at = 0
		}
		for i := 1; i <= rows; i++ {
			handle(first+uint64(i), ins)
			if at < 0 && rc.coalesce.Load() {
				at = i
			}
		}
		if at != wantAt {
			t.Fatalf("transaction at %#x of %d rows: coalescing from row %d, want %d", first, rows, at, wantAt)
		}
		handle(final, msgBuilder{'C'}.u8(0).u64(final).u64(final+0x10).u64(1))
		if rc.coalesce.Load() {
			t.Fatalf("transaction at %#x: still coalescing after its commit", first)
		}
	}
	tx(0x1000, 0x2000, 1, -1)
	tx(0x3000, 0x4000, coalesceAfterRows-1, -1)
	tx(0x5000, 0x6000, coalesceAfterRows+5, coalesceAfterRows)
	tx(0x10000, 0x10000+coalesceAfterWAL, 3, 0)
	tx(0x100000, 0x100000+coalesceAfterWAL-1, 3, -1)
}
