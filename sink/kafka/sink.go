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
// # Pipelined produce
//
// Write builds and produces its events in chunks of 512: the producer sends
// the records of one chunk (batches up to max_message_bytes, linger) while
// the next chunk is encoded, so encoding overlaps the network and the
// broker instead of preceding them. Order is Write order on every partition
// (records are produced in order; the idempotent producer keeps it with up
// to five requests in flight), and Write still returns nil only when every
// record of every chunk is acknowledged: a failed record of any chunk fails
// the Write (or is a record error), and the engine acknowledges none of its
// events. Keys, values and headers are built into one arena
// (kafkarec.Arena) and kgo.Records of one slab, which the next Write reuses
// only when every record of this one has had its produce result (the
// producer no longer reads them); a Write cut short leaves them to the
// records still in flight and the next one starts afresh. A record thus
// costs no allocation of its own but the producer's.
//
// # Errors
//
// A record that can never be written — larger than max_message_bytes, an
// invalid topic name, a value the encoder rejects, a topic template that
// cannot be rendered — is reported in component.RecordErrors (so the engine
// dead-letters it) while every other record of the Write is written. A
// record the broker rejects as too large inside a batch with others is
// produced again alone before it is declared bad, so neighbours are not
// dead-lettered with it. Such a rejection fails every record of the
// partition then buffered or in flight, while records of later chunks land
// before the rejected ones are produced again: so once a rejected record
// lands again, every later record of the Write on its partition is
// produced again after it, in Write order (written twice: at least once),
// and every partition still ends in Write order (a compacted topic keeps
// each key's last change). Authorization failures are component.Permanent;
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
	built   []kafkarec.Record // the records of one chunk
	recs    []*kgo.Record     // the records produced by this Write
	owner   []int             // owner[i] is the event index of recs[i]
	badIdx  map[int]error
	round   *round // the last Write's records
}

// chunkEvents is how many events Write builds before it hands their records
// to the producer, which sends them while the next chunk is built: encoding
// overlaps the network and the broker instead of preceding them. A variable
// for tests.
var chunkEvents = 512

// afterChunk, when set (tests), is called after each chunk of a Write is
// handed to the producer, with the number of records produced so far.
var afterChunk func(produced int)

// round holds the records of one Write until the producer is done with
// them: their bytes (an arena), the kgo.Records themselves, and the
// produce results. Its memory serves the next Write only when every
// promise of this one has returned (complete); a Write cut short leaves
// its round to the records still in flight and the next Write starts a new
// one.
type round struct {
	wg       sync.WaitGroup
	mu       sync.Mutex
	failed   map[*kgo.Record]error // the produce errors, rare
	promise  func(*kgo.Record, error)
	arena    kafkarec.Arena
	slabs    [][]kgo.Record // filled since reset; never moved
	slab     int            // slabs[slab] is being filled
	complete bool
}

const slabRecords = 1024

func newRound() *round {
	rd := &round{}
	rd.promise = func(r *kgo.Record, err error) {
		if err != nil {
			rd.mu.Lock()
			if rd.failed == nil {
				rd.failed = map[*kgo.Record]error{}
			}
			rd.failed[r] = err
			rd.mu.Unlock()
		}
		rd.wg.Done()
	}
	return rd
}

func (rd *round) reset() {
	rd.arena.Reset()
	for i := range rd.slabs[:min(rd.slab+1, len(rd.slabs))] {
		clear(rd.slabs[i]) // drop the references to the last Write's bytes
		rd.slabs[i] = rd.slabs[i][:0]
	}
	rd.slab, rd.failed, rd.complete = 0, nil, false
}

// record returns a zeroed record that stays where it is until reset.
func (rd *round) record() *kgo.Record {
	if len(rd.slabs) == 0 {
		rd.slabs = append(rd.slabs, make([]kgo.Record, 0, slabRecords))
	}
	if len(rd.slabs[rd.slab]) == slabRecords {
		rd.slab++
		if rd.slab == len(rd.slabs) {
			rd.slabs = append(rd.slabs, make([]kgo.Record, 0, slabRecords))
		}
	}
	sl := rd.slabs[rd.slab]
	sl = sl[:len(sl)+1]
	rd.slabs[rd.slab] = sl
	return &sl[len(sl)-1]
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

// Write implements component.Sink. It builds and produces the events chunk
// by chunk (chunkEvents), so the producer sends the records of one chunk
// while the next is encoded, then waits for every record's result: it
// returns nil only when all are on every in-sync replica.
func (s *Sink) Write(ctx context.Context, events []event.Event) error {
	if s.round == nil || !s.round.complete {
		s.round = newRound() // the last one's records may still be in flight
	} else {
		s.round.reset()
	}
	rd := s.round
	s.builder.Arena = &rd.arena
	clear(s.recs)
	s.recs, s.owner = s.recs[:0], s.owner[:0]
	s.badIdx = map[int]error{}
	for start := 0; start < len(events); start += chunkEvents {
		s.built = s.built[:0]
		for i := start; i < min(start+chunkEvents, len(events)); i++ {
			if err := s.build(i, &events[i]); err != nil {
				s.badIdx[i] = err
			}
		}
		if err := s.ensureTopics(ctx, s.built); err != nil {
			// Records of earlier chunks may be in flight: they may land,
			// and the engine writes them again (at least once).
			return err
		}
		// Records of events already known bad are not produced.
		n := len(s.recs)
		for i := range s.built {
			r := &s.built[i]
			if err, bad := s.badIdx[r.Event]; bad && err != nil {
				continue
			}
			if err := s.known[r.Topic]; err != nil {
				s.badIdx[r.Event] = err
				continue
			}
			kr := rd.record()
			*kr = kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: r.Headers}
			s.recs, s.owner = append(s.recs, kr), append(s.owner, r.Event)
		}
		rd.wg.Add(len(s.recs) - n)
		for _, kr := range s.recs[n:] {
			s.cl.Produce(ctx, kr, rd.promise)
		}
		if afterChunk != nil {
			afterChunk(len(s.recs))
		}
	}
	recs, owner := s.recs, s.owner
	if err := s.wait(ctx, rd); err != nil {
		return fmt.Errorf("kafka sink: the write of %d records was cut short (%w); some may still land, and are written again", len(recs), err)
	}
	var transient error
	var again []int
	for i, r := range recs {
		err := rd.failed[r]
		if err == nil {
			continue
		}
		switch classify(err) {
		case permanent:
			if a, ok := s.cfg.Conn.Refused(err, "kafka sink", s.env); ok {
				return a
			}
			return component.Permanent(fmt.Errorf("kafka sink: topic %s: %w", r.Topic, err))
		case perRecord:
			again = append(again, i)
		default:
			if transient == nil {
				transient = fmt.Errorf("kafka sink: produce to %s: %w", r.Topic, err)
			}
		}
	}
	if transient != nil {
		return transient
	}
	if len(again) > 0 {
		if err := s.produceAgain(ctx, recs, owner, again); err != nil {
			return err
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

// produceAgain produces again, each alone, the records the broker rejected
// as too large (again: indexes into recs, ascending): they may have shared a
// batch with the one really at fault, so only a record rejected on its own
// is a record error (s.badIdx). A rejected batch fails every record of its
// partition then buffered or in flight (franz-go's finishBatch fails the
// partition's whole buffer), but the records of later chunks, produced after
// that answer, land before the rejected ones are produced again. So once a
// rejected record lands again, every later record of the Write on its
// partition is produced again after it, in Write order (landed twice: at
// least once), and the partition ends in Write order.
func (s *Sink) produceAgain(ctx context.Context, recs []*kgo.Record, owner []int, again []int) error {
	type topicPartition struct {
		topic     string
		partition int32
	}
	alone := make(map[int]bool, len(again))
	var parts []topicPartition // in order of their first rejected record
	first := map[topicPartition]int{}
	for _, i := range again {
		alone[i] = true
		tp := topicPartition{recs[i].Topic, recs[i].Partition}
		if _, ok := first[tp]; !ok {
			first[tp] = i
			parts = append(parts, tp)
		}
	}
	lists := make(map[topicPartition][]int, len(parts))
	for i, r := range recs {
		tp := topicPartition{r.Topic, r.Partition}
		if f, ok := first[tp]; ok && i >= f {
			lists[tp] = append(lists[tp], i)
		}
	}
	// failed sorts the error of record i produced again: nil when it is
	// written or a record error, else the error that fails the Write.
	failed := func(i int, err error) error {
		switch classify(err) {
		case perRecord:
			if s.badIdx[owner[i]] == nil {
				s.badIdx[owner[i]] = fmt.Errorf("topic %s: %w", recs[i].Topic, err)
			}
			return nil
		case permanent:
			if a, ok := s.cfg.Conn.Refused(err, "kafka sink", s.env); ok {
				return a
			}
			return component.Permanent(fmt.Errorf("kafka sink: topic %s: %w", recs[i].Topic, err))
		}
		return fmt.Errorf("kafka sink: produce to %s: %w", recs[i].Topic, err)
	}
	var run []*kgo.Record
	for _, tp := range parts {
		list := lists[tp]
		late := false // a record landed out of order: all later ones follow it again
		for len(list) > 0 {
			if i := list[0]; alone[i] {
				recs[i].Partition, recs[i].Offset = 0, 0
				if err := s.cl.ProduceSync(ctx, recs[i]).FirstErr(); err != nil {
					if err := failed(i, err); err != nil {
						return err
					}
				} else {
					late = true
				}
				list = list[1:]
				continue
			}
			n := 1
			for n < len(list) && !alone[list[n]] {
				n++
			}
			if !late { // landed in order the first time
				list = list[n:]
				continue
			}
			run = run[:0]
			for _, i := range list[:n] {
				recs[i].Partition, recs[i].Offset = 0, 0
				run = append(run, recs[i])
			}
			errs := map[*kgo.Record]error{}
			for _, res := range s.cl.ProduceSync(ctx, run...) {
				if res.Err != nil {
					errs[res.Record] = res.Err
				}
			}
			f := 0
			for f < n && errs[recs[list[f]]] == nil {
				f++
			}
			if f < n {
				err := errs[recs[list[f]]]
				if classify(err) != perRecord {
					return failed(list[f], err)
				}
				// Batched differently than the first time: produce
				// it alone, then again everything after it.
				alone[list[f]] = true
			}
			list = list[f:]
		}
	}
	return nil
}

// build appends the records of event i to s.built (kafkarec: Debezium's
// records of an event, shared with the topic-log sink).
func (s *Sink) build(i int, e *event.Event) error {
	var err error
	s.built, err = s.builder.Append(s.built, i, e)
	return err
}

// ensureTopics creates the topics of recs that are not known yet.
func (s *Sink) ensureTopics(ctx context.Context, recs []kafkarec.Record) error {
	if !s.cfg.AutoCreateTopics {
		return nil
	}
	var missing []string
	var seen map[string]bool
	last := ""
	for i := range recs {
		t := recs[i].Topic
		if t == last {
			continue
		}
		last = t
		if _, ok := s.known[t]; !ok && !seen[t] {
			if seen == nil {
				seen = map[string]bool{}
			}
			seen[t] = true
			missing = append(missing, t)
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

// wait flushes the producer and waits for the result of every record of
// rd. It returns ctx's error when ctx ends first: the idempotent producer
// does not fail records it has sent until delivery_timeout, and a Write
// must not outlive its context (the engine cancels it at the end of the
// drain). Records still in flight may land later: the engine writes them
// again, at least once as always.
func (s *Sink) wait(ctx context.Context, rd *round) error {
	// Send lingering batches now: the engine is waiting for this Write.
	_ = s.cl.Flush(ctx)
	done := make(chan struct{})
	go func() { rd.wg.Wait(); close(done) }()
	select {
	case <-done:
		rd.complete = true
		return nil
	case <-ctx.Done():
		return ctx.Err()
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
