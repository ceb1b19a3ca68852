// Package topiclog is the topic-log source (type: topiclog): it reads
// topics of the local topic log (internal/topiclog) — written by the
// topic-log sink as sluice's Kafka sink would write Kafka topics — and
// emits their Debezium change events, decoded by format.Decoder exactly as
// the Kafka source decodes Kafka records (see source/kafka for what a
// round trip keeps). In `sluice serve` it is the front of a sink
// connector: topics / topics.regex, from the earliest retained offset, as
// a new consumer group with auto.offset.reset=earliest.
//
// # Topics
//
// topics names them; topic_regex (RE2, matched against the whole name)
// selects every topic that matches, those created later included: the
// source looks for new topics whenever the log changes. A topic named in
// topics that does not exist yet is waited for.
//
// # Offsets and the checkpoint
//
// The checkpoint is the next offset of every topic read so far, in the
// Kafka source's shape ({"topic":{"0":offset}}: a topic log topic is one
// partition, 0), so the control plane shows and sets both the same way. A
// topic found in the checkpoint resumes there; another starts at
// start_offset: earliest (default: its oldest retained record) or latest.
// Reading does not hold records back from retention, as in Kafka: an
// offset that retention deleted (or beyond the end, after the log was
// replaced) resumes as start_offset says, with a warning naming the topic
// and the offsets lost. Committed has nothing to do: the checkpoint is the
// only record of what was read.
//
// Event.Seq is restored from the sluice.commit_lsn header only when the
// source reads exactly one topic (as the Kafka source, for the same
// reason: several topics interleave Seqs).
//
// Tombstones are skipped. A record that is not a Debezium change event
// stops the source with an error naming topic and offset (on_malformed:
// stop), or is logged at error level and skipped (on_malformed: skip). A
// damaged segment file stops the source with the topic log's error, which
// names the file and the ways out.
package topiclog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
	"github.com/sluice-dev/sluice/internal/kafkarec"
	"github.com/sluice-dev/sluice/internal/topiclog"
)

// Config is the topic-log source's configuration.
type Config struct {
	// Dir is the topic log's directory (the topic-log sink's dir). One
	// sluice process owns it at a time; its pipelines share it.
	Dir string `yaml:"dir"`
	// Topics to read; or TopicRegex, a regular expression (RE2) matched
	// against every topic's whole name, topics created later included.
	Topics     []string `yaml:"topics"`
	TopicRegex string   `yaml:"topic_regex"`
	// StartOffset is where a topic not in the checkpoint starts, and where
	// a reader whose offset retention deleted goes on: earliest (default)
	// or latest.
	StartOffset string `yaml:"start_offset"`
	// OnMalformed is stop (default) or skip: skip logs the record's topic,
	// offset and error, then goes on.
	OnMalformed string `yaml:"on_malformed"`
	// StreamFromTopic names each event's stream after the topic it was
	// read from (Kafka Connect's sink connectors know records by topic:
	// `sluice serve` sets it for them) instead of the envelope's
	// prefix.schema.table, which a topic renamed by a JDBC source's
	// topic.prefix or a RegexRouter no longer matches.
	StreamFromTopic bool `yaml:"stream_from_topic"`
	// BatchSize caps the records per emitted batch.
	BatchSize int `yaml:"batch_size"`
	// BatchBytes caps the record bytes read per emitted batch (one record
	// at least).
	BatchBytes int `yaml:"batch_bytes"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() *Config {
	return &Config{StartOffset: "earliest", OnMalformed: "stop", BatchSize: 1024, BatchBytes: 16 << 20}
}

// Validate implements component.Validator.
func (c *Config) Validate() []error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, &component.FieldError{Field: "dir", Msg: "is required", Hint: "dir: .sluice/topics"})
	}
	switch {
	case len(c.Topics) == 0 && c.TopicRegex == "":
		errs = append(errs, &component.FieldError{Field: "topics", Msg: "topics or topic_regex is required", Hint: "topics: [pg.public.customers]"})
	case len(c.Topics) > 0 && c.TopicRegex != "":
		errs = append(errs, &component.FieldError{Field: "topic_regex", Msg: "set either topics or topic_regex, not both"})
	}
	for _, t := range c.Topics {
		if err := topiclog.ValidTopic(t); err != nil {
			errs = append(errs, &component.FieldError{Field: "topics", Msg: err.Error()})
		}
	}
	if c.TopicRegex != "" {
		if _, err := regexp.Compile(c.TopicRegex); err != nil {
			errs = append(errs, &component.FieldError{Field: "topic_regex", Msg: err.Error()})
		}
	}
	if c.StartOffset != "earliest" && c.StartOffset != "latest" {
		errs = append(errs, &component.FieldError{Field: "start_offset", Msg: fmt.Sprintf("unknown value %q", c.StartOffset), Hint: "earliest or latest"})
	}
	if c.OnMalformed != "stop" && c.OnMalformed != "skip" {
		errs = append(errs, &component.FieldError{Field: "on_malformed", Msg: fmt.Sprintf("unknown value %q", c.OnMalformed), Hint: "stop or skip"})
	}
	if c.BatchSize < 1 {
		errs = append(errs, &component.FieldError{Field: "batch_size", Msg: "must be at least 1"})
	}
	if c.BatchBytes < 1 {
		errs = append(errs, &component.FieldError{Field: "batch_bytes", Msg: "must be at least 1"})
	}
	return errs
}

// Factory is the registry entry for type: topiclog.
var Factory = component.SourceFactory{
	Doc:    "Debezium-format change events from topics of the local topic log (written by the topiclog sink); checkpoint = offsets per topic",
	Config: func() any { return DefaultConfig() },
	// Streams keep the names they had upstream, so a round trip is exact.
	ForeignStreams: true,
	New: func(cfg any, env component.Env) (component.Source, error) {
		return New(*cfg.(*Config), env)
	},
}

// Source reads the topic log. Run owns everything but cfg.
type Source struct {
	cfg Config
	log *slog.Logger
	re  *regexp.Regexp
	lg  *topiclog.Log
}

var _ component.Source = (*Source)(nil)

// New returns a source; it opens the topic log in Run.
func New(cfg Config, env component.Env) (*Source, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, component.Permanent(fmt.Errorf("topiclog source: %w", errors.Join(errs...)))
	}
	s := &Source{cfg: cfg, log: env.Logger}
	if s.log == nil {
		s.log = slog.Default()
	}
	if cfg.TopicRegex != "" {
		s.re = regexp.MustCompile("^(?:" + cfg.TopicRegex + ")$")
	}
	return s, nil
}

// offsets maps a topic to the next offset to read.
type offsets map[string]int64

// checkpoint is the Kafka source's shape: {"topic":{"0":42}}.
func (o offsets) checkpoint() []byte {
	out := make(map[string]map[string]int64, len(o))
	for t, off := range o {
		out[t] = map[string]int64{"0": off}
	}
	b, _ := json.Marshal(out)
	return b
}

func parseCheckpoint(b []byte) (offsets, error) {
	o := offsets{}
	if len(b) == 0 {
		return o, nil
	}
	var in map[string]map[string]int64
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("topiclog source: checkpoint: %w", err)
	}
	for t, ps := range in {
		for p, off := range ps {
			if p != "0" {
				return nil, fmt.Errorf("topiclog source: checkpoint: topic %s: partition %q: a topic log topic has partition 0 only", t, p)
			}
			if off < 0 {
				return nil, fmt.Errorf("topiclog source: checkpoint: topic %s: offset %d is negative", t, off)
			}
			o[t] = off
		}
	}
	return o, nil
}

// reader is one topic being read.
type reader struct {
	name string
	r    *topiclog.Reader
}

// Run implements component.Source.
func (s *Source) Run(ctx context.Context, checkpoint []byte, out component.Emitter) error {
	next, err := parseCheckpoint(checkpoint)
	if err != nil {
		return component.Permanent(err)
	}
	lg, err := topiclog.Open(s.cfg.Dir, topiclog.Options{Logger: s.log})
	if err != nil {
		return component.Permanent(fmt.Errorf("topiclog source: %w", err))
	}
	s.lg = lg
	ordered := s.re == nil && len(s.cfg.Topics) == 1
	dec := format.NewDecoder()
	dec.StreamFromTopic = s.cfg.StreamFromTopic
	var readers []*reader
	defer func() {
		for _, r := range readers {
			r.r.Close()
		}
	}()
	var recs []topiclog.Record
	turn := 0
	for {
		changed := lg.Changed() // before looking, so no append is missed
		if readers, err = s.attach(readers, next); err != nil {
			return err
		}
		events := make([]event.Event, 0, 16)
		// Round robin over the topics, one batch from the first that has
		// records.
		var from *reader
		for k := range readers {
			rd := readers[(turn+k)%len(readers)]
			if recs, err = s.read(rd, recs[:0]); err != nil {
				return err
			}
			if len(recs) > 0 {
				from, turn = rd, (turn+k+1)%len(readers)
				break
			}
		}
		if from == nil {
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				return nil
			}
		}
		var bad error
		for _, r := range recs {
			e, err := dec.Decode(from.name, r.Key, r.Value)
			switch {
			case err == nil:
				e.Position = from.name + "/0@" + strconv.FormatInt(r.Offset, 10)
				for _, h := range r.Headers {
					if ordered && e.Source.HasLSN && h.Key == kafkarec.HeaderCommitLSN {
						e.Source.CommitLSN, _ = strconv.ParseUint(string(h.Value), 10, 64)
					}
				}
				events = append(events, e)
			case errors.Is(err, format.ErrTombstone):
			case s.cfg.OnMalformed == "skip":
				s.log.Error("skipping a malformed record (on_malformed: skip)", "topic", from.name, "offset", r.Offset, "err", err)
			default:
				bad = fmt.Errorf("topiclog source: malformed record at topic %s offset %d: %w (on_malformed: skip would log and skip it)", from.name, r.Offset, err)
			}
			if bad != nil {
				break
			}
			next[from.name] = r.Offset + 1
		}
		if len(events) > 0 {
			if err := out.Emit(ctx, events, next.checkpoint()); err != nil {
				if ctx.Err() != nil || errors.Is(err, component.ErrStopped) {
					return nil
				}
				return err
			}
		}
		if bad != nil {
			return component.Permanent(bad)
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// attach adds readers for the topics to read that exist now and have none
// yet: at their checkpoint offset, else at start_offset.
func (s *Source) attach(readers []*reader, next offsets) ([]*reader, error) {
	names := s.cfg.Topics
	if s.re != nil {
		all, err := s.lg.Topics()
		if err != nil {
			return readers, fmt.Errorf("topiclog source: %w", err)
		}
		names = nil
		for _, n := range all {
			if s.re.MatchString(n) {
				names = append(names, n)
			}
		}
	}
	for _, name := range names {
		if slices.ContainsFunc(readers, func(r *reader) bool { return r.name == name }) {
			continue
		}
		tp, err := s.lg.Topic(name)
		if errors.Is(err, topiclog.ErrUnknownTopic) {
			continue // not created yet
		}
		if err != nil {
			return readers, component.Permanent(fmt.Errorf("topiclog source: %w", err))
		}
		off, ok := next[name]
		if !ok {
			start, end, err := tp.Offsets()
			if err != nil {
				return readers, fmt.Errorf("topiclog source: %w", err)
			}
			off = start
			if s.cfg.StartOffset == "latest" {
				off = end
			}
			// Only once something is emitted does the checkpoint hold it:
			// until then a restart starts by start_offset again.
		}
		readers = append(readers, &reader{name: name, r: tp.NewReader(off)})
	}
	return readers, nil
}

// read reads the next records of rd; an offset out of the topic's range
// resumes at start_offset, with a warning naming what is lost.
func (s *Source) read(rd *reader, dst []topiclog.Record) ([]topiclog.Record, error) {
	out, err := rd.r.Read(dst, s.cfg.BatchSize, s.cfg.BatchBytes)
	var oor *topiclog.OutOfRangeError
	switch {
	case err == nil:
		return out, nil
	case errors.As(err, &oor):
		to := oor.Start
		if s.cfg.StartOffset == "latest" {
			to = oor.End
		}
		if oor.Offset < oor.Start {
			s.log.Warn("topiclog source: records were deleted by retention before they were read; going on as start_offset says",
				"topic", rd.name, "lost", fmt.Sprintf("%d..%d", oor.Offset, oor.Start-1), "resume", to, "start_offset", s.cfg.StartOffset)
		} else {
			s.log.Warn("topiclog source: the checkpoint is beyond the topic's end (the log was replaced or cut short); going on as start_offset says",
				"topic", rd.name, "checkpoint", oor.Offset, "end", oor.End, "resume", to, "start_offset", s.cfg.StartOffset)
		}
		rd.r.SetOffset(to)
		return s.read(rd, dst) // in range now, unless retention ran again

	case errors.Is(err, topiclog.ErrClosed):
		return dst, err
	}
	return dst, component.Permanent(fmt.Errorf("topiclog source: %w", err))
}

// Committed implements component.Source: the checkpoint is the only
// record of what was read, so there is nothing to do.
func (s *Source) Committed(context.Context, []byte) error { return nil }

// Close implements component.Source: it releases the topic log.
func (s *Source) Close() error {
	if s.lg == nil {
		return nil
	}
	err := s.lg.Close()
	s.lg = nil
	return err
}
