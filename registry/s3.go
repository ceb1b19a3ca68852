package registry

import (
	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/sink/s3"
)

// addS3Sinks registers the S3 sink.
func addS3Sinks(m map[string]component.SinkFactory) {
	m["s3"] = s3.Factory
}
