package registry

import (
	"github.com/sluice-dev/sluice/component"
	kafkasink "github.com/sluice-dev/sluice/sink/kafka"
	kafkasource "github.com/sluice-dev/sluice/source/kafka"
)

// addKafka registers the Kafka source and sink.
func addKafka(r component.Registry) {
	r.Sinks["kafka"] = kafkasink.Factory
	r.Sources["kafka"] = kafkasource.Factory
}
