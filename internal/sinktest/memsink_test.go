package sinktest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
)

// memServer is the reference sink's destination: an in-memory store behind
// a TCP port (so the suite's proxy can cut it off) with a password. A
// destination keeps either the last state of each key, skipping events
// whose Seq is not after the newest it applied (like the SQL sinks'
// positions), or the history of records, appending replays again (like a
// file or a topic) or skipping them (like S3's object names). Events whose
// v starts with "REJECT" are rejected one by one.
//
// mutation ($SINKTEST_MEMSINK_MUTATION) breaks one property of the server
// or of the client (memSink) on purpose, to show that the suite notices
// (TestSuiteCatchesBrokenSinks).
type memServer struct {
	ln       net.Listener
	password string
	mutation string

	mu    sync.Mutex
	dests map[string]*memDest
}

type memDest struct {
	hist  []Record
	state map[int64]string
	hwm   event.Seq
}

// Modes of a destination.
const (
	modeState   = "state"   // last state, replays skipped by Seq
	modeHistory = "history" // every record, replays appended again
	modeOnce    = "once"    // every record, replays skipped by Seq
)

func newMemServer(t *testing.T, mutation string) *memServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &memServer{ln: ln, password: "pw", mutation: mutation, dests: map[string]*memDest{}}
	go s.serve()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *memServer) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.conn(c)
	}
}

// memRequest is one Write: the events as records, in order.
type memRequest struct {
	Password string  `json:"password"`
	Dest     string  `json:"dest"`
	Mode     string  `json:"mode"`
	Ops      []memOp `json:"ops"`
}

type memOp struct {
	Index int       `json:"index"` // the event's index in the Write
	Seq   event.Seq `json:"seq"`
	Recs  []Record  `json:"recs"`
}

type memReply struct {
	Err      string `json:"err,omitempty"`
	Rejected []int  `json:"rejected,omitempty"`
}

func (s *memServer) conn(c net.Conn) {
	defer c.Close()
	rd := bufio.NewReader(c)
	enc := json.NewEncoder(c)
	for {
		line, err := rd.ReadBytes('\n')
		if err != nil {
			return
		}
		var req memRequest
		if err := json.Unmarshal(line, &req); err != nil {
			_ = enc.Encode(memReply{Err: "bad request"})
			return
		}
		if err := enc.Encode(s.apply(req)); err != nil {
			return
		}
	}
}

func (s *memServer) apply(req memRequest) memReply {
	if req.Password != s.password {
		return memReply{Err: `access denied for user "sink"`}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dests[req.Dest]
	if d == nil {
		d = &memDest{state: map[int64]string{}}
		s.dests[req.Dest] = d
	}
	var rep memReply
	if s.mutation == "deletelast" && req.Mode == modeState { // a planner that groups deletes after writes
		var sets, dels []memOp
		for _, op := range req.Ops {
			if op.Recs[len(op.Recs)-1].Deleted {
				dels = append(dels, op)
			} else {
				sets = append(sets, op)
			}
		}
		req.Ops = append(sets, dels...)
	}
	for _, op := range req.Ops {
		if slices.ContainsFunc(op.Recs, func(r Record) bool { return strings.HasPrefix(r.V, "REJECT") }) {
			rep.Rejected = append(rep.Rejected, op.Index)
			continue
		}
		skip := req.Mode != modeHistory && !op.Seq.IsZero() && op.Seq.Compare(d.hwm) <= 0
		switch {
		case skip && req.Mode == modeState && s.mutation == "regress":
		case skip && req.Mode == modeOnce && s.mutation == "dupreplay":
		case skip:
			continue
		}
		for _, r := range op.Recs {
			switch {
			case req.Mode != modeState:
				d.hist = append(d.hist, r)
			case r.Deleted:
				delete(d.state, r.ID)
			default:
				d.state[r.ID] = r.V
			}
		}
		if op.Seq.Compare(d.hwm) > 0 {
			d.hwm = op.Seq
		}
	}
	return rep
}

// read returns what dest holds.
func (s *memServer) read(dest, mode string) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.dests[dest]
	if d == nil {
		return nil
	}
	if mode != modeState {
		return slices.Clone(d.hist)
	}
	var out []Record
	for id, v := range d.state {
		out = append(out, Record{ID: id, V: v})
	}
	return out
}

// memSink is the reference sink: a client of memServer that keeps the
// whole contract, unless mutation says otherwise.
type memSink struct {
	addr, password, dest, mode, mutation string
	log                                  *slog.Logger

	conn net.Conn
	rd   *bufio.Reader
	sent map[event.Seq]bool // mutation dupreorder: Seqs written before
}

func (m *memSink) Write(ctx context.Context, evs []event.Event) error {
	ops := make([]memOp, 0, len(evs))
	for i := range evs {
		ops = append(ops, memOp{Index: i, Seq: evs[i].Seq(), Recs: records(evs[i : i+1])})
	}
	switch m.mutation {
	case "reorder": // the first two changes of one key trade places
		seen := map[int64]int{}
		for i, op := range ops {
			k := op.Recs[len(op.Recs)-1].ID
			if j, ok := seen[k]; ok {
				ops[i], ops[j] = ops[j], ops[i]
				break
			}
			seen[k] = i
		}
	case "dropneighbour": // the event after a rejected one is lost
		for i := 0; i < len(ops)-1; i++ {
			if strings.HasPrefix(ops[i].Recs[0].V, "REJECT") {
				ops = slices.Delete(ops, i+1, i+2)
			}
		}
	case "dupreorder": // a replayed batch is written backwards
		if len(ops) > 0 && m.sent[ops[0].Seq] {
			slices.Reverse(ops)
		}
		for _, op := range ops {
			m.sent[op.Seq] = true
		}
	}
	if err := m.roundTrip(ctx, ops); err != nil {
		if m.mutation == "loseonerror" {
			return nil
		}
		return err
	}
	return nil
}

// Connect implements component.Connector: an empty write proves the
// server answers and takes the password.
func (m *memSink) Connect(ctx context.Context) error { return m.roundTrip(ctx, nil) }

var _ component.Connector = (*memSink)(nil)

func (m *memSink) roundTrip(ctx context.Context, ops []memOp) error {
	if m.conn == nil {
		d := net.Dialer{Timeout: time.Second}
		c, err := d.DialContext(ctx, "tcp", m.addr)
		if err != nil {
			m.connFailed(err)
			return fmt.Errorf("memsink: connect to %s: %w", m.addr, err)
		}
		m.conn, m.rd = c, bufio.NewReader(c)
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Second)
	}
	_ = m.conn.SetDeadline(deadline)
	req, _ := json.Marshal(memRequest{Password: m.password, Dest: m.dest, Mode: m.mode, Ops: ops})
	var rep memReply
	_, err := m.conn.Write(append(req, '\n'))
	if err == nil {
		var line []byte
		if line, err = m.rd.ReadBytes('\n'); err == nil {
			err = json.Unmarshal(line, &rep)
		}
	}
	if err != nil {
		m.conn.Close()
		m.conn = nil
		m.connFailed(err)
		return fmt.Errorf("memsink: write to %s: %w", m.addr, err)
	}
	if rep.Err != "" {
		return component.Permanent(errors.New("memsink: " + rep.Err))
	}
	if len(rep.Rejected) == 0 {
		return nil
	}
	var re component.RecordErrors
	for _, i := range rep.Rejected {
		if m.mutation == "indexrange" {
			i++
		}
		re = append(re, component.RecordError{Index: i, Err: fmt.Errorf("memsink: %s rejects the value of v", m.dest)})
	}
	if m.mutation == "indexorder" {
		slices.Reverse(re)
	}
	return re
}

// connFailed logs a lost connection, as sinks do.
func (m *memSink) connFailed(err error) {
	switch m.mutation {
	case "logsecret":
		m.log.Warn("memsink: connection failed", "dsn", "mem://sink:"+m.password+"@"+m.addr, "err", err)
	case "errsecret":
		m.log.Warn("memsink: connection failed", "err", err)
	default:
		m.log.Warn("memsink: connection failed", "addr", m.addr, "err", err)
	}
}

func (m *memSink) Close(ctx context.Context) error {
	if m.mutation == "hangclose" {
		select {} // ignores ctx
	}
	if m.conn != nil {
		m.conn.Close()
	}
	return nil
}

// memTarget is one destination of the server.
type memTarget struct {
	srv  *memServer
	dest string
	mode string
}

func (mt *memTarget) Addr() string { return mt.srv.ln.Addr().String() }

func (mt *memTarget) Sink(t *testing.T, p Params) (component.Sink, error) {
	addr, pw := mt.Addr(), mt.srv.password
	if p.Via != "" {
		addr = p.Via
	}
	if p.Secret != "" {
		pw = p.Secret
	}
	m := &memSink{addr: addr, password: pw, dest: mt.dest, mode: mt.mode, mutation: mt.srv.mutation, log: p.Logger, sent: map[event.Seq]bool{}}
	if m.mutation == "errsecret" {
		return &leaky{memSink: m}, nil
	}
	return m, nil
}

func (mt *memTarget) Read(t *testing.T) []Record { return mt.srv.read(mt.dest, mt.mode) }

// leaky is a memSink whose errors hold its DSN, password included.
type leaky struct{ *memSink }

func (l *leaky) Write(ctx context.Context, evs []event.Event) error {
	if err := l.memSink.Write(ctx, evs); err != nil {
		return fmt.Errorf("mem://sink:%s@%s: %w", l.password, l.addr, err)
	}
	return nil
}

// memHarness adapts the reference sink with destinations of mode.
func memHarness(t *testing.T, mode string, caps Caps) Harness {
	srv := newMemServer(t, os.Getenv("SINKTEST_MEMSINK_MUTATION"))
	n := 0
	var mu sync.Mutex
	caps.RecordErrors, caps.Secret = true, true
	return Harness{
		Caps: caps,
		Setup: func(t *testing.T) Target {
			mu.Lock()
			defer mu.Unlock()
			n++
			return &memTarget{srv: srv, dest: fmt.Sprintf("d%d", n), mode: mode}
		},
		Poison: func(e *event.Event) {
			img := e.After
			if img == nil {
				img = e.Before
			}
			img[1] = event.String("REJECT " + img[1].Str)
		},
	}
}

// TestMemSink runs the suite against the reference sink, in each kind of
// destination.
func TestMemSink(t *testing.T) {
	t.Run(modeState, func(t *testing.T) { Run(t, memHarness(t, modeState, Caps{})) })
	t.Run(modeHistory, func(t *testing.T) { Run(t, memHarness(t, modeHistory, Caps{History: true, Duplicates: true})) })
	t.Run(modeOnce, func(t *testing.T) { Run(t, memHarness(t, modeOnce, Caps{History: true, Spool: true})) })
}
