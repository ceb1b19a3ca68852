package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The kafka phase: sluice's snapshot of product into a Kafka topic (Debezium
// envelope, keyed, acks=all, idempotent) against the broker's own
// ProducerPerformance tool (kafka-producer-perf-test) sending the same number
// of records of the same average value size with the same acks, idempotence
// and batch size (1 MiB, franz-go's default batch cap). Both are timed from
// process start until the broker holds every record (sluice: the topic's end
// offsets; the tool: its exit after every send is acknowledged).

const kafkaBatchBytes = 1 << 20

var perfRE = regexp.MustCompile(`(\d+) records sent, ([0-9.]+) records/sec`)

func (b *bench) sinkKafka() error {
	const sec = "Sink: Kafka"
	brokers, err := b.startService("kafka.sh", nil, "SLUICE_KAFKA_BROKERS")
	if err != nil {
		return err
	}
	defer b.stopService("kafka.sh")
	// The counter asks for metadata on every poll: with the default minimum
	// age (5 s), a topic missing at the first poll stays missing in the
	// client's cache for 5 s whatever sluice did, which floored every run
	// of sluice at 5.1 s.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.MetadataMinAge(countPeriod))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	const topic = "src.public.product"
	count := func(ctx context.Context) (int64, error) {
		offs, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return 0, err
		}
		var n int64
		offs.Each(func(o kadm.ListedOffset) {
			if o.Err == nil {
				n += o.Offset
			}
		})
		return n, nil
	}
	if b.sluiceBin == "" {
		return fmt.Errorf("sluice did not build; nothing to compare")
	}
	sink := fmt.Sprintf(`  topics:
    type: kafka
    inputs: [src]
    brokers: [%s]
    format: debezium
    partitions: 1
    compression: none
`, strconv.Quote(brokers))
	rate, rss, cpu, err := b.sluiceIntoCPU("kafka", sink, count)
	if err != nil {
		return err
	}
	cpuRow := float64(cpu.Microseconds()) / float64(b.p.Rows)
	fmt.Fprintf(os.Stderr, "sluice-bench: sluice kafka: CPU %s, %.2f µs/row\n", cpu.Round(time.Millisecond), cpuRow)
	// The average value size of what sluice wrote, for the tool.
	avg, err := b.averageValueSize(brokers, topic)
	if err != nil {
		return err
	}
	lib := filepath.Join(cacheDir(), "kafka", kafkaVersion(), "lib")
	if err := b.checkpoint(); err != nil {
		return err
	}
	logPath := filepath.Join(b.work, "perf.log")
	out, err := os.Create(filepath.Join(b.work, "perf.out"))
	if err != nil {
		return err
	}
	defer out.Close()
	c, err := b.procs.start("java", out, logPath, nil, "-Xmx512m", "-cp", lib+"/*", "org.apache.kafka.tools.ProducerPerformance",
		"--topic", "bench_perf", "--num-records", strconv.Itoa(b.p.Rows), "--record-size", strconv.Itoa(avg), "--throughput", "-1",
		"--producer-props", "bootstrap.servers="+brokers, "acks=all", "enable.idempotence=true",
		"batch.size="+strconv.Itoa(kafkaBatchBytes), "linger.ms=5", "compression.type=none")
	if err != nil {
		return err
	}
	c.name = "ProducerPerformance"
	if err := c.wait(b.ctx, b.deadline(b.p.Rows, 2_000)); err != nil {
		return fmt.Errorf("ProducerPerformance: %w: %s", err, tailFile(logPath, 1000))
	}
	d := c.exited.Sub(c.started)
	text, _ := os.ReadFile(out.Name())
	m := perfRE.FindAllSubmatch(text, -1)
	if len(m) == 0 {
		return fmt.Errorf("ProducerPerformance printed no summary: %s", tailFile(out.Name(), 1000))
	}
	own, _ := strconv.ParseFloat(string(m[len(m)-1][2]), 64)
	base := float64(b.p.Rows) / d.Seconds()
	fmt.Fprintf(os.Stderr, "sluice-bench: ProducerPerformance: %.0f records/s wall (%s), %.0f by its own clock; %d-byte values\n", base, d.Round(time.Millisecond), own, avg)
	b.rep.add(sec, "sinks.kafka.value_bytes", "average value size (both)", float64(avg), "B")
	b.rep.add(sec, "sinks.kafka.perf_own_per_s", "ProducerPerformance by its own clock (excludes JVM start)", own, "msgs/s")
	b.rep.add(sec, "sinks.kafka.cpu_us_per_row", "sluice CPU time (user+sys) per row (PostgreSQL snapshot, encoding, produce)", cpuRow, "µs")
	b.addSinkFigures(sec, "kafka", "msgs/s", base, rate, rss, "ProducerPerformance msgs/s (wall, same size, acks=all, 1 MiB batches)", 0.8)
	return nil
}

// averageValueSize reads the topic back and returns its mean value size.
func (b *bench) averageValueSize(brokers, topic string) (int, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(b.ctx, b.deadline(b.p.Rows, 20_000))
	defer cancel()
	var n, bytes int64
	for n < int64(b.p.Rows) {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			return 0, fmt.Errorf("reading %s back: %w", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			n++
			bytes += int64(len(r.Value))
		})
	}
	return int((bytes + n/2) / n), nil
}

func cacheDir() string {
	if d := os.Getenv("SLUICE_CACHE"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "sluice")
}

func kafkaVersion() string {
	if v := os.Getenv("SLUICE_KAFKA_VERSION"); v != "" {
		return v
	}
	return "3.9.2"
}
