package topiclog

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/durable"
)

// Options configure a Log.
type Options struct {
	// Logger receives retention's and recovery's records (default: none).
	Logger *slog.Logger
	// RetentionCheck is how often retention runs on every topic besides
	// after appends (default 5 minutes, Kafka's
	// log.retention.check.interval.ms).
	RetentionCheck time.Duration
	// Now is the clock (tests).
	Now func() time.Time
}

// Log is a directory of topics. One process owns a directory at a time
// (a lock file, .lock); inside it, every Open of the same directory shares
// one Log, so that the sinks and sources of all its pipelines see the same
// topics and readers are woken by appends.
type Log struct {
	dir    string
	logger *slog.Logger
	now    func() time.Time
	lockf  *os.File
	stop   chan struct{}
	done   chan struct{}

	refs int // guarded by the registry's lock

	// openMu serialises opening and creating topics.
	openMu sync.Mutex
	mu     struct {
		sync.Mutex
		topics map[string]*Topic
		closed bool
	}
	// nmu guards changed, closed and replaced at every append.
	nmu     sync.Mutex
	changed chan struct{}
}

// registry holds the logs this process has open, by absolute directory.
var registry struct {
	sync.Mutex
	logs map[string]*Log
}

// Open opens the log in dir, creating the directory if needed, or returns
// the Log this process already has open there (whose Options then hold;
// every Open needs its Close). It fails when another process holds the
// directory.
func Open(dir string, opts Options) (*Log, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("topic log: %w", err)
	}
	registry.Lock()
	defer registry.Unlock()
	if l := registry.logs[abs]; l != nil {
		l.refs++
		return l, nil
	}
	if err := durable.MkdirAll(abs); err != nil {
		return nil, fmt.Errorf("topic log: create %s: %w", abs, err)
	}
	lockf, err := lockDir(abs)
	if err != nil {
		return nil, err
	}
	l := &Log{dir: abs, logger: opts.Logger, now: opts.Now, lockf: lockf, stop: make(chan struct{}), done: make(chan struct{}),
		refs: 1, changed: make(chan struct{})}
	if l.logger == nil {
		l.logger = slog.New(slog.DiscardHandler)
	}
	if l.now == nil {
		l.now = time.Now
	}
	l.mu.topics = map[string]*Topic{}
	every := opts.RetentionCheck
	if every <= 0 {
		every = 5 * time.Minute
	}
	go l.retentionLoop(every)
	if registry.logs == nil {
		registry.logs = map[string]*Log{}
	}
	registry.logs[abs] = l
	return l, nil
}

// Dir returns the log's directory (absolute).
func (l *Log) Dir() string { return l.dir }

// Close releases this Open of the log; the last one closes its files and
// the lock (a Close after that does nothing). Readers then get ErrClosed.
func (l *Log) Close() error {
	registry.Lock()
	defer registry.Unlock()
	if l.refs == 0 {
		return nil // closed already
	}
	if l.refs--; l.refs > 0 {
		return nil
	}
	delete(registry.logs, l.dir)
	close(l.stop)
	<-l.done
	l.openMu.Lock()
	l.mu.Lock()
	l.mu.closed = true
	topics := l.mu.topics
	l.mu.Unlock()
	l.openMu.Unlock()
	for _, t := range topics {
		t.close()
	}
	l.notify()
	return l.lockf.Close()
}

// Changed returns a channel closed at the next append to any topic, topic
// creation or close: wait on it, then look (take it before looking, so
// that no append is missed).
func (l *Log) Changed() <-chan struct{} {
	l.nmu.Lock()
	defer l.nmu.Unlock()
	return l.changed
}

func (l *Log) notify() {
	l.nmu.Lock()
	close(l.changed)
	l.changed = make(chan struct{})
	l.nmu.Unlock()
}

// Topics returns the names of the log's topics, sorted.
func (l *Log) Topics() ([]string, error) {
	ents, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, fmt.Errorf("topic log: %w", err)
	}
	var names []string
	for _, e := range ents {
		if name, ok := strings.CutSuffix(e.Name(), "-0"); ok && e.IsDir() && ValidTopic(name) == nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// Topic returns an existing topic, opening it on first use (see openTopic:
// a torn tail is cut, damage is a *DamagedError). A topic that fails to
// open is tried again at the next call. It wraps ErrUnknownTopic for a
// topic that does not exist.
func (l *Log) Topic(name string) (*Topic, error) {
	if err := ValidTopic(name); err != nil {
		return nil, fmt.Errorf("topic log: %w", err)
	}
	l.mu.Lock()
	t, closed := l.mu.topics[name], l.mu.closed
	l.mu.Unlock()
	switch {
	case closed:
		return nil, ErrClosed
	case t != nil:
		return t, nil
	}
	l.openMu.Lock()
	defer l.openMu.Unlock()
	return l.openLocked(name)
}

func (l *Log) openLocked(name string) (*Topic, error) {
	l.mu.Lock()
	t, closed := l.mu.topics[name], l.mu.closed
	l.mu.Unlock()
	switch {
	case closed:
		return nil, ErrClosed
	case t != nil:
		return t, nil
	}
	t, err := openTopic(l, name)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.mu.topics[name] = t
	l.mu.Unlock()
	return t, nil
}

// CreateTopic returns topic name, creating it with cfg when it does not
// exist; an existing topic takes cfg as its new settings.
func (l *Log) CreateTopic(name string, cfg TopicConfig) (*Topic, error) {
	if err := ValidTopic(name); err != nil {
		return nil, fmt.Errorf("topic log: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("topic log: topic %s: %w", name, err)
	}
	l.openMu.Lock()
	defer l.openMu.Unlock()
	t, err := l.openLocked(name)
	if err == nil {
		return t, t.SetConfig(cfg)
	}
	if !errors.Is(err, ErrUnknownTopic) {
		return nil, err
	}
	// The directory, its settings and its first segment, each durable
	// before the next: a crash in between leaves a topic that opens (with
	// the defaults, or an empty first segment).
	dir := topicDir(l.dir, name)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("topic log: create topic %s: %w", name, err)
	}
	if err := durable.SyncDir(l.dir); err != nil {
		return nil, fmt.Errorf("topic log: create topic %s: %w", name, err)
	}
	if err := writeConfig(dir, cfg); err != nil {
		return nil, err
	}
	s := newSegment(dir, 0)
	f, err := createSegment(s)
	if err != nil {
		return nil, err
	}
	f.Close()
	if t, err = l.openLocked(name); err != nil {
		return nil, err
	}
	l.notify()
	return t, nil
}

// retentionLoop applies every topic's retention every period until Close.
func (l *Log) retentionLoop(every time.Duration) {
	defer close(l.done)
	tick := time.NewTicker(every)
	defer tick.Stop()
	reported := map[string]string{}
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
		}
		names, err := l.Topics()
		if err != nil {
			l.logger.Warn("topic log: retention cannot list topics", "dir", l.dir, "err", err)
			continue
		}
		for _, name := range names {
			select {
			case <-l.stop:
				return
			default:
			}
			t, err := l.Topic(name)
			if err == nil {
				err = t.Retain()
			}
			// A damaged topic is reported once, not at every pass.
			if msg := fmt.Sprint(err); err != nil && reported[name] != msg {
				l.logger.Warn("topic log: retention skips a topic", "topic", name, "err", err)
				reported[name] = msg
			}
		}
	}
}
