package kafka

import (
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/format"
	"github.com/sluice-dev/sluice/internal/kafkautil"
	"github.com/sluice-dev/sluice/internal/tmpl"
)

// Config is the Kafka sink's configuration.
type Config struct {
	kafkautil.Conn `yaml:",inline"`
	// Topic is the topic template (internal/tmpl); the default
	// "${stream}" is Debezium's <topic.prefix>.<schema>.<table>, the prefix
	// being the source's name.
	Topic          string `yaml:"topic"`
	format.Options `yaml:",inline"`
	// TombstonesOnDelete writes a null-valued record with the same key after
	// every delete (Debezium's tombstones.on.delete, default true), so that
	// log compaction can drop the key.
	TombstonesOnDelete bool `yaml:"tombstones_on_delete"`
	// Headers adds the sluice.* headers to every record (default true).
	Headers bool `yaml:"headers"`
	// AutoCreateTopics creates missing topics with Partitions and
	// ReplicationFactor before the first write to them (default true).
	AutoCreateTopics  bool  `yaml:"auto_create_topics"`
	Partitions        int32 `yaml:"partitions"`
	ReplicationFactor int16 `yaml:"replication_factor"` // -1: the broker's default
	// Compression is none, gzip, snappy, lz4 or zstd.
	Compression string `yaml:"compression"`
	// Linger is how long the producer waits to fill a batch inside one
	// Write (the end of a Write flushes at once).
	Linger time.Duration `yaml:"linger"`
	// MaxMessageBytes caps one record batch, hence one record, before
	// compression (Kafka's max.request.size / max.message.bytes). A larger
	// record is rejected one by one (a dead letter), not retried.
	MaxMessageBytes int32 `yaml:"max_message_bytes"`
	// DeliveryTimeout bounds how long a record may wait for the broker
	// before the Write fails (and is retried by the engine).
	DeliveryTimeout time.Duration `yaml:"delivery_timeout"`

	topic *tmpl.Template
}

// DefaultConfig returns the defaults.
func DefaultConfig() *Config {
	return &Config{
		Conn:               kafkautil.DefaultConn(),
		Topic:              "${stream}",
		Options:            format.DefaultOptions(),
		TombstonesOnDelete: true,
		Headers:            true,
		AutoCreateTopics:   true,
		Partitions:         1,
		ReplicationFactor:  -1,
		Compression:        "none",
		Linger:             5 * time.Millisecond,
		MaxMessageBytes:    1 << 20,
		DeliveryTimeout:    time.Minute,
	}
}

// Validate implements component.Validator.
func (c *Config) Validate() []error {
	errs := c.Conn.Validate()
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
	if c.Partitions < 1 {
		errs = append(errs, &component.FieldError{Field: "partitions", Msg: "must be at least 1"})
	}
	if c.ReplicationFactor == 0 || c.ReplicationFactor < -1 {
		errs = append(errs, &component.FieldError{Field: "replication_factor", Msg: "must be positive, or -1 for the broker's default"})
	}
	if _, err := compression(c.Compression); err != nil {
		errs = append(errs, &component.FieldError{Field: "compression", Msg: err.Error(), Hint: "none, gzip, snappy, lz4 or zstd"})
	}
	if c.Linger < 0 {
		errs = append(errs, &component.FieldError{Field: "linger", Msg: "must not be negative"})
	}
	if c.MaxMessageBytes < 512 || c.MaxMessageBytes > 1<<30 {
		errs = append(errs, &component.FieldError{Field: "max_message_bytes", Msg: "must be between 512 and 1073741824"})
	}
	if c.DeliveryTimeout <= 0 {
		errs = append(errs, &component.FieldError{Field: "delivery_timeout", Msg: "must be positive"})
	}
	return errs
}

func compression(s string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(s) {
	case "", "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	}
	return kgo.NoCompression(), fmt.Errorf("unknown compression %q", s)
}
