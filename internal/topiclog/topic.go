package topiclog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/durable"
)

// Topic is one topic of a Log: a single partition of records in segment
// files under <log dir>/<name>-0. Appends are serialised; readers run
// concurrently with them and with each other.
type Topic struct {
	log  *Log
	name string
	dir  string

	// wmu serialises the writer's side: appends, retention, configuration.
	wmu sync.Mutex
	w   struct { // guarded by wmu
		f       *os.File // the active segment, open for appending
		broken  *failed  // an append that failed half-way, undone before the next
		buf     []byte   // framed records of an append
		scratch []byte   // one record's payload
	}

	// mu guards what readers see: the segments and the configuration.
	// Segment fields are read and written under it only.
	mu struct {
		sync.Mutex
		segs   []*segment // oldest first; the last is the active segment
		cfg    TopicConfig
		closed bool
	}
}

// TopicConfig is a topic's settings. They are kept in its directory
// (topic.json), so retention applies them whether or not a writer is
// attached.
type TopicConfig struct {
	// Retention deletes a segment once its newest record is older than
	// this (Kafka's retention.ms); 0 keeps records whatever their age.
	Retention time.Duration
	// RetentionBytes deletes the oldest segments while the topic without
	// them still holds this many bytes (Kafka's retention.bytes, per
	// partition); 0 sets no size limit.
	RetentionBytes int64
	// SegmentBytes is the size at which the active segment is closed and a
	// new one started (Kafka's segment.bytes). Retention deletes whole
	// segments only, and opening a topic reads its active segment whole.
	SegmentBytes int64
}

// Defaults of TopicConfig.
const (
	// DefaultRetention is Kafka's retention.ms: 7 days.
	DefaultRetention = 7 * 24 * time.Hour
	// DefaultRetentionBytes caps each topic at 8 GiB: room for the
	// snapshot of most tables, so that a reader created later still gets
	// the history, while one forgotten topic cannot fill an ordinary disk.
	// Kafka sets no cap by default.
	DefaultRetentionBytes = 8 << 30
	// DefaultSegmentBytes is 64 MiB (Kafka: 1 GiB): finer retention, and
	// a short read of the active segment when a topic opens.
	DefaultSegmentBytes = 64 << 20
	// MinSegmentBytes and MaxSegmentBytes bound SegmentBytes.
	MinSegmentBytes = 1 << 10
	MaxSegmentBytes = 1 << 30
)

// DefaultTopicConfig returns the defaults.
func DefaultTopicConfig() TopicConfig {
	return TopicConfig{Retention: DefaultRetention, RetentionBytes: DefaultRetentionBytes, SegmentBytes: DefaultSegmentBytes}
}

// Validate checks the configuration.
func (c TopicConfig) Validate() error {
	switch {
	case c.Retention < 0:
		return errors.New("retention must not be negative (0 keeps records whatever their age)")
	case c.RetentionBytes < 0:
		return errors.New("retention_bytes must not be negative (0 sets no size limit)")
	case c.SegmentBytes < MinSegmentBytes || c.SegmentBytes > MaxSegmentBytes:
		return fmt.Errorf("segment_bytes must be between %d and %d", MinSegmentBytes, MaxSegmentBytes)
	}
	return nil
}

// topicFile is topic.json.
type topicFile struct {
	RetentionMs    int64 `json:"retention_ms"`
	RetentionBytes int64 `json:"retention_bytes"`
	SegmentBytes   int64 `json:"segment_bytes"`
}

const configName = "topic.json"

func readConfig(dir string) (TopicConfig, error) {
	path := filepath.Join(dir, configName)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		// The crash came while the topic was being created.
		return DefaultTopicConfig(), nil
	}
	if err != nil {
		return TopicConfig{}, err
	}
	var f topicFile
	if err := json.Unmarshal(b, &f); err != nil {
		return TopicConfig{}, fmt.Errorf("topic log: %s is not a topic's settings (%v): fix it, or remove it to get the defaults", path, err)
	}
	c := TopicConfig{Retention: time.Duration(f.RetentionMs) * time.Millisecond, RetentionBytes: f.RetentionBytes, SegmentBytes: f.SegmentBytes}
	if err := c.Validate(); err != nil {
		return TopicConfig{}, fmt.Errorf("topic log: %s: %v: fix it, or remove it to get the defaults", path, err)
	}
	return c, nil
}

// writeConfig replaces topic.json durably.
func writeConfig(dir string, c TopicConfig) error {
	b, _ := json.Marshal(topicFile{RetentionMs: c.Retention.Milliseconds(), RetentionBytes: c.RetentionBytes, SegmentBytes: c.SegmentBytes})
	err := durable.WriteFile(filepath.Join(dir, configName), b, 0o666)
	if err != nil {
		return fmt.Errorf("topic log: write %s: %w", filepath.Join(dir, configName), err)
	}
	return nil
}

func topicDir(logDir, name string) string { return filepath.Join(logDir, name+"-0") }

// openTopic opens an existing topic: it checks its segments, cuts a torn
// tail off the active one, and rebuilds missing or damaged index files.
func openTopic(l *Log, name string) (*Topic, error) {
	t := &Topic{log: l, name: name, dir: topicDir(l.dir, name)}
	ents, err := os.ReadDir(t.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("topic log: topic %s: %w", name, ErrUnknownTopic)
	}
	if err != nil {
		return nil, fmt.Errorf("topic log: %w", err)
	}
	if t.mu.cfg, err = readConfig(t.dir); err != nil {
		return nil, err
	}
	var bases []int64
	for _, e := range ents {
		if b, ok := parseBase(e.Name()); ok {
			bases = append(bases, b)
		} else if strings.HasSuffix(e.Name(), ".tmp") {
			os.Remove(filepath.Join(t.dir, e.Name())) // an index or topic.json never renamed
		}
	}
	slices.Sort(bases)
	paths := make([]string, len(bases))
	for i, b := range bases {
		paths[i] = segmentPath(t.dir, b)
	}
	for i, base := range bases {
		s, err := t.openSegment(base, i == len(bases)-1, paths[:i], paths[i+1:])
		if err != nil {
			if t.w.f != nil {
				t.w.f.Close()
			}
			return nil, err
		}
		if i > 0 && s.base != t.mu.segs[i-1].next {
			prev := t.mu.segs[i-1]
			if t.w.f != nil {
				t.w.f.Close()
			}
			return nil, &DamagedError{Topic: name, Path: prev.path, At: prev.size, Lost: prev.next, Next: prev.next, Older: paths[:i-1], Newer: paths[i:],
				Detail: fmt.Sprintf("it ends before offset %d and the next segment file, %s, starts at offset %d: segment files are missing or were changed",
					prev.next, filepath.Base(s.path), s.base)}
		}
		t.mu.segs = append(t.mu.segs, s)
	}
	for _, e := range ents {
		// An index file whose segment retention deleted before the crash.
		if p, ok := strings.CutSuffix(e.Name(), ".index"); ok {
			if _, err := os.Stat(filepath.Join(t.dir, p+".log")); errors.Is(err, os.ErrNotExist) {
				os.Remove(filepath.Join(t.dir, e.Name()))
			}
		}
	}
	if len(bases) == 0 {
		// The crash came while the topic was being created.
		s := newSegment(t.dir, 0)
		if t.w.f, err = createSegment(s); err != nil {
			return nil, err
		}
		t.mu.segs = []*segment{s}
	}
	return t, nil
}

// openSegment loads one segment: a sealed one from its index file when that
// checks and agrees with the file's size, else by reading it whole; the
// active one (last) always by reading it whole, cutting a torn tail, and
// opening it for appending.
func (t *Topic) openSegment(base int64, last bool, older, newer []string) (*segment, error) {
	s := newSegment(t.dir, base)
	var indexSize int64 = -1
	if !last && readIndex(s) {
		st, err := os.Stat(s.path)
		if err != nil {
			return nil, fmt.Errorf("topic log: %w", err)
		}
		if st.Size() == s.size {
			return s, nil
		}
		indexSize = s.size
		s = newSegment(t.dir, base)
	}
	flag := os.O_RDONLY
	if last {
		flag = os.O_RDWR
	}
	f, err := os.OpenFile(s.path, flag, 0)
	if err != nil {
		return nil, fmt.Errorf("topic log: %w", err)
	}
	res, err := scan(f, s)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("topic log: read %s: %w", s.path, err)
	}
	damaged := func(detail string) error {
		f.Close()
		return &DamagedError{Topic: t.name, Path: s.path, Detail: detail, At: res.end, Lost: s.next, Next: -1, Older: older, Newer: newer}
	}
	switch {
	case res.damage != nil:
		return nil, damaged(res.damage.detail)
	case !last && indexSize >= 0:
		return nil, damaged(fmt.Sprintf("it has %d bytes where %d were written (its index says so): it was changed since", res.size, indexSize))
	case !last && res.end != res.size:
		return nil, damaged(fmt.Sprintf("it ends inside a record (bytes %d..%d): a segment is complete before the next one starts, so it was cut short", res.end, res.size))
	case !last:
		f.Close()
		s.sealed = true
		if err := writeIndex(s); err != nil {
			t.log.logger.Warn("topic log: cannot write a segment's index (it is rebuilt at the next open)", "file", indexPath(s.path), "err", err)
		}
		return s, nil
	}
	// The active segment. An index file is left only when a crash came
	// between sealing it and creating the next segment.
	if err := os.Remove(indexPath(s.path)); err != nil && !errors.Is(err, os.ErrNotExist) {
		f.Close()
		return nil, fmt.Errorf("topic log: %w", err)
	}
	if res.end < int64(len(segmentMagic)) || res.end < res.size {
		// Cut the tail: a record, or the magic line, that a crash cut
		// short before its append was acknowledged.
		t.log.logger.Info("topic log: cut a record torn by a crash (it was never acknowledged)", "topic", t.name, "file", s.path, "at", res.end, "bytes", res.size-res.end)
		err := f.Truncate(res.end)
		if err == nil && res.end < int64(len(segmentMagic)) {
			_, err = f.WriteAt([]byte(segmentMagic[res.end:]), res.end)
		}
		if err == nil {
			err = f.Sync()
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("topic log: repair %s: %w", s.path, err)
		}
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return nil, err
	}
	t.w.f = f
	return s, nil
}

// createSegment creates s's file with its magic line, fsyncs it and its
// directory, and returns it open for appending.
func createSegment(s *segment) (*os.File, error) {
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("topic log: create segment: %w", err)
	}
	_, err = f.Write([]byte(segmentMagic))
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = durable.SyncDir(filepath.Dir(s.path))
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("topic log: create segment %s: %w", s.path, err)
	}
	return f, nil
}

// Name returns the topic's name.
func (t *Topic) Name() string { return t.name }

// Offsets returns the topic's start offset (its oldest record's, or End
// when it holds none) and end offset (the next record's).
func (t *Topic) Offsets() (start, end int64, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.closed {
		return 0, 0, ErrClosed
	}
	return t.mu.segs[0].base, t.mu.segs[len(t.mu.segs)-1].next, nil
}

// Config returns the topic's settings.
func (t *Topic) Config() TopicConfig {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mu.cfg
}

// SetConfig changes the topic's settings (kept in topic.json).
func (t *Topic) SetConfig(c TopicConfig) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("topic log: topic %s: %w", t.name, err)
	}
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if t.Config() == c {
		return nil
	}
	if err := writeConfig(t.dir, c); err != nil {
		return err
	}
	t.mu.Lock()
	t.mu.cfg = c
	t.mu.Unlock()
	return nil
}

// close releases the writer's file; readers then get ErrClosed.
func (t *Topic) close() {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	t.mu.Lock()
	t.mu.closed = true
	t.mu.Unlock()
	if t.w.f != nil {
		t.w.f.Close()
		t.w.f = nil
	}
}

// damaged builds the error for damage a reader found in segment s.
func (t *Topic) damaged(s *segment, at, lost int64, detail string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := &DamagedError{Topic: t.name, Path: s.path, Detail: detail, At: at, Lost: lost, Next: -1}
	if s.sealed {
		e.Next = s.next
	}
	for _, o := range t.mu.segs {
		switch {
		case o.base < s.base:
			e.Older = append(e.Older, o.path)
		case o.base > s.base:
			e.Newer = append(e.Newer, o.path)
		}
	}
	return e
}
