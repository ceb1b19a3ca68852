package s3

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
	"github.com/sluice-dev/sluice/internal/durable"
)

// Sink writes events to S3 objects through a local spool.
type Sink struct {
	cfg     Config
	log     *slog.Logger
	part    *partition
	spool   string // spool directory
	options string // the JSON-lines format options, as spool headers record them
	state   string // state file
	store   objectStore
	now     func() time.Time

	bgCancel context.CancelFunc // stops the schedule goroutine
	bgDone   chan struct{}
	upCtx    context.Context // for background uploads; cancelled by Close
	upCancel context.CancelFunc

	// mu guards everything below. Write, Close and the schedule goroutine
	// (rotate_schedule_interval) take it; uploads happen under it.
	mu      sync.Mutex
	enc     format.Encoder
	open    map[string]*spool // open spools by spoolKey
	sealed  []*spool          // sealed spools waiting for upload, oldest first
	streams map[string]*streamState
	nextN   int
	specs   map[*event.Schema][]colSpec
	// broken is set when a Write failed after touching spool files; the
	// next Write or Close reloads the spool from disk first. retryAssign
	// holds each stream's snapshot ordinal at the start of that Write, so
	// the engine's retry of the same events numbers them as before and
	// skips the ones that reached the disk.
	broken      bool
	retryAssign map[string]int64
	// up is the background upload of sealed objects started by the last
	// Write (nil when none); upFailed says the last one failed, so the
	// next Write uploads synchronously and fails while S3 is unreachable.
	up       *uploads
	upFailed bool
	buf      []byte // the current event's payload
	dirBuf   []byte

	// hook, when set (tests only), is called at each step of sealing and
	// uploading (the step* constants); an error stops the work there, as a
	// crash at that instant would.
	hook func(step string) error
	// dirDirty says that a spool file was created or sealed (renamed) since
	// the spool directory's last fsync.
	dirDirty bool
}

// Steps of sealing and uploading an object, for Sink.hook.
const (
	stepSynced  = "synced"  // the records are fsynced; the spool file is still .open
	stepRenamed = "renamed" // renamed .sealed; the directory is not fsynced yet
	stepPut     = "put"     // the object is in S3; the state file is not saved yet
	stepSaved   = "saved"   // the state file is saved; the spool file is not removed yet
)

func (s *Sink) fault(step string) error {
	if s.hook == nil {
		return nil
	}
	return s.hook(step)
}

// streamState is what the sink knows of a stream's events.
type streamState struct {
	// hwm is the highest Seq durably taken (spooled or uploaded): a
	// replayed event at or below it is skipped.
	hwm event.Seq
	// snap is the highest snapshot ordinal durably taken; assign is the
	// last ordinal handed out (equal to snap except while a failed Write is
	// retried).
	snap, assign int64
	open         []*spool // the stream's open spools
	// unsynced is the one open spool that may hold records of the stream
	// not yet fsynced (nil when none does): see spoolEvents.
	unsynced *spool
	// The last event's partition: templates resolve to the minute at most,
	// so events of the same schema and minute share it.
	lastSchema *event.Schema
	lastMinute int64
	lastKey    string
	lastDir    string
}

var _ component.Sink = (*Sink)(nil)

// New opens the sink's spool in its state directory env.StateDir, loading
// what an earlier run left there. It does not contact S3: leftover sealed objects
// are uploaded by the first Write (or Close).
func New(cfg Config, env component.Env) (*Sink, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, component.Permanent(fmt.Errorf("s3 sink: %w", errors.Join(errs...)))
	}
	if env.StateDir == "" {
		return nil, component.Permanent(errors.New("s3 sink: a state directory is required for the spool (hint: set state_dir)"))
	}
	part, err := parsePartition(cfg.Partition)
	if err != nil {
		return nil, component.Permanent(err)
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base := env.StateDir
	if err := moveOldSpool(base, env.Name); err != nil {
		return nil, component.Permanent(fmt.Errorf("s3 sink: %w", err))
	}
	s := &Sink{
		cfg: cfg, log: log, part: part,
		spool: filepath.Join(base, "spool"), state: filepath.Join(base, "s3-state.json"),
		now: time.Now, specs: map[*event.Schema][]colSpec{},
	}
	if cfg.Format != Parquet {
		if s.enc, err = format.New(cfg.Options); err != nil {
			return nil, component.Permanent(err)
		}
		o, _ := json.Marshal(cfg.Options)
		s.options = string(o)
	}
	if s.store, err = newClient(cfg, env); err != nil {
		return nil, err
	}
	if err := durable.MkdirAll(s.spool); err != nil {
		return nil, fmt.Errorf("s3 sink: create spool directory: %w", err)
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	s.upCtx, s.upCancel = context.WithCancel(context.Background())
	if cfg.RotateScheduleInterval > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		s.bgCancel, s.bgDone = cancel, make(chan struct{})
		go s.schedule(ctx)
	}
	return s, nil
}

// load (re)builds the in-memory state from the state file and the spool
// files.
func (s *Sink) load() error {
	for _, sp := range s.open {
		sp.close()
	}
	s.open, s.sealed, s.streams, s.nextN = map[string]*spool{}, nil, map[string]*streamState{}, 1
	marks, err := readState(s.state)
	if err != nil {
		return err
	}
	for name, ps := range marks {
		s.streams[name] = &streamState{hwm: event.Seq{Hi: ps.Hi, Lo: ps.Lo}, snap: ps.Snap, assign: ps.Snap}
	}
	entries, err := os.ReadDir(s.spool)
	if err != nil {
		return fmt.Errorf("s3 sink: read spool directory: %w", err)
	}
	var spools []*spool
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".obj") {
			// A half-built or half-uploaded object: rebuilt from its spool.
			os.Remove(filepath.Join(s.spool, name))
			continue
		}
		if !strings.HasSuffix(name, ".open") && !strings.HasSuffix(name, ".sealed") {
			continue
		}
		sp, err := openSpool(filepath.Join(s.spool, name), s.now())
		if err != nil {
			for _, o := range spools {
				o.close()
			}
			return err
		}
		if sp == nil || sp.count == 0 {
			if sp != nil {
				sp.close()
			}
			os.Remove(filepath.Join(s.spool, name))
			continue
		}
		spools = append(spools, sp)
	}
	slices.SortFunc(spools, func(a, b *spool) int { return cmp.Compare(a.n, b.n) })
	for _, sp := range spools {
		s.nextN = max(s.nextN, sp.n+1)
		st := s.stream(sp.hdr.Stream)
		if sp.maxSeq.Compare(st.hwm) > 0 {
			st.hwm = sp.maxSeq
		}
		st.snap = max(st.snap, sp.maxSnap)
		st.assign = st.snap
		if sp.f == nil {
			s.sealed = append(s.sealed, sp)
			continue
		}
		key := spoolKey(sp.hdr.Dir, sp.hdr.Stream, sp.hdr.Version)
		if sp.hdr.Format != s.cfg.Format || sp.hdr.Options != s.options || sp.format != 2 {
			// Written under another format, or by an earlier version in
			// spool format 1: complete it as it is.
			if err := sp.seal(s.fault); err != nil {
				return err
			}
			s.sealed = append(s.sealed, sp)
			continue
		}
		if old := s.open[key]; old != nil {
			// Two open spools for one object (cannot happen, but keep both):
			// seal the older.
			if err := s.seal(old); err != nil {
				return err
			}
		}
		s.open[key] = sp
		st.open = append(st.open, sp)
		if s.full(sp) {
			// A crash between the fsync of its last record and the rename
			// left a complete object open: seal it now, or the next record
			// would go past flush_size or rotate_bytes.
			if err := s.seal(sp); err != nil {
				return err
			}
		}
	}
	if len(s.sealed) > 0 || len(s.open) > 0 {
		s.log.Info("s3 sink: resuming from the spool", "sealed", len(s.sealed), "open", len(s.open))
	}
	// What the open files hold now counts as taken, so it must be durable:
	// a crashed or failed Write may have left records in the page cache
	// only.
	for _, sp := range s.open {
		if err := sp.sync(); err != nil {
			return err
		}
	}
	// Objects left sealed by an earlier run go up before anything else.
	s.upFailed = len(s.sealed) > 0
	return s.syncSpoolDir()
}

func (s *Sink) stream(name string) *streamState {
	st := s.streams[name]
	if st == nil {
		st = &streamState{}
		s.streams[name] = st
	}
	return st
}

func spoolKey(dir, stream string, version int) string {
	return dir + "\x00" + stream + "\x00" + strconv.Itoa(version)
}

// Write implements component.Sink. Events are durable in the spool when it
// returns. Objects it completes are uploaded in the background while the
// engine's next Writes fill the next object (double buffering: see pace);
// when an upload failed, the next Write retries it first and fails (to be
// retried by the engine with backoff) while S3 is unreachable, so an outage
// stops the pipeline instead of filling the disk.
func (s *Sink) Write(ctx context.Context, events []event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken {
		if err := s.reload(); err != nil {
			return err
		}
	}
	if err := s.sealDue(); err != nil {
		return s.fail(err, nil)
	}
	if s.up != nil && s.up.finished() {
		s.joinUploads() // a failure seen now fails this Write below
	}
	if s.upFailed {
		s.joinUploads()
		if err := s.uploadSealed(ctx); err != nil {
			return err
		}
	}
	saved := map[string]int64{}
	rejected, err := s.spoolEvents(events, saved)
	if err != nil {
		return s.fail(err, saved)
	}
	s.pace()
	if !s.upFailed {
		s.startUploads()
	}
	if len(rejected) > 0 {
		return rejected
	}
	return nil
}

// fail marks the in-memory state stale after a failed spool write.
func (s *Sink) fail(err error, saved map[string]int64) error {
	s.broken = true
	s.retryAssign = map[string]int64{}
	for name, st := range s.streams {
		s.retryAssign[name] = st.assign
	}
	for name, a := range saved {
		s.retryAssign[name] = a
	}
	return err
}

// reload rebuilds the sink's state from the disk after a failed Write.
//
// The open spool files are first cut back to their last successful
// fsync: a failed Write's records after it may not be on the disk (after
// a failed fsync the page cache may show records the disk lost), and the
// engine writes them again. A stream's records with a position not yet
// fsynced are in one spool only (spoolEvents), so this cuts a suffix of
// them. Snapshot ordinals may be cut (or still be in a buffer) in several
// spools, leaving a gap below a kept one: after a cut the retry numbers
// the stream's rows after the ordinals on disk instead of as before, so
// rows that were kept may land twice (snapshot rows are written at least
// once) and none is skipped.
func (s *Sink) reload() error {
	s.discardUploads()
	for _, sp := range s.open {
		cut, err := sp.cut()
		if err != nil {
			return err
		}
		if cut {
			delete(s.retryAssign, sp.hdr.Stream)
		}
	}
	if err := s.load(); err != nil {
		return err
	}
	for name, a := range s.retryAssign {
		s.stream(name).assign = a
	}
	s.broken, s.retryAssign = false, nil
	return nil
}

// spoolEvents appends events to their spools, seals spools that are due and
// syncs. saved receives the snapshot ordinal of every stream it numbers,
// as it was before.
func (s *Sink) spoolEvents(events []event.Event, saved map[string]int64) (component.RecordErrors, error) {
	var rejected component.RecordErrors
	for i := range events {
		e := &events[i]
		st := s.stream(e.Schema.Stream)
		var p pos
		if seq := e.Seq(); !seq.IsZero() {
			if seq.Compare(st.hwm) <= 0 {
				continue // a replay of an event already spooled or uploaded
			}
			p = pos{hi: seq.Hi, lo: seq.Lo}
		} else {
			if _, ok := saved[e.Schema.Stream]; !ok {
				saved[e.Schema.Stream] = st.assign
			}
			st.assign++
			if st.assign <= st.snap {
				continue // the retry of a failed Write: this one reached the spool
			}
			p = pos{snap: true, lo: uint64(st.assign)}
		}
		payload, ok, err := s.encode(e)
		if err != nil {
			rejected = append(rejected, component.RecordError{Index: i, Err: err})
			continue
		}
		if !ok {
			continue
		}
		t := eventTime(e)
		version := 0
		if s.cfg.Format == Parquet {
			version = e.Schema.Version
		}
		// Close the stream's objects that this event ends: event-time
		// rotation, and for Parquet a new schema version.
		for j := 0; j < len(st.open); { // oldest first; seal removes st.open[j]
			sp := st.open[j]
			if (s.cfg.RotateInterval <= 0 || t-sp.t0 < s.cfg.RotateInterval.Milliseconds()) && sp.hdr.Version == version {
				j++
				continue
			}
			if err := s.seal(sp); err != nil {
				return rejected, err
			}
		}
		if minute := t / 60000; st.lastSchema != e.Schema || st.lastMinute != minute || t < 0 {
			s.dirBuf = s.part.render(s.dirBuf[:0], e)
			st.lastDir = string(s.dirBuf)
			st.lastKey = spoolKey(st.lastDir, e.Schema.Stream, version)
			st.lastSchema, st.lastMinute = e.Schema, minute
		}
		dir, key := st.lastDir, st.lastKey
		sp := s.open[key]
		if sp == nil {
			hdr := spoolHeader{Stream: e.Schema.Stream, Dir: dir, Format: s.cfg.Format, Options: s.options, Version: version}
			if s.cfg.Format == Parquet {
				hdr.Cols = s.specsFor(e.Schema)
			}
			if sp, err = createSpool(s.spool, s.nextN, hdr, s.now()); err != nil {
				return rejected, err
			}
			s.nextN++
			s.dirDirty = true
			s.open[key] = sp
			st.open = append(st.open, sp)
		}
		if u := st.unsynced; u != nil && u != sp && !p.snap {
			// The stream moves to another object (a partition boundary, an
			// event time going back across one, or the object before was
			// sealed): its records in the previous one are made durable
			// first — the file's records, and the names of files created or
			// sealed since the directory's last fsync. So at most one spool
			// holds a stream's records not yet durable, and they follow
			// every durable record of the stream: a power failure in the
			// middle of the fsyncs below can only take a suffix of the
			// stream, never a record with a later one kept, which the
			// replay would skip as below the high-water mark. (The cost is
			// an fsync per move; with the default hourly template a stream
			// moves about once an hour. Events without a position — snapshot
			// rows, events read from several Kafka partitions, whose times
			// may flap across a boundary — are not skipped by position
			// after a crash, so they move freely; see reload for a failed
			// Write.)
			if u.f != nil {
				if err := u.sync(); err != nil {
					return rejected, err
				}
			}
			if s.dirDirty {
				if err := s.syncSpoolDir(); err != nil {
					return rejected, err
				}
			}
		}
		if !p.snap {
			st.unsynced = sp
		}
		if err := sp.add(p, t, payload); err != nil {
			return rejected, err
		}
		if p.snap {
			st.snap = int64(p.lo)
		} else {
			st.hwm = event.Seq{Hi: p.hi, Lo: p.lo}
		}
		if s.full(sp) {
			if err := s.seal(sp); err != nil {
				return rejected, err
			}
		}
	}
	for _, sp := range s.open {
		if sp.unsynced() {
			if err := sp.sync(); err != nil {
				return rejected, err
			}
		}
	}
	for _, st := range s.streams {
		st.unsynced = nil
	}
	if s.dirDirty {
		// The names of new spool files, and of sealed ones, must be as
		// durable as the records they hold before the Write is
		// acknowledged.
		if err := s.syncSpoolDir(); err != nil {
			return rejected, err
		}
	}
	return rejected, nil
}

func (s *Sink) encode(e *event.Event) ([]byte, bool, error) {
	if s.cfg.Format != Parquet {
		// format.AppendLines writes a key change as Debezium does: the
		// delete of the old key, then the create of the new one.
		b, err := format.AppendLines(s.enc, s.buf[:0], e)
		s.buf = b
		return s.buf, err == nil && len(b) > 0, err
	}
	b, ok, err := appendEventRow(s.buf[:0], s.specsFor(e.Schema), e)
	s.buf = b
	if err != nil || !ok {
		return nil, ok, err
	}
	return s.buf, true, nil
}

func (s *Sink) specsFor(sch *event.Schema) []colSpec {
	sp, ok := s.specs[sch]
	if !ok {
		sp = specsFor(sch)
		s.specs[sch] = sp
	}
	return sp
}

// full reports whether an open spool has reached flush_size records or
// rotate_bytes bytes.
func (s *Sink) full(sp *spool) bool {
	return (s.cfg.FlushSize > 0 && sp.count >= s.cfg.FlushSize) || (s.cfg.RotateBytes > 0 && sp.bytes >= s.cfg.RotateBytes)
}

// seal completes an open spool's object and queues it for upload.
func (s *Sink) seal(sp *spool) error {
	if err := sp.seal(s.fault); err != nil {
		return err
	}
	s.dirDirty = true
	if err := s.fault(stepRenamed); err != nil {
		return err
	}
	delete(s.open, spoolKey(sp.hdr.Dir, sp.hdr.Stream, sp.hdr.Version))
	st := s.stream(sp.hdr.Stream)
	st.open = slices.DeleteFunc(st.open, func(o *spool) bool { return o == sp })
	s.sealed = append(s.sealed, sp)
	return nil
}

// sealDue seals the spools open longer than rotate_schedule_interval.
func (s *Sink) sealDue() error {
	if s.cfg.RotateScheduleInterval <= 0 {
		return nil
	}
	var due []*spool
	for _, sp := range s.open {
		if s.now().Sub(sp.opened) >= s.cfg.RotateScheduleInterval {
			due = append(due, sp)
		}
	}
	if len(due) == 0 {
		return nil
	}
	slices.SortFunc(due, func(a, b *spool) int { return cmp.Compare(a.n, b.n) })
	for _, sp := range due {
		if err := s.seal(sp); err != nil {
			return err
		}
	}
	return s.syncSpoolDir()
}

// schedule seals and uploads objects older than rotate_schedule_interval
// while the sink is idle.
func (s *Sink) schedule(ctx context.Context) {
	defer close(s.bgDone)
	tick := min(max(s.cfg.RotateScheduleInterval/4, 10*time.Millisecond), time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		if !s.broken {
			// Never wait for an upload here: that would hold mu, and the
			// engine's Writes with it, for the whole upload.
			if s.up != nil && s.up.finished() {
				s.joinUploads()
			}
			if err := s.sealDue(); err != nil {
				s.fail(err, nil)
				s.log.Warn("s3 sink: scheduled rotation failed", "err", err)
			} else {
				s.startUploads()
			}
		}
		s.mu.Unlock()
	}
}

// Close implements component.Sink: it completes every open object and
// uploads it. What cannot be uploaded stays in the spool for the next run.
func (s *Sink) Close(ctx context.Context) error {
	if s.bgCancel != nil {
		s.bgCancel()
		<-s.bgDone
		s.bgCancel = nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.upCancel()
	if s.broken {
		if err := s.reload(); err != nil {
			return err
		}
	}
	s.joinUploads()
	open := make([]*spool, 0, len(s.open))
	for _, sp := range s.open {
		open = append(open, sp)
	}
	slices.SortFunc(open, func(a, b *spool) int { return cmp.Compare(a.n, b.n) })
	for _, sp := range open {
		if err := s.seal(sp); err != nil {
			return err
		}
	}
	if err := s.syncSpoolDir(); err != nil {
		return err
	}
	return s.uploadSealed(ctx)
}

func syncDir(dir string) error { return durable.SyncDir(dir) }

// syncSpoolDir fsyncs the spool directory: the names of the spool files
// created and sealed so far are durable.
func (s *Sink) syncSpoolDir() error {
	if err := syncDir(s.spool); err != nil {
		return err
	}
	s.dirDirty = false
	return nil
}

// moveOldSpool moves the spool and state file that sluice before 0.2 kept
// in <state dir>/sink/<name> up into the state dir itself. Each item moves
// by one rename, only when the new place is free, so a crash halfway is
// finished by the next start.
func moveOldSpool(base, name string) error {
	if name == "" {
		return nil
	}
	old := filepath.Join(base, "sink", name)
	if _, err := os.Stat(old); err != nil {
		return nil
	}
	for _, item := range []string{"spool", "s3-state.json"} {
		from, to := filepath.Join(old, item), filepath.Join(base, item)
		if _, err := os.Stat(from); err != nil {
			continue
		}
		if _, err := os.Stat(to); err == nil {
			return fmt.Errorf("both %s and %s exist: the spool was moved and then written again; keep the newer one and remove the other", from, to)
		}
		if err := os.Rename(from, to); err != nil {
			return fmt.Errorf("move the spool from %s to %s: %w", from, to, err)
		}
	}
	os.Remove(old)
	os.Remove(filepath.Dir(old))
	return nil
}
