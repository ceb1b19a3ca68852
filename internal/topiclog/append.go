package topiclog

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/sluice-dev/sluice/internal/durable"
)

// RecordTooLargeError is a record that Append refuses: larger than a
// segment record can be.
type RecordTooLargeError struct {
	Index int // in the records given to Append
	Size  int // its encoded size
}

func (e *RecordTooLargeError) Error() string {
	return fmt.Sprintf("topic log: record %d is %d bytes long; a record holds %d at most", e.Index, e.Size, maxRecordFormat)
}

// failed is an append that failed after writing: what it changed on disk
// beyond the durable state readers see, undone by repair.
type failed struct {
	active  segment  // the active segment as it was, its size durable
	created []string // files the append created
}

// Append appends recs to the topic, setting their offsets, and returns
// once they are durable: written and fsynced, with any new segment file
// fsynced into its directory. Readers see them only then. It returns the
// offset of the first. When it fails, nothing of it is visible, and the
// next Append first undoes what it wrote; a crash in the middle leaves a
// prefix of recs in the log (at least once, as a retried Kafka produce).
func (t *Topic) Append(recs []Record) (int64, error) {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	t.mu.Lock()
	closed, cfg := t.mu.closed, t.mu.cfg
	act := t.mu.segs[len(t.mu.segs)-1]
	cur := *act
	t.mu.Unlock()
	if closed {
		return 0, ErrClosed
	}
	for i := range recs {
		if n := recs[i].size(); n > maxRecordFormat {
			return 0, &RecordTooLargeError{Index: i, Size: n}
		}
	}
	if t.w.broken != nil {
		if err := t.repair(); err != nil {
			return 0, err
		}
		t.mu.Lock()
		act = t.mu.segs[len(t.mu.segs)-1]
		cur = *act
		t.mu.Unlock()
	}
	if len(recs) == 0 {
		return cur.next, nil
	}
	now := t.log.now().UnixMilli()
	first := cur.next
	fail := &failed{active: cur}
	var sealed []segment // segments this append completed, in order
	buf := t.w.buf[:0]
	written := cur.size // bytes of cur in its file
	for i := range recs {
		r := &recs[i]
		if r.Timestamp == 0 {
			r.Timestamp = now
		}
		r.Offset = cur.next
		n := int64(recordFormat.HeadSize() + r.size())
		pos := written + int64(len(buf))
		if pos+n > cfg.SegmentBytes && pos > int64(len(segmentMagic)) {
			if err := t.write(buf); err != nil {
				return 0, t.fail(fail, err)
			}
			buf = buf[:0]
			next, err := t.roll(&cur, fail)
			if err != nil {
				return 0, t.fail(fail, err)
			}
			sealed = append(sealed, cur)
			cur, written, pos = *next, next.size, next.size
		}
		buf, t.w.scratch = appendRecord(buf, t.w.scratch, r, r.Offset, r.Timestamp)
		cur.note(r.Offset, r.Timestamp, pos, pos+n)
	}
	if err := t.write(buf); err != nil {
		return 0, t.fail(fail, err)
	}
	if cap(buf) > 8<<20 {
		buf = nil // do not keep a rare large append's buffer
	}
	t.w.buf = buf
	t.publish(act, sealed, cur)
	t.log.notify()
	if err := t.retain(time.UnixMilli(now)); err != nil {
		t.log.logger.Warn("topic log: retention failed (retried later)", "topic", t.name, "err", err)
	}
	return first, nil
}

// testHook, when set (tests), is called at each step of an append —
// "write" before a segment write, "sync" before its fsync, "synced" after
// it, "roll" before a new segment file is created — and fails the step
// with the error it returns.
var testHook func(step string) error

func hook(step string) error {
	if testHook == nil {
		return nil
	}
	return testHook(step)
}

// write appends b to the active segment and fsyncs it.
func (t *Topic) write(b []byte) error {
	if len(b) > 0 {
		err := hook("write")
		if err == nil {
			_, err = t.w.f.Write(b)
		}
		if err != nil {
			return fmt.Errorf("topic log: write %s: %w", t.w.f.Name(), err)
		}
	}
	err := hook("sync")
	if err == nil {
		err = t.w.f.Sync()
	}
	if err != nil {
		return fmt.Errorf("topic log: fsync %s: %w", t.w.f.Name(), err)
	}
	return hook("synced")
}

// roll seals the active segment cur (durable, with no append pending):
// writes its index and creates the next segment, which it returns, with
// the writer's file switched to it.
func (t *Topic) roll(cur *segment, fail *failed) (*segment, error) {
	cur.sealed = true
	fail.created = append(fail.created, indexPath(cur.path))
	if err := writeIndex(cur); err != nil {
		// Not fatal to the data: rebuilt at the next open.
		t.log.logger.Warn("topic log: cannot write a segment's index (it is rebuilt at the next open)", "file", indexPath(cur.path), "err", err)
	}
	if err := hook("roll"); err != nil {
		return nil, err
	}
	next := newSegment(t.dir, cur.next)
	fail.created = append(fail.created, next.path)
	f, err := createSegment(next)
	if err != nil {
		return nil, err
	}
	t.w.f.Close()
	t.w.f = f
	return next, nil
}

// publish makes an append visible: act (the active segment before it)
// becomes sealed[0] if the append sealed it, the other sealed segments
// follow, and cur is the active segment.
func (t *Topic) publish(act *segment, sealed []segment, cur segment) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(sealed) == 0 {
		*act = cur
		return
	}
	*act = sealed[0]
	for i := 1; i < len(sealed); i++ {
		s := sealed[i]
		t.mu.segs = append(t.mu.segs, &s)
	}
	t.mu.segs = append(t.mu.segs, &cur)
}

// fail records a failed append and tries to undo it at once; the next
// Append tries again if this attempt fails.
func (t *Topic) fail(f *failed, err error) error {
	t.w.broken = f
	if rerr := t.repair(); rerr != nil {
		t.log.logger.Warn("topic log: cannot undo a failed append yet (retried before the next)", "topic", t.name, "err", rerr)
	}
	return err
}

// repair undoes a failed append: it removes the files it created and cuts
// the active segment back to its durable size. The records it cuts were
// never visible nor acknowledged.
func (t *Topic) repair() error {
	f := t.w.broken
	if t.w.f != nil {
		t.w.f.Close()
		t.w.f = nil
	}
	for i := len(f.created) - 1; i >= 0; i-- {
		if err := os.Remove(f.created[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("topic log: undo a failed append: %w", err)
		}
	}
	w, err := os.OpenFile(f.active.path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("topic log: undo a failed append: %w", err)
	}
	err = w.Truncate(f.active.size)
	if err == nil {
		err = w.Sync()
	}
	if err == nil {
		err = durable.SyncDir(t.dir)
	}
	if err == nil {
		_, err = w.Seek(f.active.size, 0)
	}
	if err != nil {
		w.Close()
		return fmt.Errorf("topic log: undo a failed append to %s: %w", f.active.path, err)
	}
	t.w.f, t.w.broken = w, nil
	return nil
}
