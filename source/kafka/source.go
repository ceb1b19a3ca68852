package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
	"github.com/sluice-dev/sluice/internal/kafkautil"
)

// Config is the Kafka source's configuration.
type Config struct {
	kafkautil.Conn `yaml:",inline"`
	// Topics to consume; or TopicRegex, a regular expression (RE2)
	// matched against every topic's whole name.
	Topics     []string `yaml:"topics"`
	TopicRegex string   `yaml:"topic_regex"`
	// GroupID is the consumer group (default "sluice.<pipeline>.<name>").
	GroupID string `yaml:"group_id"`
	// InstanceID makes this member a static group member (KIP-345): a
	// restarted process rejoins at once with its partitions instead of
	// waiting for the dead member's session to expire. It must be unique
	// per running process of the group.
	InstanceID string `yaml:"instance_id"`
	// SessionTimeout is how long the group waits for a silent member
	// before giving its partitions to others (default 10s; the broker
	// bounds it by group.min/max.session.timeout.ms).
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// StartOffset is where a partition with neither a checkpoint nor a
	// committed group offset starts: earliest (default) or latest.
	StartOffset string `yaml:"start_offset"`
	// OnMalformed is stop (default) or skip: skip logs the message's
	// topic, partition, offset and error, then goes on.
	OnMalformed string `yaml:"on_malformed"`
	// StreamFromTopic names each event's stream after the topic it was
	// read from (Kafka Connect's sink connectors know records by topic:
	// `sluice serve --kafka` sets it for them) instead of the envelope's
	// prefix.schema.table, which a topic renamed by a JDBC source's
	// topic.prefix or a RegexRouter no longer matches.
	StreamFromTopic bool `yaml:"stream_from_topic"`
	// BatchSize caps the records per emitted batch.
	BatchSize int `yaml:"batch_size"`
	// FetchMaxBytes bounds what one fetch may buffer (default 16 MiB; the
	// client runs one fetch at a time, at most 1 MiB per partition); with
	// the engine's in-flight cap it bounds the source's memory.
	FetchMaxBytes int32 `yaml:"fetch_max_bytes"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() *Config {
	return &Config{Conn: kafkautil.DefaultConn(), StartOffset: "earliest", OnMalformed: "stop", BatchSize: 1024, FetchMaxBytes: 16 << 20,
		SessionTimeout: 10 * time.Second}
}

// Validate implements component.Validator.
func (c *Config) Validate() []error {
	errs := c.Conn.Validate()
	switch {
	case len(c.Topics) == 0 && c.TopicRegex == "":
		errs = append(errs, &component.FieldError{Field: "topics", Msg: "topics or topic_regex is required", Hint: "topics: [pg.public.customers]"})
	case len(c.Topics) > 0 && c.TopicRegex != "":
		errs = append(errs, &component.FieldError{Field: "topic_regex", Msg: "set either topics or topic_regex, not both"})
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
	if c.SessionTimeout <= 0 {
		errs = append(errs, &component.FieldError{Field: "session_timeout", Msg: "must be positive"})
	}
	if c.FetchMaxBytes < 1<<10 {
		errs = append(errs, &component.FieldError{Field: "fetch_max_bytes", Msg: "must be at least 1024"})
	}
	if c.BatchSize < 1 {
		errs = append(errs, &component.FieldError{Field: "batch_size", Msg: "must be at least 1"})
	}
	return errs
}

// Factory is the registry entry for type: kafka.
var Factory = component.SourceFactory{
	Doc:    "Debezium-format change events from Kafka topics (written by sluice or Debezium); offsets committed with the checkpoint",
	Config: func() any { return DefaultConfig() },
	// Streams keep the names they had upstream, so a round trip is exact.
	ForeignStreams: true,
	New: func(cfg any, env component.Env) (component.Source, error) {
		c := *cfg.(*Config)
		if c.GroupID == "" {
			c.GroupID = "sluice." + env.Pipeline + "." + env.Name
		}
		s, err := New(c, env.Logger)
		if err != nil {
			return nil, err
		}
		s.env = env
		return s, nil
	},
}

// offsets maps topic → partition → next offset to read.
type offsets map[string]map[int32]int64

func (o offsets) set(topic string, p int32, next int64) {
	m := o[topic]
	if m == nil {
		m = map[int32]int64{}
		o[topic] = m
	}
	m[p] = next
}

// checkpoint is offsets as JSON: {"topic":{"0":42}}.
func (o offsets) checkpoint() []byte {
	out := make(map[string]map[string]int64, len(o))
	for t, ps := range o {
		m := make(map[string]int64, len(ps))
		for p, off := range ps {
			m[strconv.Itoa(int(p))] = off
		}
		out[t] = m
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
		return nil, fmt.Errorf("kafka source: checkpoint: %w", err)
	}
	// kgo reads negative offsets as "the end" or "the start" of a
	// partition: a damaged one would skip or replay it silently.
	for t, ps := range in {
		for p, off := range ps {
			n, err := strconv.ParseInt(p, 10, 32)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("kafka source: checkpoint: topic %s: partition %q is not a partition number", t, p)
			}
			if off < 0 {
				return nil, fmt.Errorf("kafka source: checkpoint: topic %s partition %d: offset %d is negative", t, n, off)
			}
			o.set(t, int32(n), off)
		}
	}
	return o, nil
}

// Source consumes Kafka. Run owns the decoder and the read offsets; mu
// guards what the group callbacks and Committed share with it.
type Source struct {
	cfg Config
	log *slog.Logger
	env component.Env // names the keys in messages; the connect step's retry (engine.start_retry)

	mu struct {
		sync.Mutex
		cl    *kgo.Client
		start offsets                   // checkpoint offsets not yet applied to an assignment
		read  offsets                   // the next offset of every partition Run has emitted from
		owned map[string]map[int32]bool // partitions this member holds
	}
}

var _ component.Source = (*Source)(nil)

// New returns a source; it connects in Run.
func New(cfg Config, log *slog.Logger) (*Source, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, component.Permanent(fmt.Errorf("kafka source: %w", errors.Join(errs...)))
	}
	if cfg.GroupID == "" {
		return nil, component.Permanent(errors.New("kafka source: group_id is required"))
	}
	if log == nil {
		log = slog.Default()
	}
	s := &Source{cfg: cfg, log: log, env: component.Env{Logger: log}}
	s.mu.owned = map[string]map[int32]bool{}
	s.mu.read = offsets{}
	return s, nil
}

func (s *Source) client(checkpoint offsets) (*kgo.Client, error) {
	opts, err := s.cfg.Conn.Options()
	if err != nil {
		return nil, err
	}
	reset := kgo.NewOffset().AtStart()
	if s.cfg.StartOffset == "latest" {
		reset = kgo.NewOffset().AtEnd()
	}
	opts = append(opts,
		kgo.ConsumerGroup(s.cfg.GroupID),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(reset),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.SessionTimeout(s.cfg.SessionTimeout),
		kgo.FetchMaxBytes(s.cfg.FetchMaxBytes),
		kgo.FetchMaxPartitionBytes(min(s.cfg.FetchMaxBytes, 1<<20)),
		kgo.MaxConcurrentFetches(1),
		kgo.AdjustFetchOffsetsFn(s.adjust),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { s.own(m, true) }),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { s.own(m, false) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { s.own(m, false) }),
	)
	if s.cfg.InstanceID != "" {
		opts = append(opts, kgo.InstanceID(s.cfg.InstanceID))
	}
	if s.cfg.TopicRegex != "" {
		opts = append(opts, kgo.ConsumeTopics("^(?:"+s.cfg.TopicRegex+")$"), kgo.ConsumeRegex())
	} else {
		opts = append(opts, kgo.ConsumeTopics(s.cfg.Topics...))
	}
	s.mu.Lock()
	s.mu.start = checkpoint
	s.mu.Unlock()
	return kgo.NewClient(opts...)
}

// adjust starts each partition found in the checkpoint there, the first
// time it is assigned, and a partition assigned again (the group lost this
// member while its connection was cut, and took it back) after what Run
// has emitted from it: the group's offset lags behind by what no sink has
// acknowledged yet, which would otherwise come again, with checkpoints
// going back.
func (s *Source) adjust(_ context.Context, m map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, ps := range m {
		for p := range ps {
			if off, ok := s.mu.read[t][p]; ok {
				// Unless another member read on meanwhile and committed
				// past it.
				if g := ps[p].EpochOffset().Offset; g < off {
					ps[p] = kgo.NewOffset().At(off).WithEpoch(-1)
				}
				delete(s.mu.start[t], p)
				continue
			}
			if off, ok := s.mu.start[t][p]; ok {
				ps[p] = kgo.NewOffset().At(off).WithEpoch(-1)
				delete(s.mu.start[t], p)
			}
		}
	}
	return m, nil
}

func (s *Source) own(m map[string][]int32, owned bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, ps := range m {
		for _, p := range ps {
			if owned {
				if s.mu.owned[t] == nil {
					s.mu.owned[t] = map[int32]bool{}
				}
				s.mu.owned[t][p] = true
			} else {
				delete(s.mu.owned[t], p)
			}
		}
	}
}

// Run implements component.Source.
func (s *Source) Run(ctx context.Context, checkpoint []byte, out component.Emitter) error {
	next, err := parseCheckpoint(checkpoint)
	if err != nil {
		return component.Permanent(err)
	}
	start := offsets{}
	for t, ps := range next {
		for p, o := range ps {
			start.set(t, p, o)
		}
	}
	cl, err := s.client(start)
	if err != nil {
		return component.Permanent(fmt.Errorf("kafka source: %w", err))
	}
	s.mu.Lock()
	s.mu.cl = cl
	s.mu.Unlock()
	// The brokers may be down or still starting up: wait for them as
	// engine.start_retry says (the client retries on its own afterwards).
	_, err = component.Connect(ctx, s.env, "connect", kafkautil.Transient, func(ctx context.Context) (struct{}, error) {
		if err := cl.Ping(ctx); err != nil {
			return struct{}{}, s.cfg.Conn.ConnectError(err, "kafka source", s.env)
		}
		return struct{}{}, nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	ordered, err := s.totallyOrdered(ctx, cl)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}

	dec := format.NewDecoder()
	dec.StreamFromTopic = s.cfg.StreamFromTopic
	for {
		fetches := cl.PollRecords(ctx, s.cfg.BatchSize)
		if ctx.Err() != nil {
			return nil
		}
		if fetches.IsClientClosed() {
			return nil
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			if isFatal(err) && ferr == nil {
				ferr = fmt.Errorf("kafka source: fetch %s partition %d: %w", t, p, err)
				if a, ok := s.cfg.Conn.Refused(err, "kafka source", s.env); ok {
					ferr = a
				}
				return
			}
			s.log.Warn("kafka fetch error (retrying)", "topic", t, "partition", p, "err", err)
		})
		if ferr != nil {
			return ferr
		}
		events := make([]event.Event, 0, fetches.NumRecords())
		var bad error
		fetches.EachRecord(func(r *kgo.Record) {
			if bad != nil {
				return
			}
			e, err := dec.Decode(r.Topic, r.Key, r.Value)
			switch {
			case err == nil:
				e.Position = r.Topic + "/" + strconv.Itoa(int(r.Partition)) + "@" + strconv.FormatInt(r.Offset, 10)
				// The header is the Seq's first word; the second is the
				// envelope's lsn, which only PostgreSQL's source block has.
				// Without it events of one transaction (or, for sql_poll,
				// of one mode) would share a Seq, and sinks would skip all
				// but the first as replays: leave the Seq zero.
				for _, h := range r.Headers {
					if ordered && e.Source.HasLSN && h.Key == headerCommitLSN {
						e.Source.CommitLSN, _ = strconv.ParseUint(string(h.Value), 10, 64)
					}
				}
				events = append(events, e)
			case errors.Is(err, format.ErrTombstone):
			case s.cfg.OnMalformed == "skip":
				s.log.Error("skipping a malformed message (on_malformed: skip)", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", err)
			default:
				bad = fmt.Errorf("kafka source: malformed message at topic %s partition %d offset %d: %w (on_malformed: skip would log and skip it)", r.Topic, r.Partition, r.Offset, err)
				return
			}
			next.set(r.Topic, r.Partition, r.Offset+1)
		})
		s.mu.Lock()
		for t, ps := range next {
			for p, o := range ps {
				s.mu.read.set(t, p, o)
			}
		}
		s.mu.Unlock()
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
	}
}

// totallyOrdered reports whether the source reads one topic of one
// partition: only then do events arrive in their original order, so that
// the sluice.commit_lsn header may restore Event.Seq. Sinks that skip
// replays by Seq (SQL tables, S3) rely on a source's Seqs growing in the
// order it emits them; several partitions or topics interleave them.
func (s *Source) totallyOrdered(ctx context.Context, cl *kgo.Client) (bool, error) {
	if s.cfg.TopicRegex != "" || len(s.cfg.Topics) != 1 {
		return false, nil
	}
	topic := s.cfg.Topics[0]
	return component.Connect(ctx, s.env, "describe topic "+topic,
		func(err error) bool { return !component.IsPermanent(err) && !isFatal(err) && kafkautil.Transient(err) },
		func(ctx context.Context) (bool, error) {
			details, err := kadm.NewClient(cl).ListTopics(ctx, topic)
			if a, ok := s.cfg.Conn.Refused(err, "kafka source", s.env); ok {
				return false, a // retrying cannot help
			}
			if err != nil {
				return false, fmt.Errorf("kafka source: describe topic %s: %w", topic, err)
			}
			d := details[topic]
			switch {
			case d.Err == nil:
				return len(d.Partitions) == 1, nil
			case errors.Is(d.Err, kerr.UnknownTopicOrPartition):
				return false, nil // created later, with any number of partitions
			}
			return false, fmt.Errorf("kafka source: describe topic %s: %w", topic, d.Err)
		})
}

// headerCommitLSN is the header sluice's Kafka sink writes the commit LSN
// in (the envelope has no field for it).
const headerCommitLSN = "sluice.commit_lsn"

// isFatal reports fetch errors that retrying cannot fix.
func isFatal(err error) bool {
	return errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.GroupAuthorizationFailed) ||
		errors.Is(err, kerr.SaslAuthenticationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed) ||
		errors.Is(err, kerr.InvalidGroupID)
}

// Committed implements component.Source: it commits the checkpoint's
// offsets of the partitions this member owns to the consumer group.
func (s *Source) Committed(ctx context.Context, checkpoint []byte) error {
	o, err := parseCheckpoint(checkpoint)
	if err != nil {
		return err
	}
	s.mu.Lock()
	cl := s.mu.cl
	commit := map[string]map[int32]kgo.EpochOffset{}
	for t, ps := range o {
		for p, off := range ps {
			if !s.mu.owned[t][p] {
				continue
			}
			if commit[t] == nil {
				commit[t] = map[int32]kgo.EpochOffset{}
			}
			commit[t][p] = kgo.EpochOffset{Epoch: -1, Offset: off}
		}
	}
	s.mu.Unlock()
	if cl == nil || len(commit) == 0 {
		return nil
	}
	var cerr error
	cl.CommitOffsetsSync(ctx, commit, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			cerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil && cerr == nil {
					cerr = fmt.Errorf("topic %s partition %d: %w", t.Topic, p.Partition, err)
				}
			}
		}
	})
	if cerr != nil {
		return fmt.Errorf("kafka source: commit offsets of group %s: %w", s.cfg.GroupID, cerr)
	}
	return nil
}

// Close implements component.Source: it leaves the group.
func (s *Source) Close() error {
	s.mu.Lock()
	cl := s.mu.cl
	s.mu.Unlock()
	if cl != nil {
		cl.Close()
	}
	return nil
}
