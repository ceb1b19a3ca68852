package topiclog

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/sluice-dev/sluice/internal/durable"
)

// Retain applies the topic's retention now (the Log does it after appends
// and every Options.RetentionCheck).
func (t *Topic) Retain() error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	return t.retain(t.log.now())
}

// retain deletes the oldest segments that retention gives up, whole, as
// Kafka does: by age, those whose newest record is older than Retention
// (the active segment too, once its newest record is: it is sealed first,
// and an empty segment takes its place); by size, the oldest while the
// topic without them still holds RetentionBytes. Records are deleted
// whether or not a reader has read them: a reader behind the new start
// gets an *OutOfRangeError. Called with wmu held.
func (t *Topic) retain(now time.Time) error {
	t.mu.Lock()
	cfg, segs, closed := t.mu.cfg, t.mu.segs, t.mu.closed
	drop, expired := 0, false
	if cfg.Retention > 0 {
		cutoff := now.Add(-cfg.Retention).UnixMilli()
		for drop < len(segs)-1 && segs[drop].maxTs < cutoff {
			drop++
		}
		act := segs[len(segs)-1]
		expired = drop == len(segs)-1 && act.next > act.base && act.maxTs < cutoff
	}
	t.mu.Unlock()
	if closed || t.w.broken != nil {
		return nil
	}
	if expired {
		if err := t.rollIdle(); err != nil {
			return err
		}
		t.mu.Lock()
		segs = t.mu.segs
		t.mu.Unlock()
		drop++
	}
	if cfg.RetentionBytes > 0 {
		t.mu.Lock()
		var total int64
		for _, s := range segs[drop:] {
			total += s.size
		}
		for drop < len(segs)-1 && total-segs[drop].size >= cfg.RetentionBytes {
			total -= segs[drop].size
			drop++
		}
		t.mu.Unlock()
	}
	if drop == 0 {
		return nil
	}
	gone := segs[:drop]
	t.mu.Lock()
	t.mu.segs = append([]*segment(nil), t.mu.segs[drop:]...)
	start := t.mu.segs[0].base
	t.mu.Unlock()
	why := "size"
	if cfg.Retention > 0 && gone[len(gone)-1].maxTs < now.Add(-cfg.Retention).UnixMilli() {
		why = "age"
	}
	t.log.logger.Info("topic log: retention deleted old records", "topic", t.name, "offsets", fmt.Sprintf("%d..%d", gone[0].base, start-1),
		"segments", len(gone), "by", why)
	// Oldest first, each made durable before the next: a crash never
	// leaves a hole in the middle of a topic.
	for _, s := range gone {
		if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("topic log: retention: %w", err)
		}
		if err := os.Remove(indexPath(s.path)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("topic log: retention: %w", err)
		}
		if err := durable.SyncDir(t.dir); err != nil {
			return fmt.Errorf("topic log: retention: %w", err)
		}
	}
	return nil
}

// rollIdle seals the active segment, durable with no append pending, and
// starts an empty one. Called with wmu held.
func (t *Topic) rollIdle() error {
	t.mu.Lock()
	act := t.mu.segs[len(t.mu.segs)-1]
	cur := *act
	t.mu.Unlock()
	fail := &failed{active: cur}
	next, err := t.roll(&cur, fail)
	if err != nil {
		return t.fail(fail, err)
	}
	t.publish(act, []segment{cur}, *next)
	return nil
}
