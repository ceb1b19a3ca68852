package s3

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/format"
)

// Parquet is the format name of columnar objects; every other format name
// is one of format.Options' JSON-lines formats.
const Parquet = "parquet"

// Compression codecs for Parquet objects.
var compressions = []string{"snappy", "zstd", "gzip", "none"}

// DefaultPartition is the default partition template: Kafka Connect's
// TimeBasedPartitioner layout under a directory per stream.
const DefaultPartition = "${stream}/dt=${date}/hour=${hour}"

// Config is the S3 sink's configuration. Names follow the Kafka Connect S3
// sink's options (s3.bucket.name, flush.size, rotate.interval.ms, ...) in
// sluice's snake_case.
type Config struct {
	// Bucket receives the objects; it must exist.
	Bucket string `yaml:"bucket"`
	// Prefix is prepended to every object key ("" for none; no leading or
	// trailing slash needed). Object names derive from stream, partition and
	// positions only, so two sinks writing the same streams in the same
	// format to one bucket need different prefixes.
	Prefix string `yaml:"prefix"`
	// Region is the bucket's region (default us-east-1 when neither this nor
	// the AWS environment sets one).
	Region string `yaml:"region"`
	// Endpoint is the S3 API's base URL for S3-compatible servers
	// (MinIO, versitygw, Ceph, R2); empty means AWS.
	Endpoint string `yaml:"endpoint"`
	// PathStyle addresses buckets as <endpoint>/<bucket> instead of
	// <bucket>.<endpoint>; most S3-compatible servers need it.
	PathStyle bool `yaml:"path_style"`
	// CAFile is a PEM file of the CA certificates that verify an HTTPS
	// endpoint's certificate, for a server whose CA is not the system's.
	CAFile string `yaml:"ca_file"`
	// AccessKeyID and SecretAccessKey are static credentials; when both are
	// empty the AWS SDK's default credential chain is used (environment,
	// shared config, web identity, instance role). Neither is ever logged or
	// put in an error; write them as ${ENV} references in pipeline files.
	AccessKeyID     string `yaml:"access_key_id"`
	SecretAccessKey string `yaml:"secret_access_key" sluice:"secret"`

	// Format is parquet or a JSON-lines format of format.Options (debezium,
	// debezium+schema, row; with unwrap for row).
	format.Options `yaml:",inline"`
	// Compression of Parquet pages: snappy (default), zstd, gzip or none.
	Compression string `yaml:"compression"`

	// Partition is the object directory template, rendered from the event's
	// metadata and its source commit time (UTC): ${stream}, ${source},
	// ${database}, ${schema}, ${table}, ${date} (YYYY-MM-DD), ${year},
	// ${month}, ${day}, ${hour}, ${minute}. The pipeline loader leaves these
	// names to the sink (they are never environment variables).
	Partition string `yaml:"partition"`

	// FlushSize closes an object after this many records (Kafka Connect's
	// flush.size); 0 means no count limit.
	FlushSize int `yaml:"flush_size"`
	// RotateBytes closes an object once its encoded records reach this many
	// bytes; 0 means no size limit.
	RotateBytes int64 `yaml:"rotate_bytes"`
	// RotateInterval closes an object when a record of its stream arrives
	// whose commit time is this much later than the object's first record
	// (Kafka Connect's rotate.interval.ms). It is event time, so a replay
	// cuts the same objects; 0 disables it.
	RotateInterval time.Duration `yaml:"rotate_interval"`
	// RotateScheduleInterval closes every object this long (wall clock)
	// after it was opened, even when its stream is idle (Kafka Connect's
	// rotate.schedule.interval.ms; default 10m, so that the changes of a
	// quiet stream reach the bucket without waiting for flush_size); 0
	// disables it.
	RotateScheduleInterval time.Duration `yaml:"rotate_schedule_interval"`

	// PartSize is the multipart upload's part size (at least 5 MiB, S3's
	// minimum).
	PartSize int64 `yaml:"part_size"`
	// MultipartThreshold: objects at least this large are uploaded in parts,
	// smaller ones with one PutObject (default: PartSize).
	MultipartThreshold int64 `yaml:"multipart_threshold"`
	// UploadConcurrency is the number of parts uploaded at once.
	UploadConcurrency int `yaml:"upload_concurrency"`
}

const minPartSize = 5 << 20

// DefaultConfig returns the defaults.
func DefaultConfig() *Config {
	return &Config{
		Options:                format.DefaultOptions(),
		Compression:            "snappy",
		Partition:              DefaultPartition,
		FlushSize:              10000,
		RotateBytes:            256 << 20,
		RotateScheduleInterval: 10 * time.Minute,
		PartSize:               16 << 20,
		UploadConcurrency:      4,
	}
}

// Validate implements component.Validator.
func (c *Config) Validate() []error {
	var errs []error
	add := func(field, msg, hint string) {
		errs = append(errs, &component.FieldError{Field: field, Msg: msg, Hint: hint})
	}
	if c.Bucket == "" {
		add("bucket", "is required", "bucket: my-data-lake")
	} else if strings.ContainsAny(c.Bucket, "/ ") {
		add("bucket", fmt.Sprintf("%q is not a bucket name", c.Bucket), "a bucket name has no slash or space; put directories in prefix")
	}
	if c.CAFile != "" {
		if _, err := os.Stat(c.CAFile); err != nil {
			add("ca_file", err.Error(), "a PEM file of CA certificates")
		}
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		add("access_key_id", "access_key_id and secret_access_key go together", "set both, or neither to use the AWS credential chain")
	}
	if c.Format == Parquet {
		if !contains(compressions, c.Compression) {
			add("compression", fmt.Sprintf("%q is not a compression", c.Compression), "use "+strings.Join(compressions, ", "))
		}
	} else {
		if _, err := format.New(c.Options); err != nil {
			add("format", err.Error(), "or use parquet")
		}
		if c.Compression != "" && c.Compression != "snappy" && c.Compression != "none" {
			add("compression", "applies to parquet only", "remove it, or set format: parquet")
		}
	}
	if _, err := parsePartition(c.Partition); err != nil {
		add("partition", err.Error(), "e.g. "+DefaultPartition)
	}
	if c.FlushSize < 0 {
		add("flush_size", "must not be negative", "0 disables count rotation")
	}
	if c.RotateBytes < 0 {
		add("rotate_bytes", "must not be negative", "0 disables size rotation")
	}
	if c.RotateInterval < 0 {
		add("rotate_interval", "must not be negative", "0 disables event-time rotation")
	}
	if c.RotateScheduleInterval < 0 {
		add("rotate_schedule_interval", "must not be negative", "0 disables wall-clock rotation")
	}
	if c.FlushSize == 0 && c.RotateBytes == 0 && c.RotateInterval == 0 && c.RotateScheduleInterval == 0 {
		add("flush_size", "no rotation is configured, so no object would ever be closed before shutdown", "set flush_size, rotate_bytes, rotate_interval or rotate_schedule_interval")
	}
	if c.PartSize < minPartSize {
		add("part_size", fmt.Sprintf("%d is below S3's minimum part size of 5 MiB", c.PartSize), "part_size: 16777216")
	}
	if c.MultipartThreshold < 0 {
		add("multipart_threshold", "must not be negative", "0 means part_size")
	}
	if c.UploadConcurrency < 1 {
		add("upload_concurrency", "must be at least 1", "upload_concurrency: 4")
	}
	return errs
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

// Factory is the registry entry for type: s3.
var Factory = component.SinkFactory{
	Doc:    "objects in an S3 bucket (JSON lines or Parquet), partitioned by stream and commit time, named by source positions",
	Config: func() any { return DefaultConfig() },
	New: func(cfg any, env component.Env) (component.Sink, error) {
		return New(*cfg.(*Config), env)
	},
}
