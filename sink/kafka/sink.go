// Package kafka is the Kafka sink (type: kafka): one record per event, on a
// topic per stream, as Debezium's Kafka Connect deployment would write it,
// so existing Debezium consumers keep working.
//
// # Records
//
// internal/kafkarec builds them (shared with the topic-log sink, so both
// write the same bytes):
//
//   - Topic: the topic template, by default "${stream}" =
//     <source>.<schema>.<table>, Debezium's <topic.prefix>.<schema>.<table>.
//   - Key: the row key as Debezium's key converter writes it (with the schema
//     part under format debezium+schema); a table without a key, and a
//     truncate, get a null key.
//   - Value: the event in the configured format (format.Options); a
//     delete is followed by a tombstone (same key, null value) when
//     tombstones_on_delete is on, as Debezium does, unless the value itself
//     is already null (row format with delete_handling: tombstone). With
//     delete_handling: drop the delete itself writes nothing but the
//     tombstone still follows (set tombstones_on_delete: false to match
//     Debezium's drop.tombstones).
//   - An update that changes the key becomes, as in Debezium, a delete of
//     the old key (plus its tombstone) and a create of the new key, with the
//     __debezium.newkey / __debezium.oldkey headers: per-key order then
//     holds on every partition and compaction forgets the old key.
//   - Headers (headers: true): sluice.stream, sluice.source (the source's
//     name), sluice.op (c, u, d, r, t), sluice.position (the source position,
//     e.g. "lsn 0/16B3748"), sluice.ts_ms (the source's commit time,
//     decimal milliseconds) and, when the source has it, sluice.commit_lsn
//     (the transaction's commit LSN, which the envelope lacks; sluice's
//     Kafka source restores it). Tombstones carry the delete's headers.
//
// # Durability and order
//
// The producer is idempotent with acks=all (franz-go's defaults, asserted
// here), and Write returns only after every record's produce result: it is
// durable on all in-sync replicas. Records are partitioned by key with
// Kafka's murmur2 hash (kgo.StickyKeyPartitioner with the Kafka hasher), so
// every change of a key lands on the partition Kafka's Java producer and
// Debezium would choose, in order: the idempotent producer keeps order per
// partition even with several requests in flight. Keyless records are spread
// stickily, without order between partitions.
//
// # Errors
//
// A record that can never be written — larger than max_message_bytes, an
// invalid topic name, a value the encoder rejects, a topic template that
// cannot be rendered — is reported in component.RecordErrors (so the engine
// dead-letters it) while every other record of the Write is written. A
// record the broker rejects as too large inside a batch with others is
// produced again alone before it is declared bad, so neighbours are not
// dead-lettered with it. Authorization failures are component.Permanent;
// SASL credentials the brokers refuse are a component.AuthError naming the
// user, the brokers and the username and password keys.
// Everything else (timeouts, lost connections, leader changes beyond
// franz-go's own retries) fails the Write, which the engine retries; the
// records already written are written again (at least once). A Write
// whose context ends first returns then, without waiting for the producer
// (which holds sent records until delivery_timeout): the engine's drain
// deadline bounds it.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/format"
	"github.com/sluice-dev/sluice/internal/kafkarec"
)

// Header names.
const (
	HeaderStream   = kafkarec.HeaderStream
	HeaderSource   = kafkarec.HeaderSource
	HeaderOp       = kafkarec.HeaderOp
	HeaderPosition = kafkarec.HeaderPosition
	HeaderTsMs     = kafkarec.HeaderTsMs
	// HeaderCommitLSN carries event.Source.CommitLSN (PostgreSQL), which the
	// Debezium envelope has no field for, so that events read back by
	// sluice's Kafka source keep their Seq (SQL sinks recognise replays by
	// it). Written only when set.
	HeaderCommitLSN = kafkarec.HeaderCommitLSN
)

// Factory is the registry entry for type: kafka.
var Factory = component.SinkFactory{
	Doc:    "Kafka topics, one per stream (Debezium naming and envelope), idempotent producer with acks=all",
	Config: func() any { return DefaultConfig() },
	New: func(cfg any, env component.Env) (component.Sink, error) {
		s, err := New(*cfg.(*Config))
		if err != nil {
			return nil, err
		}
		s.env = env
		return s, nil
	},
}

// Sink produces events to Kafka. Write and Close are called from one
// goroutine; the client is safe for the producer's own goroutines.
type Sink struct {
	cfg     Config
	env     component.Env // names the keys in messages
	cl      *kgo.Client
	adm     *kadm.Client
	known   map[string]error // topics created or found (nil), or why not
	builder kafkarec.Builder
	built   []kafkarec.Record
	recs    []*kgo.Record
	owner   []int // owner[i] is the event index of recs[i]
	badIdx  map[int]error
}

var _ component.Sink = (*Sink)(nil)

// New builds the producer; it does not connect: Connect (the engine calls it
// at start) or the first Write talks to the brokers.
func New(cfg Config) (*Sink, error) {
	if errs := cfg.Validate(); len(errs) > 0 {
		return nil, component.Permanent(fmt.Errorf("kafka sink: %w", errors.Join(errs...)))
	}
	enc, err := format.New(cfg.Options)
	if err != nil {
		return nil, err
	}
	opts, err := cfg.Conn.Options()
	if err != nil {
		return nil, component.Permanent(fmt.Errorf("kafka sink: %w", err))
	}
	codec, _ := compression(cfg.Compression)
	opts = append(opts,
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)), // nil: Kafka's murmur2
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerLinger(cfg.Linger),
		kgo.ProducerBatchMaxBytes(cfg.MaxMessageBytes),
		kgo.RecordDeliveryTimeout(cfg.DeliveryTimeout),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, component.Permanent(fmt.Errorf("kafka sink: %w", err))
	}
	s := &Sink{cfg: cfg, cl: cl, adm: kadm.NewClient(cl), known: map[string]error{}}
	s.builder = kafkarec.Builder{Topic: cfg.topic, TopicText: cfg.Topic, Enc: enc, Options: &s.cfg.Options,
		TombstonesOnDelete: cfg.TombstonesOnDelete, Headers: cfg.Headers}
	return s, nil
}

// Write implements component.Sink.
func (s *Sink) Write(ctx context.Context, events []event.Event) error {
	s.recs, s.owner, s.built = s.recs[:0], s.owner[:0], s.built[:0]
	s.badIdx = map[int]error{}
	for i := range events {
		if err := s.build(i, &events[i]); err != nil {
			s.badIdx[i] = err
		}
	}
	if err := s.ensureTopics(ctx); err != nil {
		return err
	}
	// Records of events already known bad are not produced.
	recs, owner := s.recs[:0:0], s.owner[:0:0]
	for i, r := range s.recs {
		if err, bad := s.badIdx[s.owner[i]]; bad && err != nil {
			continue
		}
		if err := s.known[r.Topic]; err != nil {
			s.badIdx[s.owner[i]] = err
			continue
		}
		recs, owner = append(recs, r), append(owner, s.owner[i])
	}
	errs, err := s.produce(ctx, recs)
	if err != nil {
		return fmt.Errorf("kafka sink: the write of %d records was cut short (%w); some may still land, and are written again", len(recs), err)
	}
	var transient error
	var again []int
	for i, err := range errs {
		if err == nil {
			continue
		}
		switch classify(err) {
		case permanent:
			if a, ok := s.cfg.Conn.Refused(err, "kafka sink", s.env); ok {
				return a
			}
			return component.Permanent(fmt.Errorf("kafka sink: topic %s: %w", recs[i].Topic, err))
		case perRecord:
			again = append(again, i)
		default:
			if transient == nil {
				transient = fmt.Errorf("kafka sink: produce to %s: %w", recs[i].Topic, err)
			}
		}
	}
	if transient != nil {
		return transient
	}
	// Records rejected one by one may have shared a batch with the one
	// that was really at fault: produce each alone to find out.
	for _, i := range again {
		recs[i].Partition, recs[i].Offset = 0, 0
		err := s.cl.ProduceSync(ctx, recs[i]).FirstErr()
		switch {
		case err == nil:
		case classify(err) == perRecord:
			if s.badIdx[owner[i]] == nil {
				s.badIdx[owner[i]] = fmt.Errorf("topic %s: %w", recs[i].Topic, err)
			}
		case classify(err) == permanent:
			if a, ok := s.cfg.Conn.Refused(err, "kafka sink", s.env); ok {
				return a
			}
			return component.Permanent(fmt.Errorf("kafka sink: topic %s: %w", recs[i].Topic, err))
		default:
			return fmt.Errorf("kafka sink: produce to %s: %w", recs[i].Topic, err)
		}
	}
	if len(s.badIdx) == 0 {
		return nil
	}
	var out component.RecordErrors
	for i := range events {
		if err := s.badIdx[i]; err != nil {
			out = append(out, component.RecordError{Index: i, Err: err})
		}
	}
	return out
}

// build appends the records of event i (kafkarec: Debezium's records of an
// event, shared with the topic-log sink).
func (s *Sink) build(i int, e *event.Event) error {
	var err error
	n := len(s.built)
	s.built, err = s.builder.Append(s.built, i, e)
	for _, r := range s.built[n:] {
		s.recs = append(s.recs, &kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: r.Headers})
		s.owner = append(s.owner, r.Event)
	}
	return err
}

// ensureTopics creates the topics of this Write that are not known yet.
func (s *Sink) ensureTopics(ctx context.Context) error {
	if !s.cfg.AutoCreateTopics {
		return nil
	}
	var missing []string
	seen := map[string]bool{}
	for _, r := range s.recs {
		if _, ok := s.known[r.Topic]; !ok && !seen[r.Topic] {
			seen[r.Topic] = true
			missing = append(missing, r.Topic)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	// Bounded like a produce, so an unreachable cluster fails the Write
	// (which the engine retries) instead of hanging it.
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DeliveryTimeout)
	defer cancel()
	resp, err := s.adm.CreateTopics(ctx, s.cfg.Partitions, s.cfg.ReplicationFactor, nil, missing...)
	if err != nil {
		if a, ok := s.cfg.Conn.Refused(err, "kafka sink", s.env); ok {
			return a
		}
		return classified(fmt.Errorf("kafka sink: create topics: %w", err))
	}
	for _, t := range missing {
		r, ok := resp[t]
		switch {
		case !ok:
			return fmt.Errorf("kafka sink: create topic %s: no answer from the broker", t)
		case r.Err == nil, errors.Is(r.Err, kerr.TopicAlreadyExists):
			s.known[t] = nil
		case classify(r.Err) == perRecord:
			s.known[t] = fmt.Errorf("create topic %s: %w", t, r.Err)
		default:
			return classified(fmt.Errorf("kafka sink: create topic %s: %w", t, r.Err))
		}
	}
	return nil
}

// produce produces recs and waits for every result; errs[i] is recs[i]'s.
// It returns ctx's error, without errs, when ctx ends first: the idempotent
// producer does not fail records it has sent until delivery_timeout, and a
// Write must not outlive its context (the engine cancels it at the end of
// the drain). Records still in flight may land later: the engine writes
// them again, at least once as always.
func (s *Sink) produce(ctx context.Context, recs []*kgo.Record) ([]error, error) {
	errs := make([]error, len(recs))
	var wg sync.WaitGroup
	wg.Add(len(recs))
	for i, r := range recs {
		s.cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			errs[i] = err
			wg.Done()
		})
	}
	// Send lingering batches now: the engine is waiting for this Write.
	_ = s.cl.Flush(ctx)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return errs, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type errClass int

const (
	transient errClass = iota
	perRecord
	permanent
)

// classify sorts a produce or admin error.
func classify(err error) errClass {
	switch {
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge),
		errors.Is(err, kerr.InvalidTopicException), errors.Is(err, kerr.InvalidRecord),
		errors.Is(err, kerr.PolicyViolation):
		return perRecord
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed),
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed), errors.Is(err, kerr.SaslAuthenticationFailed),
		errors.Is(err, kerr.UnsupportedSaslMechanism), errors.Is(err, kerr.InvalidReplicationFactor),
		errors.Is(err, kerr.InvalidPartitions):
		return permanent
	}
	return transient
}

func classified(err error) error {
	if classify(err) == permanent {
		return component.Permanent(err)
	}
	return err
}

// Close implements component.Sink: it flushes (bounded by ctx) and closes
// the client.
func (s *Sink) Close(ctx context.Context) error {
	err := s.cl.Flush(ctx)
	s.cl.Close()
	return err
}
