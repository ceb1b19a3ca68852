// Package topiclog is the topic-log sink (type: topiclog): it appends
// every event to a topic of the local topic log (internal/topiclog) as the
// record sluice's Kafka sink would produce — same topic name, Debezium key
// and value, tombstones, key-change split and sluice.* headers, built by
// the same code (internal/kafkarec) — so that the topic-log source
// (source/topiclog), like the Kafka source, reads the events back
// losslessly. `sluice serve` hands the events of one connector to the next
// through it, without a Kafka cluster.
//
// # Durability
//
// Write returns once every record of the batch is appended and fsynced
// (topiclog.Topic.Append), topic by topic: the checkpoint then moves past
// durable records only. A Write that fails part way (a disk error) has
// appended the records of the topics before the failing one; the engine's
// retry appends them again — at least once, as a retried Kafka produce —
// and readers that skip what they have read see every change once, in
// order per key.
//
// # Topics
//
// A topic is created at its first record with the sink's retention,
// retention_bytes and segment_bytes, which the sink sets again on an
// existing topic when they differ (the topic log keeps them with the
// topic, so retention applies them with no sink attached).
//
// # Errors
//
// An event that can never be written — its topic does not render or is not
// a valid topic name, the encoder rejects it, a record larger than
// max_record_bytes — is reported in component.RecordErrors (the engine
// dead-letters it) while every other event of the Write is appended.
// A topic log that is damaged, or locked by another process, fails the
// Write with the topic log's error (naming the file and the way out).
package topiclog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
	"github.com/sluice-dev/sluice/internal/kafkarec"
	"github.com/sluice-dev/sluice/internal/tmpl"
	"github.com/sluice-dev/sluice/internal/topiclog"
)

// Config is the topic-log sink's configuration.
type Config struct {
	// Dir is the topic log's directory. One sluice process owns it at a
	// time; the pipelines of that process share it (`sluice serve` sets it
	// to <state dir>/topics).
	Dir string `yaml:"dir"`
	// Topic is the topic template (internal/tmpl); the default
	// "${stream}" is Debezium's <topic.prefix>.<schema>.<table>, the prefix
	// being the source's name.
	Topic          string `yaml:"topic"`
	format.Options `yaml:",inline"`
	// TombstonesOnDelete writes a null-valued record with the same key after
	// every delete (Debezium's tombstones.on.delete, default true).
	TombstonesOnDelete bool `yaml:"tombstones_on_delete"`
	// Headers adds the sluice.* headers to every record (default true).
	Headers bool `yaml:"headers"`
	// Retention deletes records once they are older than this, whole
	// segments at a time (Kafka's retention.ms; default 7 days; 0 keeps
	// them whatever their age).
	Retention time.Duration `yaml:"retention"`
	// RetentionBytes caps each topic: its oldest segments are deleted while
	// the topic without them still holds this many bytes (default 8 GiB;
	// 0 sets no cap).
	RetentionBytes int64 `yaml:"retention_bytes"`
	// SegmentBytes is the size of a topic's segment files (default 64 MiB),
	// the unit that retention deletes.
	SegmentBytes int64 `yaml:"segment_bytes"`
	// MaxRecordBytes caps one record's key, value and headers (default
	// 1 MiB, Kafka's max.message.bytes); a larger record is rejected alone
	// (a dead letter).
	MaxRecordBytes int `yaml:"max_record_bytes"`

	topic *tmpl.Template
}

// DefaultConfig returns the defaults.
func DefaultConfig() *Config {
	return &Config{
		Topic:              "${stream}",
		Options:            format.DefaultOptions(),
		TombstonesOnDelete: true,
		Headers:            true,
		Retention:          topiclog.DefaultRetention,
		RetentionBytes:     topiclog.DefaultRetentionBytes,
		SegmentBytes:       topiclog.DefaultSegmentBytes,
		MaxRecordBytes:     1 << 20,
	}
}

// Validate implements component.Validator.
func (c *Config) Validate() []error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, &component.FieldError{Field: "dir", Msg: "is required", Hint: "dir: .sluice/topics"})
	}
	t, err := tmpl.Parse(c.Topic)
	switch {
	case err != nil:
		errs = append(errs, &component.FieldError{Field: "topic", Msg: err.Error(), Hint: "topic: ${source}.${schema}.${table}"})
	case c.Topic == "":
		errs = append(errs, &component.FieldError{Field: "topic", Msg: "is empty", Hint: "topic: ${stream}"})
	default:
		c.topic = t
	}
	if _, err := format.New(c.Options); err != nil {
		errs = append(errs, &component.FieldError{Field: "format", Msg: err.Error()})
	}
	tc := c.topicConfig()
	if err := tc.Validate(); err != nil {
		field := "segment_bytes"
		switch {
		case tc.Retention < 0:
			field = "retention"
		case tc.RetentionBytes < 0:
			field = "retention_bytes"
		}
		errs = append(errs, &component.FieldError{Field: field, Msg: err.Error()})
	}
	if c.MaxRecordBytes < 1 || c.MaxRecordBytes > 1<<30 {
		errs = append(errs, &component.FieldError{Field: "max_record_bytes", Msg: "must be between 1 and 1073741824"})
	}
	return errs
}

func (c *Config) topicConfig() topiclog.TopicConfig {
	return topiclog.TopicConfig{Retention: c.Retention, RetentionBytes: c.RetentionBytes, SegmentBytes: c.SegmentBytes}
}

// Factory is the registry entry for type: topiclog.
var Factory = component.SinkFactory{
	Doc:    "topics of the local topic log (Kafka's records without Kafka: Debezium naming, key and envelope), fsynced before acknowledging",
	Config: func() any { return DefaultConfig() },
	New: func(cfg any, env component.Env) (component.Sink, error) {
		return New(*cfg.(*Config), env)
	},
}

// Sink appends events to the topic log. Write and Close are called from
// one goroutine.
type Sink struct {
	cfg     Config
	env     component.Env
	builder kafkarec.Builder
	log     *topiclog.Log              // opened at the first Write
	topics  map[string]*topiclog.Topic // created (with the sink's settings) by this sink
	built   []kafkarec.Record
	byTopic map[string][]topiclog.Record
	order   []string // topics of this Write, in first-record order
}

var _ component.Sink = (*Sink)(nil)

// New returns a sink; it opens the topic log at the first Write.
func New(cfg Config, env component.Env) (*Sink, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, component.Permanent(fmt.Errorf("topiclog sink: %w", errors.Join(errs...)))
	}
	enc, err := format.New(cfg.Options)
	if err != nil {
		return nil, component.Permanent(fmt.Errorf("topiclog sink: %w", err))
	}
	s := &Sink{cfg: cfg, env: env, topics: map[string]*topiclog.Topic{}, byTopic: map[string][]topiclog.Record{}}
	s.builder = kafkarec.Builder{Topic: cfg.topic, TopicText: cfg.Topic, Enc: enc, Options: &s.cfg.Options,
		TombstonesOnDelete: cfg.TombstonesOnDelete, Headers: cfg.Headers}
	return s, nil
}

// Write implements component.Sink.
func (s *Sink) Write(ctx context.Context, events []event.Event) error {
	if s.log == nil {
		l, err := topiclog.Open(s.cfg.Dir, topiclog.Options{Logger: s.env.Logger})
		if err != nil {
			return fmt.Errorf("topiclog sink: %w", err)
		}
		s.log = l
	}
	bad := map[int]error{}
	s.built = s.built[:0]
	for i := range events {
		var err error
		if s.built, err = s.builder.Append(s.built, i, &events[i]); err != nil {
			bad[i] = err
		}
	}
	for _, r := range s.built {
		if bad[r.Event] != nil {
			continue
		}
		if err := topiclog.ValidTopic(r.Topic); err != nil {
			bad[r.Event] = err
			continue
		}
		if n := recordSize(&r); n > s.cfg.MaxRecordBytes {
			bad[r.Event] = fmt.Errorf("topic %s: the record is %d bytes long, more than max_record_bytes (%d)", r.Topic, n, s.cfg.MaxRecordBytes)
		}
	}
	// Per topic, in the order given: per-key order holds, as on a Kafka
	// partition.
	clear(s.byTopic)
	s.order = s.order[:0]
	for _, r := range s.built {
		if bad[r.Event] != nil {
			continue
		}
		if _, ok := s.byTopic[r.Topic]; !ok {
			s.order = append(s.order, r.Topic)
		}
		rec := topiclog.Record{Key: r.Key, Value: r.Value}
		if len(r.Headers) > 0 {
			rec.Headers = make([]topiclog.Header, len(r.Headers))
			for j, h := range r.Headers {
				rec.Headers[j] = topiclog.Header{Key: h.Key, Value: h.Value}
			}
		}
		s.byTopic[r.Topic] = append(s.byTopic[r.Topic], rec)
	}
	for _, name := range s.order {
		if err := ctx.Err(); err != nil {
			return err
		}
		tp, err := s.topic(name)
		if err != nil {
			return err
		}
		if _, err := tp.Append(s.byTopic[name]); err != nil {
			return fmt.Errorf("topiclog sink: %w", err)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	var out component.RecordErrors
	for i := range events {
		if err := bad[i]; err != nil {
			out = append(out, component.RecordError{Index: i, Err: err})
		}
	}
	return out
}

// topic returns topic name, created or set to the sink's settings at its
// first use by this sink.
func (s *Sink) topic(name string) (*topiclog.Topic, error) {
	if tp := s.topics[name]; tp != nil {
		return tp, nil
	}
	tp, err := s.log.CreateTopic(name, s.cfg.topicConfig())
	if err != nil {
		return nil, fmt.Errorf("topiclog sink: %w", err)
	}
	s.topics[name] = tp
	return tp, nil
}

// recordSize is what max_record_bytes counts: key, value and headers.
func recordSize(r *kafkarec.Record) int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// Close implements component.Sink: every acknowledged record is durable
// already; it releases the topic log.
func (s *Sink) Close(context.Context) error {
	if s.log == nil {
		return nil
	}
	err := s.log.Close()
	s.log = nil
	s.topics = map[string]*topiclog.Topic{}
	return err
}
